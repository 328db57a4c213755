/*
 * airlock hook: install airlock into the hook points of other tools.  Each
 * kind of hook is a subcommand in the table below (git's pre-commit today;
 * agent hooks can be added beside it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "gitcli.h"
#include "hookagent.h"

extern char **environ;

const char cmd_hook_help[] =
"usage: airlock hook install [--force]\n"
"       airlock hook uninstall\n"
"       airlock hook status\n"
"       airlock hook claude|codex|cursor   (run by the agent; input on stdin)\n"
"\n"
"Manage the git pre-commit hook that runs `airlock scan --staged`, so a\n"
"commit that adds a hardcoded secret is stopped before it exists.\n"
"\n"
"install    write the hook into the repository's hooks directory (as git\n"
"           resolves it: core.hooksPath is honoured).  A pre-commit hook\n"
"           that is already there is kept as pre-commit.pre-airlock and\n"
"           runs first; installing twice refreshes airlock's hook.\n"
"           --force replaces an earlier pre-commit.pre-airlock.\n"
"uninstall  remove airlock's hook and put the previous one back.\n"
"status     say whether the hook is installed (exit 0) or not (exit 1).\n"
"\n"
"The hook runs this airlock binary by its absolute path ($AIRLOCK\n"
"overrides it); if airlock is gone the hook blocks the commit and says so.\n"
"Bypass it for one commit with `git commit --no-verify`.\n"
"\n"
"claude, codex, cursor: the agent hook command that `airlock agent setup`\n"
"wires into each agent.  It reads the agent's hook input (JSON) on stdin\n"
"and denies a tool call whose input holds a live secret value or a\n"
"hardcoded secret (pointing to `airlock run`), replaces a tool's output\n"
"holding one with the redacted output, blocks such a prompt (telling the\n"
"user to `airlock secret add` it), marks a known secret that reached the\n"
"agent as exposed and audits it.  It fails closed: on an internal error\n"
"it blocks and says why.  See docs/agents.md.\n"
"\n"
"Exit status: 0 done, 1 not installed (status), 2 error (not a git\n"
"repository, a hook that cannot be moved).\n";

#define HOOK_MARK "# installed by airlock hook install"
#define HOOK_SAVED "pre-commit.pre-airlock"

struct hook_sub {
	const char	*name;
	int		(*run)(struct cli *cli, int argc, char **argv);
};

/* The hooks directory git uses here (core.hooksPath honoured). */
static int
hooks_dir(char *out, size_t outsz, struct al_err *err)
{
	char *const argv[] = { "git", "rev-parse", "--path-format=absolute",
	    "--git-path", "hooks", NULL };

	return cli_git_line(argv, out, outsz, 0, err);
}

static int
is_ours(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, HOOK_MARK) != NULL;
}

/* Write the hook script to path (through a temporary file and rename). */
static int
write_hook(const char *path, const char *self, struct al_err *err)
{
	struct al_buf b;
	char tmp[PATH_MAX];
	const char *p;
	int fd = -1, rc = 0, n;

	al_buf_init(&b, 64 * 1024, 0);
	/* The binary's path in single quotes, each ' written as '\''. */
	if (al_buf_printf(&b, "#!/bin/sh\n%s: block commits that add "
	    "hardcoded secrets.\n# A pre-commit hook that was here before "
	    "runs first, as %s.\nhookdir=$(dirname \"$0\")\n"
	    "if [ -x \"$hookdir/%s\" ]; then\n"
	    "\t\"$hookdir/%s\" \"$@\" || exit $?\nfi\nAIRLOCK=${AIRLOCK:-'",
	    HOOK_MARK, HOOK_SAVED, HOOK_SAVED, HOOK_SAVED) != 0)
		goto nomem;
	for (p = self; *p; p++)
		if ((*p == '\'' ? al_buf_puts(&b, "'\\''") :
		    al_buf_putc(&b, *p)) != 0)
			goto nomem;
	if (al_buf_puts(&b, "'}\nif [ ! -x \"$AIRLOCK\" ]; then\n"
	    "\tAIRLOCK=$(command -v airlock) || {\n"
	    "\t\techo \"airlock: not found; commit blocked (install airlock, "
	    "or bypass once with git commit --no-verify)\" >&2\n"
	    "\t\texit 1\n\t}\nfi\n\"$AIRLOCK\" scan --staged\nrc=$?\n"
	    "if [ $rc -eq 1 ]; then\n"
	    "\techo \"airlock: commit blocked: the staged changes add what is "
	    "listed above. Keep a secret in the vault (airlock secret add) and "
	    "use it through airlock run; a false positive: put airlock:allow "
	    "on its line, or accept it in a baseline (airlock scan "
	    "--write-baseline); bypass once: git commit --no-verify\" >&2\n"
	    "fi\nexit $rc\n") != 0)
		goto nomem;
	n = snprintf(tmp, sizeof(tmp), "%s.airlock-tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return al_err_set(err, AL_ETOOBIG, "path too long: %s", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0755)) == -1 || write(fd, b.data, b.len) !=
	    (ssize_t)b.len || fchmod(fd, 0755) == -1 || fsync(fd) == -1) {
		rc = al_err_set(err, AL_EIO, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (rename(tmp, path) == -1)
		rc = al_err_set(err, AL_EIO, "cannot install %s: %s", path,
		    strerror(errno));
	goto out;
nomem:
	rc = al_err_set(err, AL_ENOMEM, "out of memory");
out:
	if (fd != -1)
		(void)close(fd);
	if (rc != 0 && fd != -1)
		(void)unlink(tmp);
	al_buf_release(&b);
	return rc;
}

static int
hook_paths(char *dir, char *hook, char *saved, struct al_err *err)
{
	if (hooks_dir(dir, PATH_MAX, err) != 0)
		return -1;
	if (al_path_join(hook, PATH_MAX, dir, "pre-commit") != 0 ||
	    al_path_join(saved, PATH_MAX, dir, HOOK_SAVED) != 0) {
		(void)al_err_set(err, AL_ETOOBIG, "hooks path too long");
		return -1;
	}
	return 0;
}

static int
hook_install(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], hook[PATH_MAX], saved[PATH_MAX], self[PATH_MAX];
	struct stat st;
	struct al_err err;
	ssize_t n;
	int force = 0, i, kept = 0;

	(void)cli;
	al_err_clear(&err);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else
			return cli_usage("hook", "unknown argument '%s' for "
			    "hook install", argv[i]);
	}
	if (hook_paths(dir, hook, saved, &err) != 0)
		return cli_fail(&err);
	/*
	 * A hooks directory the repository tracks (husky, lefthook: shared
	 * with everyone): this machine's binary path must not go into it.
	 */
	{
		char *const ls[] = { "git", "ls-files", "--", dir, NULL };
		char any[PATH_MAX];

		if (cli_git_line(ls, any, sizeof(any), 1, NULL) == 0) {
			al_msg(stderr, "hook", "%s is tracked by git (shared by "
			    "everyone who clones it): nothing written; add "
			    "this line to its pre-commit hook instead:", dir);
			puts("airlock scan --staged");
			return CLI_EXIT_OK;
		}
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return cli_failf("cannot find the airlock binary: %s",
		    strerror(errno));
	self[n] = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return cli_failf("cannot create %s: %s", dir, strerror(errno));
	if (lstat(hook, &st) == 0 && !is_ours(hook)) {
		if (lstat(saved, &st) == 0 && !force)
			return cli_failf("%s exists and so does %s; move one "
			    "away or use --force to replace %s", hook, saved,
			    saved);
		if (rename(hook, saved) == -1)
			return cli_failf("cannot move %s to %s: %s", hook,
			    saved, strerror(errno));
		kept = 1;
	}
	if (write_hook(hook, self, &err) != 0)
		return cli_fail(&err);
	fprintf(stderr, "airlock: installed the pre-commit hook in %s%s%s\n",
	    hook, kept ? "; the previous hook runs first as " : "",
	    kept ? HOOK_SAVED : "");
	return CLI_EXIT_OK;
}

static int
hook_uninstall(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], hook[PATH_MAX], saved[PATH_MAX];
	struct stat st;
	struct al_err err;

	(void)cli;
	al_err_clear(&err);
	if (argc > 1)
		return cli_usage("hook", "unexpected argument '%s'", argv[1]);
	if (hook_paths(dir, hook, saved, &err) != 0)
		return cli_fail(&err);
	if (!is_ours(hook)) {
		fprintf(stderr, "airlock: no airlock pre-commit hook in %s\n",
		    dir);
		return CLI_EXIT_OK;
	}
	if (unlink(hook) == -1)
		return cli_failf("cannot remove %s: %s", hook, strerror(errno));
	if (lstat(saved, &st) == 0 && rename(saved, hook) == -1)
		return cli_failf("cannot restore %s: %s", saved,
		    strerror(errno));
	fprintf(stderr, "airlock: removed the pre-commit hook from %s\n", dir);
	return CLI_EXIT_OK;
}

static int
hook_status(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], hook[PATH_MAX], saved[PATH_MAX];
	struct al_err err;

	(void)cli;
	al_err_clear(&err);
	if (argc > 1)
		return cli_usage("hook", "unexpected argument '%s'", argv[1]);
	if (hook_paths(dir, hook, saved, &err) != 0)
		return cli_fail(&err);
	if (is_ours(hook)) {
		printf("pre-commit: installed (%s)\n", hook);
		return CLI_EXIT_OK;
	}
	printf("pre-commit: not installed (run `airlock hook install`)\n");
	return CLI_EXIT_FOUND;
}

static const struct hook_sub hook_subs[] = {
	{ "install", hook_install },
	{ "uninstall", hook_uninstall },
	{ "status", hook_status },
	/* Agent hooks: the agent runs these with its hook input on stdin. */
	{ "claude", cli_hook_agent },
	{ "codex", cli_hook_agent },
	{ "cursor", cli_hook_agent },
};

int
cmd_hook(struct cli *cli, int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return cli_usage("hook", "missing subcommand (install, "
		    "uninstall, status, claude, codex, cursor)");
	if (cli_wants_help(argc, argv))
		return cli_print_help("hook", stdout);
	for (i = 0; i < sizeof(hook_subs) / sizeof(hook_subs[0]); i++)
		if (strcmp(argv[1], hook_subs[i].name) == 0)
			return hook_subs[i].run(cli, argc - 1, argv + 1);
	return cli_usage("hook", "unknown subcommand '%s' (install, "
	    "uninstall, status, claude, codex, cursor)", argv[1]);
}

/*
 * airlock unlock: unlock a passphrase vault the way ssh-add loads a key:
 * the passphrase is asked once, here, and handed to a new broker through a
 * pipe (`airlock serve --passphrase-fd`), which then holds the unlocked
 * vault until it stops (`airlock stop`, or --timeout).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/client.h"
#include "airlock/vault.h"
#include "cli.h"
#include "clientcli.h"
#include "input.h"
#include "vaultcli.h"

const char cmd_unlock_help[] =
"usage: airlock unlock [--timeout D] [--passphrase-fd N]\n"
"\n"
"Unlock a passphrase vault: ask for the passphrase (no echo) and start the\n"
"broker holding the unlocked vault, as ssh-add loads a key into ssh-agent.\n"
"Commands then use it without asking.  With --timeout D (30m, 8h) the\n"
"broker stops after D and the vault is locked again (ssh-add -t);\n"
"`airlock stop` locks it at once.  A vault with a key file needs no unlock.\n"
"\n"
"Options:\n"
"  --timeout D          lock again after D\n"
"  --passphrase-fd N    read the passphrase from descriptor N (scripts)\n"
"\n"
"Exit status: 0 unlocked (or nothing to unlock), 2 error (wrong\n"
"passphrase, no terminal to ask on).\n"
"See docs/commands/unlock.md.\n";

int
cli_unlock_broker(struct cli *cli, int passfd, int64_t lock_after,
    struct al_err *err)
{
	struct al_secret *pp = NULL;
	char self[PATH_MAX], after[32], *args[8];
	unsigned char *p;
	ssize_t n;
	pid_t pid, w;
	int pfd[2] = { -1, -1 }, status, rc, i = 0;

	(void)cli;	/* serve finds the same $AIRLOCK_HOME */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return al_err_set(err, AL_ESYS, "cannot find the airlock "
		    "binary: %s", strerror(errno));
	self[n] = '\0';
	if ((rc = cli_read_passphrase("Vault passphrase: ", passfd, 0, &pp,
	    err)) != 0)
		return rc;
	args[i++] = self;
	args[i++] = "serve";
	args[i++] = "--passphrase-fd";
	args[i++] = "3";
	if (lock_after > 0) {
		(void)snprintf(after, sizeof(after), "%llds",
		    (long long)lock_after);
		args[i++] = "--lock-after";
		args[i++] = after;
	}
	args[i] = NULL;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		rc = al_err_set(err, AL_ESYS, "pipe: %s", strerror(errno));
		goto out;
	}
	/* The pipe holds 64 KiB: the passphrase goes in before the fork. */
	p = al_secret_open(pp);
	n = write(pfd[1], p, al_secret_len(pp));
	if (n == (ssize_t)al_secret_len(pp))
		n = write(pfd[1], "\n", 1) == 1 ? n : -1;
	al_secret_close(pp);
	(void)close(pfd[1]);
	pfd[1] = -1;
	if (n < 0) {
		rc = al_err_set(err, AL_EIO, "cannot hand the passphrase to "
		    "the broker");
		goto out;
	}
	if ((pid = fork()) < 0) {
		rc = al_err_set(err, AL_ESYS, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* dup2 onto itself would keep close-on-exec: clear it then. */
		if (pfd[0] == 3 ? fcntl(3, F_SETFD, 0) < 0 :
		    dup2(pfd[0], 3) < 0)
			_exit(127);
		execv(self, args);
		_exit(127);
	}
	do {
		w = waitpid(pid, &status, 0);
	} while (w < 0 && errno == EINTR);
	/* serve printed its own error (wrong passphrase, ...) on stderr. */
	if (w != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = al_err_set(err, AL_EUNAVAIL, "the vault was not unlocked");
out:
	if (pfd[0] >= 0)
		(void)close(pfd[0]);
	if (pfd[1] >= 0)
		(void)close(pfd[1]);
	al_secret_free(pp);
	return rc;
}

int
cmd_unlock(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "passphrase-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET") };
	struct client *cl = NULL;
	struct vault *v = NULL;
	struct al_err err;
	int64_t lock_after = 0;
	int c, passfd = -1, kind;

	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (al_parse_duration(optarg, "--timeout", &lock_after,
			    &err) != 0)
				return cli_usage("unlock", "%s", err.msg);
			break;
		case 'p':
			if (cli_parse_fd(optarg, "--passphrase-fd", &passfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'h':
			return cli_print_help("unlock", stdout);
		default:
			return cli_bad_option("unlock", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("unlock", "unexpected argument '%s'",
		    argv[optind]);
	if (cli_vault_open(cli, &v, &err) != 0)
		return cli_fail(&err);
	kind = vault_key_kind(v);
	vault_close(v);
	if (kind != VAULT_KEY_KIND_PASSPHRASE) {
		al_msg(stderr, "unlock", "the vault in %s opens with its key "
		    "file: nothing to unlock", cli->home);
		return CLI_EXIT_OK;
	}
	/* A running broker already holds the unlocked vault. */
	if (client_open(&o, &cl, &err) == 0) {
		client_close(cl);
		al_msg(stderr, "unlock", "the broker already holds the "
		    "unlocked vault (`airlock stop` locks it)");
		return CLI_EXIT_OK;
	}
	al_err_clear(&err);
	if (cli_unlock_broker(cli, passfd, lock_after, &err) != 0)
		return cli_fail(&err);
	if (lock_after > 0) {
		char d[32];

		al_format_duration(lock_after, d);
		al_msg(stderr, "unlock", "unlocked: the broker holds the vault "
		    "for %s", d);
	} else
		al_msg(stderr, "unlock", "unlocked: the broker holds the vault "
		    "until `airlock stop`");
	return CLI_EXIT_OK;
}

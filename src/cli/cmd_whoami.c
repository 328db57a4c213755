/* airlock whoami: the selectors the broker sees for a caller started here. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/identity.h"
#include "cli.h"
#include "vaultcli.h"

const char cmd_whoami_help[] =
"usage: airlock whoami [--json]\n"
"\n"
"Print how the broker identifies a caller started from here, to help write\n"
"policies.  The identity is read the way the broker reads it: from the\n"
"peer credentials of a Unix socket (here, one connected to this very\n"
"process) and from /proc: uid, gid, user, group, pid, executable and its\n"
"SHA-256, the chain of parent executables, and the cgroup.\n"
"\n"
"airlock commands make themselves non-dumpable, and the kernel then lets\n"
"only root (or a holder of CAP_SYS_PTRACE) read their executable.  A broker\n"
"running as your own user therefore sees no unix:exe or unix:sha256 selector\n"
"for `airlock run` and friends; those are listed apart.  Match on unix:uid\n"
"and unix:ancestor-exe (the agent that started the command) instead.\n"
"\n"
"Options:\n"
"  --json      the identity as one JSON object\n"
"  -h, --help  show this help\n"
"\n"
"Exit status: 0 success, 2 error.\n";

/* Whether a same-user broker without privileges can see selector s. */
static int
privileged_only(const char *s, int hidden)
{
	return hidden && (strncmp(s, "unix:exe:", 9) == 0 ||
	    strncmp(s, "unix:sha256:", 12) == 0);
}

static void
print_escaped(const char *label, const char *s)
{
	struct al_buf b;

	al_buf_init(&b, 16384, 0);
	if (s == NULL || al_buf_append_escaped(&b, s, strlen(s)) != 0)
		al_buf_reset(&b);
	printf("%-9s%s\n", label, b.len ? al_buf_str(&b) : "-");
	al_buf_release(&b);
}

static void
print_selector(const char *s)
{
	struct al_buf b;

	al_buf_init(&b, 16384, 0);
	if (al_buf_append_escaped(&b, s, strlen(s)) != 0)
		al_buf_reset(&b);
	printf("  %s\n", al_buf_str(&b));
	al_buf_release(&b);
}

static void
print_text(const struct ident *id, int hidden)
{
	struct al_buf b;
	size_t i;
	int any = 0;

	al_buf_init(&b, 16384, 0);
	printf("%-9s%d\n", "pid", (int)id->pid);
	printf("%-9s%u (%s)\n", "uid", (unsigned)id->uid, id->user ?
	    id->user : "no name");
	printf("%-9s%u (%s)\n", "gid", (unsigned)id->gid, id->group ?
	    id->group : "no name");
	if (id->exe != NULL)
		print_escaped("exe", id->exe);
	else
		print_escaped("exe", ident_exe_error(id->exe_errno));
	print_escaped("sha256", id->sha256[0] ? id->sha256 : NULL);
	print_escaped("cgroup", id->cgroup);
	for (i = 0; i < id->nancestors; i++) {
		al_buf_reset(&b);
		if (al_buf_printf(&b, "%-6d ", (int)id->ancestors[i].pid) != 0 ||
		    al_buf_puts(&b, id->ancestors[i].exe ? "" : "(") != 0 ||
		    (id->ancestors[i].exe ? al_buf_append_escaped(&b,
		    id->ancestors[i].exe, strlen(id->ancestors[i].exe)) :
		    al_buf_puts(&b, "not readable)")) != 0)
			al_buf_reset(&b);
		printf("%-9s%s\n", i == 0 ? "parents" : "", al_buf_str(&b));
	}
	if (id->ancestors_cut)
		printf("%-9s%s\n", "", "(the chain stops here)");
	/* Why unix:exe or unix:ancestor-exe are unknown below. */
	if (id->exe_untrusted)
		print_escaped("exe-note", id->exe_untrusted_why);
	if (id->ancestry_unknown)
		print_escaped("ancestry", id->ancestry_why);
	printf("\nSelectors a broker running as uid %u sees:\n",
	    (unsigned)geteuid());
	for (i = 0; i < id->nselectors; i++)
		if (!privileged_only(id->selectors[i], hidden))
			print_selector(id->selectors[i]);
	for (i = 0; i < id->nselectors; i++) {
		if (!privileged_only(id->selectors[i], hidden))
			continue;
		if (!any++)
			printf("Seen only by a broker running as root or with "
			    "CAP_SYS_PTRACE:\n");
		print_selector(id->selectors[i]);
	}
	if (id->nunknown > 0)
		printf("Unknown, so they count against you (a deny on them "
		    "matches, an allow does not):\n");
	for (i = 0; i < id->nunknown; i++)
		print_selector(id->unknown[i]);
	al_buf_release(&b);
}

static int
print_json(const struct ident *id, int hidden)
{
	json_t *o, *sel = json_array(), *priv = json_array();
	size_t i;
	int rc;

	o = ident_to_json(id, IDENT_JSON_FULL);
	if (o == NULL || sel == NULL || priv == NULL) {
		json_decref(o);
		json_decref(sel);
		json_decref(priv);
		return cli_failf("out of memory");
	}
	for (i = 0; i < id->nselectors; i++)
		json_array_append_new(privileged_only(id->selectors[i],
		    hidden) ? priv : sel, json_string(id->selectors[i]));
	json_object_set_new(o, "selectors", sel);
	json_object_set_new(o, "privileged_selectors", priv);
	rc = cli_print_json(o);
	json_decref(o);
	return rc;
}

int
cmd_whoami(struct cli *cli, int argc, char **argv)
{
	struct ident *id = NULL;
	struct al_err err;
	int c, json = 0, sv[2] = { -1, -1 }, rc, hidden;

	(void)cli;
	al_err_clear(&err);
	if ((c = cli_json_only("whoami", "whoami", argc, argv, &json)) >= 0)
		return c;
	/* The broker's own path: peer credentials of a connected socket. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return cli_failf("cannot create a socket pair");
	rc = ident_from_socket(sv[0], NULL, 0, &id, &err);
	(void)close(sv[0]);
	(void)close(sv[1]);
	if (rc != 0)
		return cli_fail(&err);
	/*
	 * We read our own exe (the kernel always allows that), but a broker of
	 * the same uid cannot while we are not dumpable.
	 */
	hidden = geteuid() != 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
	if (json)
		rc = print_json(id, hidden);
	else {
		print_text(id, hidden);
		rc = fflush(stdout) == 0 ? CLI_EXIT_OK :
		    cli_failf("cannot write to stdout");
	}
	ident_free(id);
	return rc;
}

/*
 * `airlock hook claude|codex|cursor`: read the agent's hook input from
 * stdin, answer it (src/mcp/hooks.c decides), then mark every known secret
 * whose value reached the agent as exposed and record what happened in the
 * audit log.  The answer goes out whatever happens to the bookkeeping; a
 * failure there is said on stderr.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "airlock/client.h"
#include "airlock/mcp.h"
#include "airlock/vault.h"
#include "auditcli.h"
#include "exposure.h"
#include "hookagent.h"
#include "rules.h"
#include "vaultcli.h"

#define HOOK_STDIN_MAX	(64u * 1024 * 1024)

/* The whole input, in guarded memory: a prompt may carry a secret. */
static int
read_stdin(struct al_buf *b, struct al_err *err)
{
	unsigned char chunk[65536];
	ssize_t n;
	int rc = 0;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = al_err_set(err, AL_EIO, "cannot read the hook "
			    "input: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (al_buf_append(b, chunk, (size_t)n) != 0) {
			rc = al_err_set(err, AL_ETOOBIG, "the hook input is over "
			    "%u bytes", HOOK_STDIN_MAX);
			break;
		}
	}
	sodium_memzero(chunk, sizeof(chunk));
	return rc;
}

/*
 * Report each secret whose value reached the agent as exposed (which ends
 * its access at once: cli_exposure_report) and audit the hook's decision:
 * each step is tried, and err holds the first failure.
 */
static int
record(struct cli *cli, const char *agent, const struct mcp_hook_answer *a,
    struct al_err *err)
{
	struct vault *v = NULL;
	struct cli_exposure res;
	struct audit_event ev;
	struct al_err later;
	json_t *detail = NULL, *rules, *exposed;
	char where[128], tool[sizeof(a->tool)];
	size_t i;
	int rc = 0;

#define FIRST	(rc == 0 ? err : &later)
	/* Since when and what saw it; an exposure keeps its first. */
	(void)snprintf(where, sizeof(where), "%s hook %s", agent, a->event);
	for (i = 0; i < a->nexposed; i++)
		if (cli_exposure_report_proof(cli, a->exposed[i], where,
		    "hook", a->exposed_proof[i], 0, &res, FIRST) != 0 &&
		    rc == 0)
			rc = err->code;
	if (cli_vault_open(cli, &v, FIRST) != 0) {
		if (rc == 0)
			rc = err->code;
		goto out;
	}
	/* The audit key needs the vault unlocked: a key file, not a prompt. */
	if (vault_key_kind(v) != VAULT_KEY_KIND_FILE) {
		/* The exposures themselves went to the broker's log. */
		if (a->nexposed == 0)
			rc = al_err_set(err, AL_EPERM, "not recorded in the "
			    "audit log: the vault is locked by a passphrase");
		goto out;
	}
	if (cli_vault_unlock(v, -1, FIRST) != 0) {
		if (rc == 0)
			rc = err->code;
		goto out;
	}
	rules = json_array();
	for (i = 0; rules != NULL && i < a->nrules; i++)
		json_array_append_new(rules, json_string(a->rules[i]));
	exposed = json_array();
	for (i = 0; exposed != NULL && i < a->nexposed; i++)
		json_array_append_new(exposed, json_string(a->exposed[i]));
	/* The agent names its tools: never a token-shaped part of one. */
	(void)snprintf(tool, sizeof(tool), "%s", a->tool);
	client_text_mask(tool);
	detail = json_pack("{s:s, s:s, s:s, s:o, s:o}", "agent", agent, "hook",
	    a->event, "tool", tool, "rules", rules, "exposed", exposed);
	memset(&ev, 0, sizeof(ev));
	ev.detail = detail;
	ev.intent = "hook";
	ev.event = "agent_hook";
	ev.outcome = a->action;
	ev.reason = a->nexposed > 0 ? "a secret's value reached a coding "
	    "agent" : "a hardcoded secret in what the agent handled";
	if (cli_audit_record(cli, v, &ev, FIRST) != 0 && rc == 0)
		rc = err->code;
#undef FIRST
out:
	json_decref(detail);
	vault_close(v);
	return rc;
}

int
cli_hook_agent(struct cli *cli, int argc, char **argv)
{
	struct mcp_hook_config cfg;
	struct mcp_hook_answer a;
	enum mcp_hook_agent ag;
	struct al_buf in;
	struct al_err err;
	char self[PATH_MAX], cache[PATH_MAX];
	ssize_t n;
	int rc, status;

	al_err_clear(&err);
	if (mcp_hook_agent_parse(argv[0], &ag) != 0)
		return cli_usage("hook", "unknown agent '%s'", argv[0]);
	if (argc > 1)
		return cli_usage("hook", "unexpected argument '%s' (the hook "
		    "input is read from stdin)", argv[1]);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = cli->home;
	cfg.socket_path = getenv("AIRLOCK_SOCKET");
	cfg.cache_dir = cli_cache_dir(cache, sizeof(cache));
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		cfg.airlock_bin = self;
	}
	al_buf_init(&in, HOOK_STDIN_MAX, AL_BUF_SENSITIVE);
	if ((rc = read_stdin(&in, &err)) != 0) {
		/* Not even the input: block (exit 2) and say why. */
		fprintf(stderr, "airlock hook failed, so this was blocked to "
		    "be safe: %s\n", err.msg);
		al_buf_release(&in);
		return CLI_EXIT_FAIL;
	}
	rc = mcp_hook_answer(&cfg, ag, in.len ? (const char *)in.data : "",
	    in.len, &a);
	al_buf_release(&in);
	if (rc != 0) {
		fprintf(stderr, "airlock hook failed, so this was blocked to "
		    "be safe: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	if (a.out != NULL)
		printf("%s\n", a.out);
	if (fflush(stdout) != 0)
		a.exit_code = CLI_EXIT_FAIL;
	if (a.err != NULL)
		fprintf(stderr, "%s\n", a.err);
	if ((a.nexposed > 0 || (strcmp(a.action, "allow") != 0 &&
	    strcmp(a.action, "fail") != 0)) &&
	    record(cli, argv[0], &a, &err) != 0)
		fprintf(stderr, "airlock: hook: %s\n", err.msg);
	status = a.exit_code;
	mcp_hook_answer_release(&a);
	return status;
}

/* airlock run: use secrets inside a boundary; nothing comes back out. */
#include <getopt.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/client.h"
#include "airlock/exec.h"
#include "airlock/vault.h"
#include "cli.h"
#include "clientcli.h"
#include "rules.h"

const char cmd_run_help[] =
"usage: airlock run [--task ID] [--intent TEXT] [--ttl D] [--timeout D]\n"
"                   [--grace D] [--pty] [--no-rules] [--approval-wait D]\n"
"                   [--proxy [--no-isolation]]\n"
"                   [-e VAR=SECRET]... [--file VAR=SECRET]...\n"
"                   [--env-file FILE]... -- CMD [ARGS...]\n"
"\n"
"Run CMD with secrets it may use but never shows.  Each secret is leased\n"
"from the broker (policy decides; the lease is bound to this run), fetched\n"
"into guarded memory and handed to CMD; everything CMD prints comes back\n"
"through the redactor, which masks the values and their encodings as\n"
"[REDACTED:<secret-name>].  When CMD exits, every process it left behind is\n"
"killed at once, the leases are revoked and the values wiped.  CMD runs in a\n"
"PID namespace of its own where the system allows, so the kernel kills the\n"
"whole task if airlock dies (see `airlock doctor`).\n"
"\n"
"Options:\n"
"  -e VAR=SECRET        put SECRET's value in CMD's environment as VAR\n"
"  --file VAR=SECRET    put it in a sealed in-memory file; VAR=/dev/fd/N\n"
"  --env-file FILE      lines VAR=airlock:SECRET of FILE are leased as -e;\n"
"                       its other VAR=VALUE lines are passed as they are\n"
"  --task ID            the task the leases belong to\n"
"  --intent TEXT        what CMD is for, as policy and the audit log see it\n"
"  --ttl D              lease lifetime (90s, 15m; at most what policy allows)\n"
"  --timeout D          end the whole task after D\n"
"  --grace D            on --timeout, SIGTERM to SIGKILL for CMD (default 2s)\n"
"  --pty                give CMD a pseudo-terminal (interactive programs)\n"
"  --no-rules           mask the leased values only, not scanner rule hits\n"
"  --proxy              never hand CMD the values: it gets placeholders and an\n"
"                       HTTPS proxy (in the broker) that puts the values in\n"
"                       requests to each secret's --host only\n"
"  --no-isolation       with --proxy: let CMD share the network (reach local\n"
"                       services) instead of a namespace whose only way out\n"
"                       is the proxy\n"
"  --approval-wait D    how long to wait for a human approval (default 5m;\n"
"                       0s: fail at once when approval is needed)\n"
"  -h, --help           show this help\n"
"\n"
"Without -e or --file, CMD runs with its output redacted by the scanner's\n"
"rules alone (no broker, no vault needed).\n"
"\n"
"A lease that ends while CMD runs (revoked, expired, its secret exposed) ends\n"
"the whole task as --timeout does.\n"
"\n"
"Exit status: CMD's; 128+N when signal N killed it; 125 when airlock failed\n"
"before CMD started (bad usage, unknown secret, denied by policy: the\n"
"message names the secret and the reason); 126 CMD not executable; 127 CMD\n"
"not found.\n"
"See docs/commands/run.md.\n";

enum { OPT_FILE = 256, OPT_TASK, OPT_INTENT, OPT_TTL, OPT_TIMEOUT, OPT_GRACE,
	OPT_PTY, OPT_WAIT, OPT_NORULES, OPT_PROXY, OPT_NOISO, OPT_ENVFILE };

#define RUN_ENV_FILES_MAX	8

struct run_args {
	struct exec_binding	 bind[EXEC_VARS_MAX];
	struct exec_lease_var	 vars[EXEC_VARS_MAX];
	size_t			 nvars;
	const char		*task;
	const char		*intent;
	int64_t			 ttl;
	int64_t			 timeout;	/* ms */
	int64_t			 grace;		/* ms */
	int64_t			 wait;
	int			 pty;
	int			 no_rules;
	int			 proxy;
	int			 no_isolation;
	struct exec_env_file	*envf[RUN_ENV_FILES_MAX];
	size_t			 nenvf;
};

static int
add_binding(struct run_args *a, const char *arg, enum exec_var_kind kind,
    struct al_err *err)
{
	struct exec_binding *b;
	int rc;

	if (a->nvars >= EXEC_VARS_MAX)
		return al_err_set(err, AL_EINVAL, "at most %d secrets per run",
		    EXEC_VARS_MAX);
	b = &a->bind[a->nvars];
	if ((rc = exec_binding_parse(arg, kind == EXEC_VAR_ENV ? "-e" :
	    "--file", b, err)) != 0)
		return rc;
	if ((rc = vault_name_check(b->secret, err)) != 0)
		return rc;
	a->vars[a->nvars].var = b->var;
	a->vars[a->nvars].secret = b->secret;
	a->vars[a->nvars].kind = kind;
	a->nvars++;
	return 0;
}

/* --env-file: its airlock: lines become bindings, the rest plain values. */
static int
add_env_file(struct run_args *a, const char *path, struct al_err *err)
{
	struct exec_env_file *f;
	size_t i;
	int rc;

	if (a->nenvf >= RUN_ENV_FILES_MAX)
		return al_err_set(err, AL_EINVAL, "at most %d --env-file",
		    RUN_ENV_FILES_MAX);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	a->envf[a->nenvf++] = f;
	if ((rc = exec_env_file_load(path, f, err)) != 0)
		return rc;
	for (i = 0; i < f->nrefs; i++) {
		if (a->nvars >= EXEC_VARS_MAX)
			return al_err_set(err, AL_EINVAL, "at most %d secrets "
			    "per run", EXEC_VARS_MAX);
		if ((rc = vault_name_check(f->refs[i].secret, err)) != 0)
			return al_err_set(err, rc, "%s:%zu: %s", path,
			    f->line[i], err->msg);
		a->bind[a->nvars] = f->refs[i];
		a->vars[a->nvars].var = a->bind[a->nvars].var;
		a->vars[a->nvars].secret = a->bind[a->nvars].secret;
		a->vars[a->nvars].kind = EXEC_VAR_ENV;
		a->nvars++;
	}
	return 0;
}

static int
parse(int argc, char **argv, struct run_args *a, int *first)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "intent", required_argument, NULL, OPT_INTENT },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "pty", no_argument, NULL, OPT_PTY },
		{ "approval-wait", required_argument, NULL, OPT_WAIT },
		{ "no-rules", no_argument, NULL, OPT_NORULES },
		{ "proxy", no_argument, NULL, OPT_PROXY },
		{ "no-isolation", no_argument, NULL, OPT_NOISO },
		{ "env-file", required_argument, NULL, OPT_ENVFILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct al_err err;
	int c;

	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	/* "+": stop at CMD, so its own options are left alone. */
	while ((c = cli_getopt(argc, argv, "+:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (add_binding(a, optarg, EXEC_VAR_ENV, &err) != 0)
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_FILE:
			if (add_binding(a, optarg, EXEC_VAR_FILE, &err) != 0)
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_ENVFILE:
			if (add_env_file(a, optarg, &err) != 0)
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_TASK:
			a->task = optarg;
			break;
		case OPT_INTENT:
			a->intent = optarg;
			break;
		case OPT_TTL:
			if (al_parse_duration(optarg, "--ttl", &a->ttl, &err))
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_TIMEOUT:
			if (al_parse_duration_ms(optarg, "--timeout",
			    &a->timeout, &err))
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_GRACE:
			if (al_parse_duration_ms(optarg, "--grace", &a->grace,
			    &err))
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_WAIT:
			if (strcmp(optarg, "0") == 0 ||
			    strcmp(optarg, "0s") == 0)
				a->wait = 0;
			else if (al_parse_duration(optarg, "--approval-wait",
			    &a->wait, &err))
				return cli_usage("run", "%s", err.msg);
			break;
		case OPT_PTY:
			a->pty = 1;
			break;
		case OPT_NORULES:
			a->no_rules = 1;
			break;
		case OPT_PROXY:
			a->proxy = 1;
			break;
		case OPT_NOISO:
			a->no_isolation = 1;
			break;
		case 'h':
			(void)cli_print_help("run", stdout);
			return -1;
		default:
			return cli_bad_option("run", argc, argv, c);
		}
	}
	if (a->no_isolation && !a->proxy)
		return cli_usage("run", "--no-isolation goes with --proxy");
	if (optind >= argc)
		return cli_usage("run", "no command to run: give it after --");
	*first = optind;
	return 0;
}

/* On a terminal, a ticker under the waiting line until the wait ends. */
struct ticker {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	pthread_t	 th;
	int		 running;
	int		 done;
};

static void *
ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct timespec until;
	int secs = 0;

	pthread_mutex_lock(&t->lock);
	while (!t->done) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0 ||
		    t->done)
			continue;
		fprintf(stderr, "\r\033[Kairlock: run: still waiting for "
		    "approval (%d s)", ++secs);
		fflush(stderr);
	}
	if (secs > 0)
		fputs("\r\033[K", stderr);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Say at once what the run waits for, and how to let it go on. */
static void
on_pending(const struct client_approval *ap, void *arg)
{
	struct ticker *t = arg;

	if (ap == NULL) {
		if (t->running) {
			pthread_mutex_lock(&t->lock);
			t->done = 1;
			pthread_cond_signal(&t->cond);
			pthread_mutex_unlock(&t->lock);
			(void)pthread_join(t->th, NULL);
			t->running = 0;
		}
		return;
	}
	al_msg(stderr, "run", "waiting for approval %s: run `airlock approve "
	    "%s` (rule '%s', secret '%s')", ap->id, ap->id, ap->rule,
	    ap->secret);
	if (!t->running && isatty(STDERR_FILENO)) {
		t->done = 0;
		t->running = pthread_create(&t->th, NULL, ticker_main, t) == 0;
	}
}

/*
 * The rules are loaded only when the command prints something: a command
 * that prints nothing (the common `run -- deploy`) does not pay for them.
 */
static void
warn_isolation(void *arg, const char *msg)
{
	(void)arg;
	al_msg(stderr, "warning", "run: --proxy: %s; the command can reach "
	    "the network directly (with placeholders only)", msg);
}

static int
load_rules(void *arg, struct scan_engine **out, struct al_err *err)
{
	(void)arg;
	return cli_redact_rules(out, err);
}

/*
 * Once the command runs: without a PID namespace (see `airlock doctor`),
 * say that a SIGKILL of airlock would leave the command's children behind.
 */
static void
note_isolation(void *arg, pid_t pid)
{
	const struct exec_result *res = arg;

	(void)pid;
	if (res->isolation == EXEC_ISOLATION_SUBREAPER)
		al_msg(stderr, "run", "note: no PID namespace for the command "
		    "(%s), so if airlock is killed, processes it started may "
		    "outlive it; see `airlock doctor`",
		    strerror(res->ns_errno));
}

int
cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_args a;
	struct exec_boundary b;
	struct exec_spec spec;
	struct exec_result res;
	struct client *cl = NULL;
	struct al_err err;
	char **envp = NULL;
	struct ticker tk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    0, 0, 0 };
	size_t i;
	int first = 0, rc, ret;

	al_err_clear(&err);
	memset(&a, 0, sizeof(a));
	a.wait = 300;
	/*
	 * Every failure of run's own is 125, usage errors included (as env
	 * and timeout do), so a script tells them from CMD's own 1 or 2.
	 */
	if ((rc = parse(argc, argv, &a, &first)) != 0) {
		ret = rc < 0 ? CLI_EXIT_OK : CLI_EXIT_RUN_FAIL;
		goto out;
	}
	ret = CLI_EXIT_RUN_FAIL;
	exec_spec_init(&spec);
	for (i = 0; i < a.nenvf; i++) {
		char **next;
		int brc;

		brc = exec_env_build(envp ? envp : environ, a.envf[i], &next,
		    &err);
		free(envp);
		envp = next;
		if (brc != 0) {
			al_msg(stderr, "error", "run: %s", err.msg);
			goto out;
		}
	}
	/* Without secrets, run is a plain redacting boundary: no broker. */
	if (a.nvars > 0 && cli_client_open(cli, &cl, &err) != 0) {
		al_msg(stderr, "error", "run: %s", err.msg);
		goto out;
	}
	memset(&b, 0, sizeof(b));
	b.client = cl;
	b.task = a.task;
	b.intent = a.intent;
	b.ttl = a.ttl;
	b.approval_wait_s = (int)a.wait;
	b.vars = a.vars;
	b.nvars = a.nvars;
	b.rules_load = a.no_rules ? NULL : load_rules;
	b.proxy = a.proxy;
	b.state_dir = cli->home;
	b.warn = warn_isolation;
	b.no_isolation = a.no_isolation;
	b.pending = on_pending;
	b.pending_arg = &tk;
	spec.argv = argv + first;
	spec.envp = envp;
	spec.flags = a.pty ? EXEC_PTY : 0;
	spec.timeout_ms = a.timeout;
	spec.grace_ms = a.grace;
	spec.hooks.started = note_isolation;
	spec.hooks.arg = &res;
	rc = exec_boundary_run(&b, &spec, &res, &err);
	client_close(cl);
	if (rc != 0 && res.pid == 0) {
		al_msg(stderr, "error", "run: %s", err.msg);
		ret = res.status ? res.status : CLI_EXIT_RUN_FAIL;
		goto out;
	}
	if (rc != 0)
		al_msg(stderr, "error", "run: %s", err.msg);
	if (res.timed_out) {
		char d[32];

		al_format_duration(a.timeout / 1000, d);
		al_msg(stderr, "run", "timed out after %s; the task was ended",
		    a.timeout % 1000 ? "less than a second" : d);
	}
	if (res.watch_ended && res.lease_secret[0] != '\0')
		al_msg(stderr, "run", "the lease on secret '%s' ended (%s); the "
		    "task was ended", res.lease_secret, res.lease_reason);
	else if (res.watch_ended)
		al_msg(stderr, "run", "%s; the task was ended",
		    res.lease_reason);
	ret = res.status;
out:
	free(envp);
	for (i = 0; i < a.nenvf; i++) {
		exec_env_file_release(a.envf[i]);
		free(a.envf[i]);
	}
	return ret;
}

/*
 * The `run` tool: a command with secrets, inside the boundary.  Everything
 * happens in exec_boundary_run (lease every secret bound to this call's
 * broker connection, inject, run with both streams redacted, revoke); this
 * file turns the tool arguments into its spec and its result into a tool
 * result.  The command's output reaches a memfd only after the redactor,
 * so the server never holds an unredacted byte of it.
 *
 * Cancellation: the call's eventfd is exec's cancel_fd, so a
 * notifications/cancelled ends the whole task (TERM, grace, KILL) and the
 * leases are revoked on the way out.  If the server itself is killed, the
 * kernel ends the task with its PID namespace (see exec.h).  Runs are
 * serialized (see run_lock).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "airlock/client.h"
#include "airlock/exec.h"
#include "mcp_int.h"

/* Most output returned per stream; the rest is counted, not kept. */
#define RUN_OUTPUT_MAX		(1024 * 1024)
#define RUN_APPROVAL_WAIT_S	120
#define RUN_PROGRESS_MS		1000

static const char run_input[] =
"{\"type\":\"object\",\"additionalProperties\":false,"
"\"required\":[\"command\"],\"properties\":{"
"\"command\":{\"oneOf\":["
"{\"type\":\"array\",\"minItems\":1,\"maxItems\":4096,"
"\"items\":{\"type\":\"string\"}},"
"{\"type\":\"string\",\"minLength\":1,\"maxLength\":65536}],"
"\"description\":\"The command: an argv array (no shell), or a string run "
"by /bin/sh -c.\"},"
"\"env\":{\"type\":\"object\",\"maxProperties\":64,"
"\"additionalProperties\":{\"type\":\"string\",\"minLength\":1,"
"\"maxLength\":64},"
"\"description\":\"Environment variables to fill with secrets: "
"{\\\"VAR\\\": \\\"secret-name\\\"}. The command reads $VAR; you never "
"see the value.\"},"
"\"env_file\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
"\"description\":\"An env file (relative to cwd): its lines "
"VAR=airlock:secret-name are leased like env, its other VAR=value lines "
"are passed as they are.\"},"
"\"task\":{\"type\":\"string\",\"maxLength\":256,\"description\":"
"\"The task the leases belong to.\"},"
"\"intent\":{\"type\":\"string\",\"maxLength\":256,\"description\":"
"\"What the command does with the secrets, for policy and the audit "
"log.\"},"
"\"cwd\":{\"type\":\"string\",\"minLength\":1,\"description\":"
"\"Working directory (default: the server's).\"},"
"\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":1,"
"\"maximum\":86400,\"description\":\"End the whole command after this "
"long.\"},"
"\"approval_wait_seconds\":{\"type\":\"integer\",\"minimum\":0,"
"\"maximum\":3600,\"description\":\"How long to wait for a human to "
"approve a secret that needs approval (default 120; 0: fail at "
"once).\"},"
"\"proxy\":{\"type\":\"boolean\",\"description\":\"Use without "
"possession: the command gets placeholders, not the values, and an HTTPS "
"proxy that puts the values into requests to each secret's allowed "
"hosts only (headers; curl, git, Python requests and most tools honour "
"it). Anything else is refused.\"}}}";

static const char run_output[] =
"{\"type\":\"object\",\"required\":[\"exit_code\",\"status\",\"signal\","
"\"timed_out\",\"stdout\",\"stderr\",\"truncated\",\"duration_ms\"],"
"\"properties\":{"
"\"exit_code\":{\"type\":\"integer\",\"description\":\"-1 when a signal "
"ended it\"},"
"\"status\":{\"type\":\"integer\",\"description\":\"as a shell reports "
"it: the exit code, or 128+signal\"},"
"\"signal\":{\"type\":\"integer\"},"
"\"timed_out\":{\"type\":\"boolean\"},"
"\"stdout\":{\"type\":\"string\"},"
"\"stderr\":{\"type\":\"string\"},"
"\"truncated\":{\"type\":\"boolean\"},"
"\"duration_ms\":{\"type\":\"integer\"}}}";

/* ---- progress ----------------------------------------------------------- */

struct ticker {
	struct mcp_call	*c;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 done;
	pthread_t	 th;
	int		 started;
	char		 waiting[33];	/* the approval awaited */
	int		 kick;		/* report now */
};

static void *
ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct timespec until;
	char msg[160];
	int secs = 0, waited = 0, n = 0;

	pthread_mutex_lock(&t->lock);
	while (!t->done) {
		if (!t->kick) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += RUN_PROGRESS_MS / 1000;
			if (pthread_cond_timedwait(&t->cond, &t->lock,
			    &until) == 0) {
				if (!t->kick)
					continue;	/* woken to stop */
			} else
				secs++;		/* a second went by */
			if (t->done)
				break;
		}
		t->kick = 0;
		if (t->waiting[0] != '\0')
			(void)snprintf(msg, sizeof(msg), "waiting for approval "
			    "%s (%d s): an approver runs `airlock approve %s`",
			    t->waiting, waited++, t->waiting);
		else
			(void)snprintf(msg, sizeof(msg), "running for %d s",
			    secs);
		/* Progress must grow with every notification, kicks too. */
		mcp_call_progress(t->c, ++n, 0, msg);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void
ticker_start(struct ticker *t, struct mcp_call *c)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (c->sink == NULL || c->progress_token == NULL)
		return;
	/* Created from a thread with exec's signals blocked: inherits it. */
	t->started = pthread_create(&t->th, NULL, ticker_main, t) == 0;
}

/* The boundary's pending hook: the ticker reports the wait at once. */
static void
ticker_pending(const struct client_approval *ap, void *arg)
{
	struct ticker *t = arg;

	pthread_mutex_lock(&t->lock);
	if (ap != NULL) {
		(void)snprintf(t->waiting, sizeof(t->waiting), "%s", ap->id);
		t->kick = 1;
	} else
		t->waiting[0] = '\0';
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void
ticker_stop(struct ticker *t)
{
	pthread_mutex_lock(&t->lock);
	t->done = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (t->started)
		(void)pthread_join(t->th, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

/* ---- output ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t k, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return k;
}

/*
 * What the memfd holds (already redacted) as a JSON string: at most
 * RUN_OUTPUT_MAX bytes, invalid UTF-8 and NUL replaced by U+FFFD.
 */
static json_t *
read_output(int fd, int *truncated)
{
	struct al_buf b;
	unsigned char *raw = NULL;
	struct stat st;
	size_t n, i, k;
	ssize_t got;
	json_t *j = NULL;

	al_buf_init(&b, 4 * RUN_OUTPUT_MAX, 0);
	if (fstat(fd, &st) != 0)
		goto out;
	n = (size_t)st.st_size;
	if (n > RUN_OUTPUT_MAX) {
		n = RUN_OUTPUT_MAX;
		*truncated = 1;
	}
	if ((raw = malloc(n + 1)) == NULL)
		goto out;
	got = pread(fd, raw, n, 0);
	n = got > 0 ? (size_t)got : 0;
	for (i = 0; i < n; i += k) {
		k = raw[i] != 0 ? utf8_len(raw + i, n - i) : 0;
		if (k == 0) {
			if (al_buf_append(&b, "\xef\xbf\xbd", 3) != 0)
				goto out;
			k = 1;
		} else if (al_buf_append(&b, raw + i, k) != 0) {
			goto out;
		}
	}
	j = json_stringn(b.len ? (const char *)b.data : "", b.len);
out:
	free(raw);
	al_buf_release(&b);
	return j;
}

/* ---- the call ----------------------------------------------------------- */

/* Wait for our turn; 0, or 1 when cancelled meanwhile. */
static int
run_turn(struct mcp_call *c)
{
	struct pollfd pf;

	while (pthread_mutex_trylock(&c->srv->run_lock) != 0) {
		pf.fd = c->cancel_fd;
		pf.events = POLLIN;
		if (poll(&pf, 1, 50) > 0)
			return 1;
	}
	return 0;
}

static void
warn_isolation(void *arg, const char *msg)
{
	mcp_log(arg, "run: proxy: %s; the command can reach the network "
	    "directly (with placeholders only)", msg);
}

static int
run_call(struct mcp_call *c, json_t *args, struct mcp_result *r,
    struct al_err *err)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	struct exec_lease_var vars[EXEC_VARS_MAX];
	struct exec_boundary b;
	struct exec_spec spec;
	struct exec_result res;
	struct client *cl = NULL;
	struct ticker tk;
	struct al_err e2;
	json_t *cmd = json_object_get(args, "command"), *env, *v, *jo, *je;
	json_t *wait;
	const char *key, *ef, *cwd;
	struct exec_env_file *envf = NULL;
	char **argv = NULL, **envp = NULL, *efpath = NULL;
	size_t nv = 0, i;
	int rc = 0, locked = 0, trunc = 0, fo = -1, fe = -1, ticking = 0;

	al_err_clear(&e2);
	memset(&b, 0, sizeof(b));
	env = json_object_get(args, "env");
	json_object_foreach(env, key, v) {
		if (!exec_var_name_ok(key) || strlen(key) > EXEC_VAR_NAME_MAX) {
			r->bad_args = 1;
			return asprintf(&r->text, "Invalid arguments for tool "
			    "run: arguments.env: '%.64s' is not a variable name "
			    "(letters, digits, _; not starting with a digit)",
			    key) < 0 ? AL_ENOMEM : 0;
		}
		vars[nv].var = key;
		vars[nv].secret = json_string_value(v);
		vars[nv].kind = EXEC_VAR_ENV;
		nv++;
	}
	ef = json_string_value(json_object_get(args, "env_file"));
	cwd = json_string_value(json_object_get(args, "cwd"));
	if (ef != NULL) {
		if (ef[0] != '/' && cwd != NULL ? asprintf(&efpath, "%s/%s",
		    cwd, ef) < 0 : (efpath = strdup(ef)) == NULL) {
			efpath = NULL;
			rc = AL_ENOMEM;
			goto out;
		}
		if ((envf = calloc(1, sizeof(*envf))) == NULL) {
			rc = AL_ENOMEM;
			goto out;
		}
		if (exec_env_file_load(efpath, envf, &e2) != 0 ||
		    exec_env_build(environ, envf, &envp, &e2) != 0) {
			r->bad_args = 1;
			rc = asprintf(&r->text, "Invalid arguments for tool "
			    "run: arguments.env_file: %s", e2.msg) < 0 ?
			    AL_ENOMEM : 0;
			goto out;
		}
		for (i = 0; i < envf->nrefs; i++) {
			if (nv >= EXEC_VARS_MAX) {
				r->bad_args = 1;
				rc = asprintf(&r->text, "Invalid arguments for "
				    "tool run: at most %d secrets per run",
				    EXEC_VARS_MAX) < 0 ? AL_ENOMEM : 0;
				goto out;
			}
			vars[nv].var = envf->refs[i].var;
			vars[nv].secret = envf->refs[i].secret;
			vars[nv].kind = EXEC_VAR_ENV;
			nv++;
		}
	}
	if ((argv = calloc(json_is_array(cmd) ? json_array_size(cmd) + 1 : 4,
	    sizeof(*argv))) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	if (json_is_array(cmd)) {
		json_array_foreach(cmd, i, v)
			argv[i] = (char *)json_string_value(v);
	} else {
		argv[0] = sh;
		argv[1] = dash_c;
		argv[2] = (char *)json_string_value(cmd);
	}
	if ((fo = memfd_create("airlock-run-out", MFD_CLOEXEC)) == -1 ||
	    (fe = memfd_create("airlock-run-err", MFD_CLOEXEC)) == -1) {
		rc = al_err_set(err, AL_ESYS, "memfd_create: %s",
		    strerror(errno));
		goto out;
	}
	if (run_turn(c) != 0)
		goto out;	/* cancelled while waiting: nothing ran */
	locked = 1;
	if ((rc = mcp_redact_rules(c->srv, &b.rules, err)) != 0 ||
	    (rc = mcp_client_open(c->srv, &cl, err)) != 0)
		goto out;
	wait = json_object_get(args, "approval_wait_seconds");
	b.client = cl;
	b.task = json_string_value(json_object_get(args, "task"));
	b.intent = json_string_value(json_object_get(args, "intent"));
	b.approval_wait_s = wait != NULL ? (int)json_integer_value(wait) :
	    RUN_APPROVAL_WAIT_S;
	b.vars = vars;
	b.nvars = nv;
	b.proxy = json_is_true(json_object_get(args, "proxy"));
	b.state_dir = c->srv->cfg.home;
	b.warn = warn_isolation;
	b.warn_arg = c->srv;
	exec_spec_init(&spec);
	spec.argv = argv;
	spec.in_fd = -1;
	spec.out_fd = fo;
	spec.err_fd = fe;
	spec.cwd = cwd;
	spec.envp = envp;
	spec.timeout_ms = json_integer_value(json_object_get(args,
	    "timeout_seconds")) * 1000;
	spec.cancel_fd = c->cancel_fd;
	/* Before the ticker exists: it reports progress on its own thread. */
	mcp_call_progress(c, 0, 0, "starting");
	ticker_start(&tk, c);
	ticking = 1;
	b.pending = ticker_pending;
	b.pending_arg = &tk;
	rc = exec_boundary_run(&b, &spec, &res, &e2);
	if (rc != 0 && res.pid == 0) {
		/* Nothing ran: unknown secret, denied, pending, not found. */
		rc = mcp_result_error(r, "run: %s", e2.msg);
		goto out;
	}
	if (rc != 0)
		mcp_log(c->srv, "run: %s", e2.msg);
	if (res.watch_ended && res.lease_secret[0] != '\0')
		mcp_log(c->srv, "run: the lease on secret '%s' ended (%s); the "
		    "task was ended", res.lease_secret, res.lease_reason);
	else if (res.watch_ended)
		mcp_log(c->srv, "run: %s; the task was ended",
		    res.lease_reason);
	if (res.isolation == EXEC_ISOLATION_SUBREAPER &&
	    !c->srv->isolation_noted) {
		c->srv->isolation_noted = 1;
		mcp_log(c->srv, "note: commands run without a PID namespace of "
		    "their own (%s), so if this server is killed, processes "
		    "they started may outlive it; see `airlock doctor`",
		    strerror(res.ns_errno));
	}
	jo = read_output(fo, &trunc);
	je = read_output(fe, &trunc);
	r->structured = json_pack("{s:i, s:i, s:i, s:b, s:o?, s:o?, s:b, "
	    "s:I}", "exit_code", res.exit_code, "status", res.status,
	    "signal", res.term_signal, "timed_out", res.timed_out,
	    "stdout", jo, "stderr", je, "truncated", trunc,
	    "duration_ms", (json_int_t)res.elapsed_ms);
	if (r->structured == NULL || json_object_get(r->structured,
	    "stdout") == NULL || json_object_get(r->structured,
	    "stderr") == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	r->is_error = res.status != 0 || res.timed_out || rc != 0;
	rc = 0;
out:
	if (ticking)
		ticker_stop(&tk);
	client_close(cl);
	if (locked)
		pthread_mutex_unlock(&c->srv->run_lock);
	if (fo != -1)
		(void)close(fo);
	if (fe != -1)
		(void)close(fe);
	free(argv);
	free(envp);
	free(efpath);
	exec_env_file_release(envf);
	free(envf);
	return rc;
}

const struct mcp_tool mcp_tool_run = {
	.name = "run",
	.title = "Run a command with secrets",
	.description = "Run a command with secrets in its environment "
	    "(env: {\"VAR\": \"secret-name\"}) without ever seeing them: each "
	    "secret is leased for this run only (policy decides), and stdout "
	    "and stderr come back with every value and encoding of it masked "
	    "as [REDACTED:name]. When the command ends, everything it started "
	    "is ended and the leases are revoked. Use it instead of pasting a "
	    "token into a command or a file.",
	.input_schema = run_input,
	.output_schema = run_output,
	.destructive = 1,
	.open_world = 1,
	.slow = 1,
	.call = run_call,
};

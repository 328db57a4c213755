/*
 * broker_dispatch over a real vault and policy: grants, denials naming the
 * rule, approvals with the approver check, use counting, revocation by
 * task, and an audit log that verifies and never holds the value.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "airlock/api.h"
#include "airlock/audit.h"
#include "airlock/broker.h"
#include "airlock/vault.h"
#include "mhd_dl.h"

#define PIN		"correct horse"
#define PIN_BODY	"{\"pin\":\"" PIN "\"}"

/*
 * A process for the requester to be: its own session, so that the test
 * process (the approver) is neither in its tree nor in its session.  The
 * broker reads both from /proc.
 */
static pid_t
spawn_idle(int own_session)
{
	int fds[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/*
		 * Off the test's output, and gone with this process or in 2
		 * minutes: a test that fails before killing it must not leave
		 * a holder of ctest's pipe behind (ctest waits for them all).
		 */
		if (null >= 0) {
			(void)dup2(null, 1);
			(void)dup2(null, 2);
		}
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		(void)alarm(120);
		if (own_session)
			(void)setsid();
		/* Ready: the broker sees the session it will keep. */
		(void)!write(fds[1], "x", 1);
		for (;;)
			pause();
	}
	(void)close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	(void)close(fds[0]);
	return pid;
}

/*
 * The same, but not a child of this process (its parent exits, so it is
 * re-parented): this process is then not among the requester's ancestors.
 * Killed by pid; nobody here waits for it.
 */
static pid_t
spawn_orphan(void)
{
	int fds[2];
	pid_t pid, mid;

	assert_int_equal(pipe(fds), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		(void)setsid();
		if ((pid = fork()) == 0) {
			/*
			 * Off the test's output, and gone in 2 minutes even if
			 * the test dies before killing it: ctest waits for
			 * every holder of its pipe.
			 */
			int null = open("/dev/null", O_RDWR);

			if (null >= 0) {
				(void)dup2(null, 1);
				(void)dup2(null, 2);
			}
			(void)alarm(120);
			for (;;)
				pause();
		}
		(void)!write(fds[1], &pid, sizeof(pid));
		_exit(0);
	}
	(void)close(fds[1]);
	assert_int_equal(read(fds[0], &pid, sizeof(pid)), sizeof(pid));
	(void)close(fds[0]);
	(void)waitpid(mid, NULL, 0);
	return pid;
}

/*
 * The approval rules compare the requester's session with the approver's.
 * Under a CI runner or `docker exec` this process's session leader may sit
 * outside its PID namespace, where the session reads as 0 and cannot be
 * compared (t_approval_nsession covers that case).  The tests here are of
 * the rules for sessions that can be read, so they run in one this process
 * leads, as a login terminal gives: in this process if it may lead one,
 * else in a child whose status is returned.
 */
static int
in_own_session(void)
{
	pid_t pid;
	int st;

	if (setsid() >= 0)
		return 0;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0)
		return setsid() >= 0 ? 0 : -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

struct who {
	struct broker_caller	 c;
	const char		*sel[2];
	char			 s0[32];
};

struct fx {
	char		 home[64];
	char		 canary[33];
	struct broker	*b;
	struct who	 req, other, approver, self;
	pid_t		 child;		/* the requester's process */
	int		 status;
	int		 need_sync;	/* of the last reply */
	json_t		*body;
	struct al_secret *value;
	int64_t		 now_ms;	/* the broker's clock */
	struct al_clock	 clock;
};

/*
 * The broker's threads (the engine's revocation workers) read the clock
 * too, while a test moves it on: atomic loads and stores.
 */
static int64_t
fx_now_ms(void *arg)
{
	return __atomic_load_n(&((struct fx *)arg)->now_ms, __ATOMIC_SEQ_CST);
}

static int64_t
fx_now(void *arg)
{
	return fx_now_ms(arg) / 1000;
}

static void
who_init(struct who *w, uint64_t conn, pid_t pid, const char *extra)
{
	memset(w, 0, sizeof(*w));
	(void)snprintf(w->s0, sizeof(w->s0), "unix:uid:%u",
	    (unsigned)getuid());
	w->sel[0] = w->s0;
	w->sel[1] = extra;
	w->c.conn = conn;
	w->c.uid = getuid();
	w->c.gid = getgid();
	w->c.pid = pid;
	w->c.selectors = w->sel;
	w->c.nselectors = extra ? 2 : 1;
	(void)snprintf(w->c.holder, sizeof(w->c.holder),
	    "uid=%u,pid=%ld,start=7", (unsigned)getuid(), (long)pid);
}

static void
add(struct vault *v, const char *name, const char *value, int approval)
{
	struct vault_meta m;
	struct vault_label l = { "approval", "required" };
	struct al_secret *val;

	memset(&m, 0, sizeof(m));
	(void)snprintf(m.name, sizeof(m.name), "%s", name);
	m.owner = "test";
	m.purpose = "unit test";
	if (approval) {
		m.labels = &l;
		m.nlabels = 1;
	}
	assert_int_equal(al_secret_from(value, strlen(value), &val), 0);
	assert_int_equal(vault_secret_add(v, &m, val, NULL), 0);
	al_secret_free(val);
}

static int
setup(void **state)
{
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct broker_config cfg;
	struct vault *v = NULL;
	struct al_secret *pin;
	unsigned char rnd[16];
	char path[128];
	FILE *f;
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	(void)snprintf(x->home, sizeof(x->home), "/tmp/al-test-broker.XXXXXX");
	assert_non_null(mkdtemp(x->home));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(x->canary, sizeof(x->canary), rnd, sizeof(rnd));
	assert_int_equal(vault_create(x->home, &key, al_clock_system(), NULL),
	    0);
	assert_int_equal(vault_open(x->home, al_clock_system(), &v, NULL), 0);
	assert_int_equal(vault_unlock(v, &key, NULL), 0);
	add(v, "deploy-token", x->canary, 0);
	add(v, "prod-db", x->canary, 1);
	(void)snprintf(path, sizeof(path), "%s/policy.yaml", x->home);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "version: 1\nrules:\n"
	    "  - id: no-drops\n    effect: deny\n    secrets: [deploy-token]\n"
	    "    intents: [\"drop *\"]\n    reason: dropping is not allowed\n"
	    "  - id: prod-needs-approval\n    effect: approval\n"
	    "    labels: {approval: required}\n    callers: [unix:uid:%u]\n"
	    "    approvers: [unix:user:test-approver]\n"
	    "  - id: owner\n    effect: allow\n    callers: [unix:uid:%u]\n"
	    "    max_ttl: 15m\n    max_uses: 2\n",
	    (unsigned)getuid(), (unsigned)getuid());
	assert_int_equal(fclose(f), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = x->home;
	x->now_ms = al_clock_system()->now_ms(NULL);
	x->clock.now = fx_now;
	x->clock.now_ms = fx_now_ms;
	x->clock.arg = x;
	cfg.clock = &x->clock;
	cfg.log_fd = -1;
	assert_int_equal(broker_new(&cfg, v, &x->b, NULL), 0);
	assert_int_equal(al_secret_from(PIN, strlen(PIN), &pin), 0);
	assert_int_equal(vault_pin_set(x->home, pin, NULL), 0);
	al_secret_free(pin);
	x->child = spawn_orphan();
	who_init(&x->req, 1, x->child, NULL);
	who_init(&x->other, 2, 2000, NULL);
	who_init(&x->approver, 3, getpid(), "unix:user:test-approver");
	who_init(&x->self, 4, x->child, "unix:user:test-approver");
	*state = x;
	return 0;
}

static void
rm_rf(const char *dir)
{
	char cmd[160];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static int
teardown(void **state)
{
	struct fx *x = *state;

	(void)kill(x->child, SIGKILL);
	(void)waitpid(x->child, NULL, WNOHANG);
	broker_free(x->b);
	json_decref(x->body);
	al_secret_free(x->value);
	rm_rf(x->home);
	free(x);
	return 0;
}

/* One request; the status, the JSON body (if any) and value are kept. */
static int
call(struct fx *x, const struct who *w, const char *method, const char *path,
    const char *body)
{
	struct broker_req rq;
	struct broker_resp r;

	json_decref(x->body);
	x->body = NULL;
	al_secret_free(x->value);
	x->value = NULL;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.body.p = (const unsigned char *)(body ? body : "");
	rq.body.len = body ? strlen(body) : 0;
	rq.caller = &w->c;
	rq.no_wait = 1;
	broker_resp_init(&r);
	broker_dispatch(x->b, &rq, &r);
	x->need_sync = r.need_sync;
	assert_int_equal(broker_sync(x->b, NULL), 0);
	x->status = r.status;
	if (r.value != NULL) {
		x->value = r.value;
		r.value = NULL;
	} else if (r.body.len > 0 && r.content_type != NULL &&
	    strcmp(r.content_type, API_CT_JSON) == 0) {
		x->body = json_loadb((const char *)r.body.data, r.body.len, 0,
		    NULL);
		assert_non_null(x->body);
	}
	broker_resp_release(&r);
	return x->status;
}

static const char *
jstr(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(o, a), b);

	return json_is_string(v) ? json_string_value(v) : "";
}

static void
assert_value(struct fx *x)
{
	assert_non_null(x->value);
	assert_int_equal(al_secret_len(x->value), strlen(x->canary));
	assert_int_equal(sodium_memcmp(al_secret_open(x->value), x->canary,
	    strlen(x->canary)), 0);
	al_secret_close(x->value);
}

static void
lease_for(struct fx *x, const struct who *w, const char *secret,
    const char *task, char id[33])
{
	char body[256];

	(void)snprintf(body, sizeof(body), "{\"secret\":\"%s\",\"task\":\"%s\","
	    "\"intent\":\"deploy web\",\"ttl\":60}", secret, task);
	assert_int_equal(call(x, w, "POST", "/v1/leases", body), 201);
	(void)snprintf(id, 33, "%s", jstr(x->body, "lease", "id"));
	assert_int_equal(strlen(id), 32);
}

static void
test_grant_use_count(void **state)
{
	struct fx *x = *state;
	char id[33], path[96];

	lease_for(x, &x->req, "deploy-token", "t1", id);
	/* A grant releases no value: answered without waiting for a sync. */
	assert_int_equal(x->need_sync, 0);
	assert_string_equal(jstr(x->body, "lease", "state"), "live");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    x->body, "lease"), "uses_left")), 2);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", id);
	/* Only the holder gets the value. */
	assert_int_equal(call(x, &x->other, "GET", path, NULL), 403);
	assert_null(x->value);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	/* A value leaves only after its use line (and the grant's) is durable. */
	assert_int_equal(x->need_sync, 1);
	assert_value(x);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_int_equal(x->need_sync, 1);
	assert_value(x);
	/* max_uses 2: the third use finds the lease ended. */
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 410);
	assert_null(x->value);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_ENDED);
}

/* A transport's last look before a release: the peer changed. */
static int
recheck_exec(void *arg, struct al_err *err)
{
	(void)arg;
	return al_err_set(err, AL_EPERM, "process 1000 started another "
	    "program since it connected: reconnect");
}

/* The peer is the same process but now loads code from elsewhere. */
static int
recheck_untrusted(void *arg, struct al_err *err)
{
	static const char *const unknown[] = { "unix:exe", "unix:sha256" };
	struct who *w = arg;

	(void)err;
	w->s0[0] = '\0';		/* no unix:uid it could be matched by */
	w->c.unknown = unknown;
	w->c.nunknown = 2;
	return 0;
}

static void
test_release_identifies_the_holder_again(void **state)
{
	struct fx *x = *state;
	char id[33], path[96];

	lease_for(x, &x->req, "deploy-token", "t9", id);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", id);
	x->req.c.recheck = recheck_exec;
	x->req.c.recheck_arg = &x->req;
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 403);
	assert_null(x->value);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_FORBIDDEN);
	assert_string_equal(jstr(x->body, "error", "message"), "process 1000 "
	    "started another program since it connected: reconnect");
	x->req.c.recheck = recheck_untrusted;
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 403);
	assert_null(x->value);
	assert_string_equal(jstr(x->body, "error", "message"), "the caller no "
	    "longer passes the policy: no rule matched (default deny)");
	/* Neither refusal cost a use. */
	x->req.c.recheck = NULL;
	(void)snprintf(x->req.s0, sizeof(x->req.s0), "unix:uid:%u",
	    (unsigned)getuid());
	x->req.c.unknown = NULL;
	x->req.c.nunknown = 0;
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_value(x);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_value(x);
}

static void
test_deny_names_rule(void **state)
{
	struct fx *x = *state;

	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\",\"intent\":\"drop table users\"}"),
	    403);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_DENIED);
	assert_string_equal(jstr(x->body, "error", "rule"), "no-drops");
	assert_string_equal(jstr(x->body, "error", "message"),
	    "dropping is not allowed");
	/* An unknown secret is an audited denial with no rule. */
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"nope\"}"), 403);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_DENIED);
	assert_string_equal(jstr(x->body, "error", "rule"), "");
	/* Bad JSON, unknown route, wrong method. */
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases", "{\"secret\""),
	    400);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_BAD_REQUEST);
	assert_int_equal(call(x, &x->req, "GET", "/v1/nope", NULL), 404);
	assert_int_equal(call(x, &x->req, "PUT", "/v1/leases", "{}"), 405);
}

static void
pending_request(struct fx *x, char id[33], char path[96], const char *verb)
{
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"prod-db\",\"task\":\"t2\",\"intent\":\"migrate\"}"),
	    202);
	assert_string_equal(jstr(x->body, "approval", "state"), "pending");
	assert_string_equal(jstr(x->body, "approval", "rule"),
	    "prod-needs-approval");
	(void)snprintf(id, 33, "%s", jstr(x->body, "approval", "id"));
	(void)snprintf(path, 96, "/v1/approvals/%s/%s", id, verb);
}

static void
test_approval_flow(void **state)
{
	struct fx *x = *state;
	char id[33], path[96], lease[33], vpath[96];

	pending_request(x, id, path, "approve");
	assert_int_equal(call(x, &x->req, "GET", "/v1/approvals", NULL), 200);
	assert_int_equal(json_array_size(json_object_get(x->body,
	    "approvals")), 1);
	/* Not an approver. */
	assert_int_equal(call(x, &x->other, "POST", path, "{}"), 403);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_FORBIDDEN);
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "you are not an approver for rule 'prod-needs-approval'"));
	/* The requesting process cannot approve itself, selectors or not. */
	assert_int_equal(call(x, &x->self, "POST", path, "{}"), 403);
	assert_string_equal(jstr(x->body, "error", "message"),
	    "a process cannot approve its own request");
	assert_int_equal(call(x, &x->approver, "POST", path, PIN_BODY), 200);
	assert_string_equal(jstr(x->body, "approval", "state"), "approved");
	(void)snprintf(lease, sizeof(lease), "%s", jstr(x->body, "approval",
	    "lease"));
	assert_int_equal(strlen(lease), 32);
	/* Decided once. */
	assert_int_equal(call(x, &x->approver, "POST", path, PIN_BODY), 409);
	/* The lease is the requester's, not the approver's. */
	(void)snprintf(vpath, sizeof(vpath), "/v1/leases/%s/value", lease);
	assert_int_equal(call(x, &x->approver, "GET", vpath, NULL), 403);
	assert_int_equal(call(x, &x->req, "GET", vpath, NULL), 200);
	assert_value(x);

	/* Deny with a reason. */
	pending_request(x, id, path, "deny");
	assert_int_equal(call(x, &x->approver, "POST", path, "{}"), 400);
	assert_int_equal(call(x, &x->approver, "POST", path,
	    "{\"reason\":\"not during the freeze\"}"), 200);
	assert_string_equal(jstr(x->body, "approval", "state"), "denied");
	assert_string_equal(jstr(x->body, "approval", "reason"),
	    "not during the freeze");
}

static void
test_approval_needs_the_pin(void **state)
{
	struct fx *x = *state;
	char id[33], path[96];

	pending_request(x, id, path, "approve");
	/* No PIN: refused, before any check of one. */
	assert_int_equal(call(x, &x->approver, "POST", path, "{}"), 403);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_FORBIDDEN);
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "approving needs the approver PIN"));
	assert_int_equal(call(x, &x->approver, "POST", path, "{\"pin\":7}"),
	    400);
	/* A wrong PIN; then even the right one waits out the back-off. */
	assert_int_equal(call(x, &x->approver, "POST", path,
	    "{\"pin\":\"not it\"}"), 403);
	assert_string_equal(jstr(x->body, "error", "message"),
	    "wrong approver PIN (1 in a row; the next try is checked in 1 s)");
	assert_int_equal(call(x, &x->approver, "POST", path, PIN_BODY), 429);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_RATE);
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "too many wrong approver PINs: try again in"));
	call(x, &x->approver, "GET", "/v1/approvals", NULL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(x->body, "approvals"), 0), "state")), "pending");
}

static void
test_approval_from_the_requesters_tree(void **state)
{
	struct fx *x = *state;
	struct who req, kid, sib;
	char id[33], path[96];
	pid_t same = spawn_idle(0);

	/* The requester is this process; the approver its child. */
	who_init(&req, 7, getpid(), NULL);
	who_init(&kid, 8, x->child, "unix:user:test-approver");
	assert_int_equal(call(x, &req, "POST", "/v1/leases",
	    "{\"secret\":\"prod-db\"}"), 202);
	(void)snprintf(id, sizeof(id), "%s", jstr(x->body, "approval", "id"));
	(void)snprintf(path, sizeof(path), "/v1/approvals/%s/approve", id);
	/* x->child runs in a session of its own: the ancestry decides. */
	(void)kill(x->child, SIGKILL);
	x->child = spawn_idle(1);
	who_init(&kid, 8, x->child, "unix:user:test-approver");
	assert_int_equal(call(x, &kid, "POST", path, PIN_BODY), 403);
	assert_string_equal(jstr(x->body, "error", "message"),
	    "an approval cannot come from the requester's own process tree");
	/* Not a descendant, but the requester's session: refused too. */
	who_init(&sib, 9, same, "unix:user:test-approver");
	assert_int_equal(call(x, &sib, "POST", path, PIN_BODY), 403);
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "requester's own session"));
	(void)kill(same, SIGKILL);
	(void)waitpid(same, NULL, 0);
	/* A process that is gone cannot be placed: refused (fail closed). */
	assert_int_equal(call(x, &sib, "POST", path, PIN_BODY), 403);
	assert_string_equal(jstr(x->body, "error", "message"),
	    "the approver's process cannot be read: refused");	/* The requester's parent, in a session of its own: refused. */
	assert_int_equal(call(x, &kid, "POST", "/v1/leases",
	    "{\"secret\":\"prod-db\"}"), 202);
	(void)snprintf(path, sizeof(path), "/v1/approvals/%s/approve",
	    jstr(x->body, "approval", "id"));
	who_init(&sib, 10, getpid(), "unix:user:test-approver");
	assert_int_equal(call(x, &sib, "POST", path, PIN_BODY), 403);
	assert_string_equal(jstr(x->body, "error", "message"),
	    "an approval cannot come from a process that started the "
	    "requester");
}

static void
test_redact_masks_whole_values_only(void **state)
{
	struct fx *x = *state;
	char body[512], want[256], prefix[40];
	json_t *t;

	/* deploy-token and prod-db share the canary: either name masks it. */
	memcpy(prefix, x->canary, 20);
	prefix[20] = '\0';
	(void)snprintf(body, sizeof(body), "{\"texts\":[\"a %s b\",\"end %s\","
	    "\"x\"],\"intent\":\"hook\"}", x->canary, prefix);
	assert_int_equal(call(x, &x->req, "POST", "/v1/redact", body), 200);
	t = json_object_get(x->body, "texts");
	assert_int_equal(json_array_size(t), 3);
	assert_non_null(strstr(json_string_value(json_array_get(t, 0)),
	    "a [REDACTED:"));
	assert_null(strstr(json_string_value(json_array_get(t, 0)),
	    x->canary));
	/* A prefix of a value at the end comes back as it was. */
	(void)snprintf(want, sizeof(want), "end %s", prefix);
	assert_string_equal(json_string_value(json_array_get(t, 1)), want);
	assert_string_equal(json_string_value(json_array_get(t, 2)), "x");
	assert_int_equal(json_integer_value(json_object_get(x->body,
	    "masks")), 1);
	/* Nothing was leased and no approval opened (prod-db needs one). */
	assert_int_equal(call(x, &x->req, "GET", "/v1/approvals", NULL), 200);
	assert_int_equal(json_array_size(json_object_get(x->body,
	    "approvals")), 0);
	assert_int_equal(call(x, &x->req, "GET", "/v1/leases", NULL), 200);
	assert_int_equal(json_array_size(json_object_get(x->body, "leases")),
	    0);
	/* Bad bodies. */
	assert_int_equal(call(x, &x->req, "POST", "/v1/redact", "{}"), 400);
	assert_int_equal(call(x, &x->req, "POST", "/v1/redact",
	    "{\"texts\":[\"a\"],\"colour\":1}"), 400);
}

static void
test_revoke_task(void **state)
{
	struct fx *x = *state;
	char a[33], b[33], c[33], path[96];

	lease_for(x, &x->req, "deploy-token", "t9", a);
	lease_for(x, &x->req, "deploy-token", "t9", b);
	lease_for(x, &x->req, "deploy-token", "t8", c);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases/revoke",
	    "{\"task\":\"t9\"}"), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body,
	    "revoked")), 2);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", a);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 410);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", c);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_value(x);
	/* Revoke one by id; revoked stays revoked. */
	(void)snprintf(path, sizeof(path), "/v1/leases/%s", c);
	assert_int_equal(call(x, &x->req, "DELETE", path, NULL), 200);
	assert_string_equal(jstr(x->body, "lease", "state"), "revoked");
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", c);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 410);
}

/*
 * GET /v1/leases?ids=IDS&wait=5 as the transport dispatches it: 0 when the
 * request is to be parked (a long poll on leases), else the status, with
 * the first reason that is not null in why ("" when none).
 */
static int
watch(struct fx *x, const char *ids, char *why, size_t whysz)
{
	struct broker_req rq;
	struct broker_resp r;
	char query[128];
	json_t *j, *l;
	size_t i;
	int st;

	(void)snprintf(query, sizeof(query), "ids=%s&wait=5", ids);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.path = "/v1/leases";
	rq.query = query;
	rq.body.p = (const unsigned char *)"";
	rq.caller = &x->req.c;
	broker_resp_init(&r);
	broker_dispatch(x->b, &rq, &r);
	st = r.status;
	why[0] = '\0';
	if (st == 0) {
		assert_true(r.wait_leases);
		assert_true(r.wait_until_ms > 0);
	} else if (st == 200) {
		assert_non_null(j = json_loadb((const char *)r.body.data,
		    r.body.len, 0, NULL));
		assert_true(json_array_size(json_object_get(j,
		    "leases")) > 0);
		json_array_foreach(json_object_get(j, "leases"), i, l) {
			assert_non_null(json_object_get(l, "reason"));
			if (why[0] == '\0' && json_is_string(
			    json_object_get(l, "reason")))
				(void)snprintf(why, whysz, "%s",
				    json_string_value(json_object_get(l,
				    "reason")));
		}
		json_decref(j);
	}
	broker_resp_release(&r);
	return st;
}

/*
 * A watch on live leases is parked; once one ends it is answered with the
 * broker's reason: revoked, expired; a lease used up by its holder is
 * still in use.
 */
static void
test_lease_watch_answers_when_a_lease_ends(void **state)
{
	struct fx *x = *state;
	char a[33], b[33], c[33], ids[80], path[96], why[128];

	lease_for(x, &x->req, "deploy-token", "w1", a);
	lease_for(x, &x->req, "deploy-token", "w2", b);
	lease_for(x, &x->req, "deploy-token", "w3", c);
	(void)snprintf(ids, sizeof(ids), "%s,%s", a, b);
	assert_int_equal(watch(x, ids, why, sizeof(why)), 0);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s", b);
	assert_int_equal(call(x, &x->req, "DELETE", path, NULL), 200);
	assert_int_equal(watch(x, ids, why, sizeof(why)), 200);
	assert_string_equal(why, "revoked by request");
	/* max_uses 2: used up by its holder, still in use. */
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", a);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_int_equal(watch(x, a, why, sizeof(why)), 0);
	/* Past its TTL (60 s). */
	__atomic_add_fetch(&x->now_ms, 61000, __ATOMIC_SEQ_CST);
	assert_int_equal(watch(x, c, why, sizeof(why)), 200);
	assert_string_equal(why, "expired");
	/* Someone else's lease, or none, is unknown; ids must be ids. */
	assert_int_equal(watch(x, "0123456789abcdef0123456789abcdef", why,
	    sizeof(why)), 404);
	assert_int_equal(watch(x, "nope", why, sizeof(why)), 400);
}

/* No file under home holds the canary. */
static void
assert_no_canary(const char *dir, const char *canary)
{
	char path[512], *buf;
	struct dirent *e;
	struct stat st;
	DIR *d;
	FILE *f;
	size_t n;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			assert_no_canary(path, canary);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0)
			continue;
		assert_non_null(f = fopen(path, "rb"));
		assert_non_null(buf = malloc((size_t)st.st_size + 1));
		n = fread(buf, 1, (size_t)st.st_size, f);
		buf[n] = '\0';
		(void)fclose(f);
		if (memmem(buf, n, canary, strlen(canary)) != NULL)
			fail_msg("the value appears in %s", path);
		free(buf);
	}
	(void)closedir(d);
}

/*
 * A secret that cannot be marked exposed (no room for the labels) still
 * loses its live leases at once, and the caller is told.
 */
static void
test_exposure_unmarked_still_ends_access(void **state)
{
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct fx *x = *state;
	struct vault_label l[VAULT_LIST_MAX];
	struct vault_meta m;
	struct al_secret *val;
	struct vault *v = NULL;
	char keys[VAULT_LIST_MAX][8], a[33], vpath[96];
	size_t i;

	memset(&m, 0, sizeof(m));
	(void)snprintf(m.name, sizeof(m.name), "full-labels");
	m.owner = "test";
	m.purpose = "unit test";
	for (i = 0; i < VAULT_LIST_MAX; i++) {
		(void)snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		l[i].key = keys[i];
		l[i].value = "v";
	}
	m.labels = l;
	m.nlabels = VAULT_LIST_MAX;
	assert_int_equal(vault_open(x->home, al_clock_system(), &v, NULL), 0);
	assert_int_equal(vault_unlock(v, &key, NULL), 0);
	assert_int_equal(al_secret_from(x->canary, strlen(x->canary), &val),
	    0);
	assert_int_equal(vault_secret_add(v, &m, val, NULL), 0);
	al_secret_free(val);
	vault_close(v);
	lease_for(x, &x->req, "full-labels", "t1", a);
	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures",
	    "{\"secret\":\"full-labels\",\"where\":\"x\",\"source\":"
	    "\"hook\"}"), 413);
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "could not be marked exposed"));
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "1 live lease(s) were revoked"));
	(void)snprintf(vpath, sizeof(vpath), "/v1/leases/%s/value", a);
	assert_int_equal(call(x, &x->req, "GET", vpath, NULL), 410);
}

static void
test_exposure_ends_access_at_once(void **state)
{
	struct fx *x = *state;
	struct who stranger;
	char a[33], id[33], path[96], vpath[96];

	lease_for(x, &x->req, "deploy-token", "t1", a);
	pending_request(x, id, path, "approve");
	(void)snprintf(vpath, sizeof(vpath), "/v1/leases/%s/value", a);
	/* Not the owner: refused, nothing ended. */
	who_init(&stranger, 5, 2001, NULL);
	stranger.c.uid = getuid() + 1;
	assert_int_equal(call(x, &stranger, "POST", "/v1/exposures",
	    "{\"secret\":\"deploy-token\",\"where\":\"x\",\"source\":"
	    "\"hook\"}"), 403);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_FORBIDDEN);
	assert_int_equal(call(x, &x->req, "GET", vpath, NULL), 200);
	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures",
	    "{\"secret\":\"deploy-token\",\"where\":\"x\"}"), 400);
	/* An unknown name is not echoed: it may be a value. */
	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures",
	    "{\"secret\":\"deploy-tokn\",\"where\":\"x\",\"source\":"
	    "\"hook\"}"), 404);
	assert_null(strstr(jstr(x->body, "error", "message"), "deploy-tokn"));

	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures",
	    "{\"secret\":\"deploy-token\",\"where\":\"claude hook "
	    "PostToolUse\",\"source\":\"hook\"}"), 200);
	assert_true(json_is_true(json_object_get(x->body, "first")));
	assert_int_equal(json_integer_value(json_object_get(x->body,
	    "revoked")), 1);
	assert_int_equal(json_integer_value(json_object_get(x->body,
	    "time_to_revoke_ms")), 0);
	assert_int_equal(call(x, &x->req, "GET", vpath, NULL), 410);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\"}"), 403);
	assert_non_null(strstr(jstr(x->body, "error", "message"),
	    "is exposed since "));
	/* Seen again: the same exposure, nothing left to end. */
	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures",
	    "{\"secret\":\"deploy-token\",\"where\":\"y\",\"source\":"
	    "\"sweep\"}"), 200);
	assert_true(json_is_false(json_object_get(x->body, "first")));
	assert_int_equal(json_integer_value(json_object_get(x->body,
	    "revoked")), 0);

	/* A pending approval of an exposed secret is denied. */
	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures",
	    "{\"secret\":\"prod-db\",\"where\":\"guard /v1/messages\","
	    "\"source\":\"guard\"}"), 200);
	assert_int_equal(json_integer_value(json_object_get(x->body,
	    "denied")), 1);
	(void)snprintf(path, sizeof(path), "/v1/approvals/%s", id);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_string_equal(jstr(x->body, "approval", "state"), "denied");
	assert_no_canary(x->home, x->canary);
}


static void
test_audit_verifies(void **state)
{
	struct fx *x = *state;
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct audit_report rep;
	struct al_secret *k = NULL;
	struct vault *v = NULL;
	char id[33], path[128], *log;
	FILE *f;
	long n;

	lease_for(x, &x->req, "deploy-token", "t5", id);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", id);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\",\"intent\":\"drop it\"}"), 403);
	broker_free(x->b);
	x->b = NULL;
	assert_int_equal(vault_open(x->home, al_clock_system(), &v, NULL), 0);
	assert_int_equal(vault_unlock(v, &key, NULL), 0);
	assert_int_equal(vault_aux_key(v, "audit", &k, NULL), 0);
	(void)snprintf(path, sizeof(path), "%s/audit.log", x->home);
	assert_int_equal(audit_verify(path, k, &rep, NULL), 0);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_true(rep.head_checked);
	assert_true(rep.lines >= 5);
	al_secret_free(k);
	vault_close(v);
	/* grant, use, deny with its rule, all there; the value nowhere. */
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	assert_non_null(log = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(log, 1, (size_t)n, f), (size_t)n);
	(void)fclose(f);
	assert_non_null(strstr(log, "\"event\":\"grant\""));
	assert_non_null(strstr(log, "\"event\":\"use\""));
	assert_non_null(strstr(log, "\"rule\":\"no-drops\""));
	assert_non_null(strstr(log, id));
	free(log);
	assert_no_canary(x->home, x->canary);
}

/*
 * Free text holding the whole value of a secret is refused, naming the
 * field and not the secret; a plain value that another process (the CLI)
 * adds to the vault while the broker runs is caught at once; neither
 * value is written anywhere.
 */
static void
test_text_holding_a_value_is_refused(void **state)
{
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct fx *x = *state;
	struct vault *v = NULL;
	unsigned char rnd[4];
	char body[256], pw[9];

	(void)snprintf(body, sizeof(body), "{\"secret\":\"deploy-token\","
	    "\"intent\":\"use-%s-now\"}", x->canary);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases", body), 400);
	assert_non_null(strstr(jstr(x->body, "error", "message"), "'intent' "
	    "holds the value of a secret"));
	assert_null(strstr(jstr(x->body, "error", "message"), "deploy-token"));
	assert_int_equal(x->need_sync, 1);	/* its deny line */
	/*
	 * Past the second in which a change might not show in the files'
	 * times: from here on the set is rebuilt only when they change.
	 */
	__atomic_add_fetch(&x->now_ms, 5000, __ATOMIC_SEQ_CST);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\",\"task\":\"fix-issue-4211\","
	    "\"intent\":\"deploy 2026-12-07\"}"), 201);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
	assert_int_equal(vault_open(x->home, al_clock_system(), &v, NULL), 0);
	assert_int_equal(vault_unlock(v, &key, NULL), 0);
	add(v, "late", pw, 0);
	vault_close(v);
	(void)snprintf(body, sizeof(body), "{\"task\":\"%s\"}", pw);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases/revoke", body),
	    400);
	assert_non_null(strstr(jstr(x->body, "error", "message"), "'task' "
	    "holds the value of a secret"));
	(void)snprintf(body, sizeof(body), "{\"reason\":\"no (%s)\"}", pw);
	assert_int_equal(call(x, &x->approver, "POST", "/v1/approvals/"
	    "0123456789abcdef0123456789abcdef/deny", body), 400);
	/* An exposure is acted on, the value withheld from its where. */
	(void)snprintf(body, sizeof(body), "{\"secret\":\"prod-db\","
	    "\"where\":\"file /tmp/%s\",\"source\":\"sweep\"}", pw);
	assert_int_equal(call(x, &x->req, "POST", "/v1/exposures", body), 200);
	assert_int_equal(broker_sync(x->b, NULL), 0);
	assert_no_canary(x->home, x->canary);
	assert_no_canary(x->home, pw);
}

/*
 * Refusals answer "did the text hold a value", a way to test guesses at a
 * plain password: after ten in a minute, the uid's free text is refused
 * unchecked until the minute is over; empty texts still pass.
 */
static void
test_text_refusals_are_limited_per_user(void **state)
{
	struct fx *x = *state;
	char body[256];
	int i;

	(void)snprintf(body, sizeof(body), "{\"secret\":\"deploy-token\","
	    "\"task\":\"%s\"}", x->canary);
	for (i = 0; i < 10; i++)
		assert_int_equal(call(x, &x->req, "POST", "/v1/leases", body),
		    400);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases", body), 429);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\",\"task\":\"t1\"}"), 429);
	assert_non_null(strstr(jstr(x->body, "error", "message"), "'task' "
	    "was not checked or recorded: too many texts"));
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\"}"), 201);
	__atomic_add_fetch(&x->now_ms, 60000, __ATOMIC_SEQ_CST);
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\",\"task\":\"t1\"}"), 201);
	assert_no_canary(x->home, x->canary);
}

/*
 * A value whose use line could not be made durable is not released: the
 * broker says so in the log ("use" "withheld"), ends the lease, answers
 * 503 while the log fails, and serves again once a retry works.
 */
static void
test_value_not_released_is_recorded(void **state)
{
	struct fx *x = *state;
	struct broker_req rq;
	struct broker_resp r;
	struct al_err err;
	char id[33], path[128], *log, *p;
	FILE *f;
	long n;

	lease_for(x, &x->req, "deploy-token", "t7", id);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", id);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.path = path;
	rq.body.p = (const unsigned char *)"";
	rq.caller = &x->req.c;
	broker_resp_init(&r);
	broker_dispatch(x->b, &rq, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.need_sync, 1);
	assert_string_equal(r.value_lease, id);
	/* The sync fails: the transport withholds the value. */
	(void)al_err_set(&err, AL_EIO, "cannot sync the audit log: I/O error");
	assert_int_not_equal(broker_synced(x->b, AL_EIO, 0, &err), 0);
	broker_withheld(x->b, r.value_lease);
	broker_resp_release(&r);
	assert_int_equal(call(x, &x->req, "GET", "/v1/health", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(x->body,
	    "status")), "unavailable");
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\"}"), 503);
	assert_string_equal(jstr(x->body, "error", "code"), API_E_UNAVAILABLE);
	(void)snprintf(path, sizeof(path), "/v1/leases/%s", id);
	assert_int_equal(call(x, &x->req, "GET", path, NULL), 200);
	assert_string_equal(jstr(x->body, "lease", "state"), "revoked");
	/* A second later the broker tries again, and the log works. */
	__atomic_add_fetch(&x->now_ms, 1500, __ATOMIC_SEQ_CST);
	(void)broker_tick(x->b);
	assert_int_equal(call(x, &x->req, "GET", "/v1/health", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(x->body,
	    "status")), "ok");
	assert_int_equal(call(x, &x->req, "POST", "/v1/leases",
	    "{\"secret\":\"deploy-token\"}"), 201);
	(void)snprintf(path, sizeof(path), "%s/audit.log", x->home);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	assert_non_null(log = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(log, 1, (size_t)n, f), (size_t)n);
	(void)fclose(f);
	/* use ok, then use withheld and the lease's end, then the resume. */
	assert_non_null(p = strstr(log, "\"event\":\"use\",\"outcome\":\"ok\""));
	assert_non_null(p = strstr(p, "\"event\":\"use\",\"outcome\":"
	    "\"withheld\""));
	assert_non_null(strstr(p, id));
	assert_non_null(p = strstr(p, "\"event\":\"revoke\""));
	assert_non_null(p = strstr(p, "\"event\":\"audit_resume\""));
	free(log);
}

/* The library found at build time has every function the broker calls. */
static void
test_mhd_dl_loads_every_function(void **state)
{
	struct mhd_dl t, zero;
	struct al_err err;

	(void)state;
	assert_int_equal(mhd_dl_open(&t, MHD_DL_SONAME, &err), 0);
	assert_non_null(t.handle);
#define CHECK(field, fn)	assert_non_null(t.field);
	MHD_DL_FUNCS(CHECK)
#undef CHECK
	mhd_dl_close(&t);
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&t, &zero, sizeof(t));
	mhd_dl_close(&t);	/* a cleared table: no-op */
}

static void
test_mhd_dl_missing_library_names_it_and_who_needs_it(void **state)
{
	const char *f = "libmicrohttpd.so.0-airlock-test-missing";
	struct mhd_dl t, zero;
	struct al_err err;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(mhd_dl_open(&t, f, &err), AL_ESYS);
	assert_int_equal(err.code, AL_ESYS);
	assert_string_equal(err.msg, "airlock serve needs libmicrohttpd "
	    "(libmicrohttpd.so.0-airlock-test-missing): "
	    "libmicrohttpd.so.0-airlock-test-missing: cannot open shared "
	    "object file: No such file or directory");
	assert_memory_equal(&t, &zero, sizeof(t));
}

/* Another library in its place: the first missing function is named. */
static void
test_mhd_dl_wrong_library_names_the_function(void **state)
{
	struct mhd_dl t, zero;
	struct al_err err;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(mhd_dl_open(&t, "libc.so.6", &err), AL_ESYS);
	assert_int_equal(strncmp(err.msg, "airlock serve needs libmicrohttpd "
	    "(libc.so.6): ", 47), 0);
	assert_non_null(strstr(err.msg, "undefined symbol: MHD_start_daemon"));
	assert_memory_equal(&t, &zero, sizeof(t));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_text_holding_a_value_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_text_refusals_are_limited_per_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_use_count, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_release_identifies_the_holder_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_names_rule, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approval_flow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approval_needs_the_pin,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_approval_from_the_requesters_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_redact_masks_whole_values_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_task, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lease_watch_answers_when_a_lease_ends, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_exposure_ends_access_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_exposure_unmarked_still_ends_access, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_value_not_released_is_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_verifies, setup,
		    teardown),
		cmocka_unit_test(test_mhd_dl_loads_every_function),
		cmocka_unit_test(
		    test_mhd_dl_missing_library_names_it_and_who_needs_it),
		cmocka_unit_test(test_mhd_dl_wrong_library_names_the_function),
	};

	if (sodium_init() < 0)
		return 1;
	if (in_own_session() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_broker: arbitrary requests into broker_dispatch over a real vault
 * with two secrets (one needing approval).  Input: "METHOD\nPATH\nQUERY\n"
 * then the body; the caller is the owner on connection 1 or 2 (first byte
 * of the path's length parity), so lease, use, revoke and approval routes
 * all reach their handlers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/broker.h"
#include "airlock/vault.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct broker *B;

static void
add(struct vault *v, const char *name, int approval)
{
	struct vault_meta m;
	struct vault_label l = { "approval", "required" };
	struct al_secret *val;

	memset(&m, 0, sizeof(m));
	(void)snprintf(m.name, sizeof(m.name), "%s", name);
	m.owner = "fuzz";
	m.purpose = "fuzzing";
	if (approval) {
		m.labels = &l;
		m.nlabels = 1;
	}
	if (al_secret_from("fuzz-value-0123456789", 21, &val) != 0 ||
	    vault_secret_add(v, &m, val, NULL) != 0)
		abort();
	al_secret_free(val);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char tmpl[4096];
	const char *tmp = getenv("TMPDIR");
	char *home;
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct broker_config cfg;
	struct vault *v = NULL;

	(void)argc;
	(void)argv;
	/* Under TMPDIR, which scripts/fuzz.sh removes after the run. */
	(void)snprintf(tmpl, sizeof(tmpl), "%s/airlock-fuzz-broker.XXXXXX",
	    tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (sodium_init() < 0 || (home = mkdtemp(tmpl)) == NULL)
		abort();
	if (vault_create(home, &key, al_clock_system(), NULL) != 0 ||
	    vault_open(home, al_clock_system(), &v, NULL) != 0 ||
	    vault_unlock(v, &key, NULL) != 0)
		abort();
	add(v, "deploy-token", 0);
	add(v, "prod-db", 1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = home;
	cfg.clock = al_clock_system();
	cfg.log_fd = -1;
	if (broker_new(&cfg, v, &B, NULL) != 0)
		abort();
	return 0;
}

/* The next '\n'-terminated field of [*p, end) as a new string. */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += n + (nl != NULL);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *method, *path, *query, sel[32];
	const char *sels[1] = { sel };
	struct broker_caller c;
	struct broker_req rq;
	struct broker_resp r;

	method = field(&p, end);
	path = field(&p, end);
	query = field(&p, end);
	memset(&c, 0, sizeof(c));
	c.conn = 1 + (strlen(path) & 1);
	c.uid = getuid();
	c.gid = getgid();
	c.pid = getpid() + (pid_t)(c.conn - 1);
	(void)snprintf(sel, sizeof(sel), "unix:uid:%u", (unsigned)c.uid);
	c.selectors = sels;
	c.nselectors = 1;
	(void)snprintf(c.holder, sizeof(c.holder), "uid=%u,pid=%ld,start=1",
	    (unsigned)c.uid, (long)c.pid);
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.query = query[0] ? query : NULL;
	rq.body.p = p;
	rq.body.len = (size_t)(end - p);
	rq.caller = &c;
	rq.no_wait = 1;
	broker_resp_init(&r);
	broker_dispatch(B, &rq, &r);
	if (r.status < 200 || r.status > 599)
		abort();
	(void)broker_sync(B, NULL);
	broker_resp_release(&r);
	(void)broker_tick(B);
	if (size > 0 && data[0] == 'X')
		broker_conn_closed(B, c.conn);
	free(method);
	free(path);
	free(query);
	return 0;
}

/*
 * /v1/proxies: a run's credential-injecting proxy (`airlock run --proxy`).
 *
 * The run leases its secrets (bound to its connection) but never fetches
 * them: it asks for a proxy instead.  The values are read from the vault
 * here, handed to the proxy (its own threads, in this process), and the
 * run gets only placeholders, the proxy's port and credential, and the
 * run's CA certificate.  So no process the agent controls holds a value.
 *
 * The proxy ends with the run: DELETE by the run, its connection closing,
 * or any of its leases ending (revoked, expired).  Proxy threads report
 * each request as an event; they are queued here and written to the audit
 * log on the broker's loop (woken through an eventfd), never from a proxy
 * thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/proxy.h"
#include "broker_int.h"

#define QUEUE_MAX	4096	/* events waiting for the loop */
#define INJECT_LABEL	"airlock.inject"
#define HEADERS_LABEL	"airlock.headers"
#define FORMAT_LABEL	"airlock.format"

struct pev {
	char		 run[33];
	char		 event[24];
	char		 secret[VAULT_NAME_MAX + 1];
	char		 host[256];
	int		 port;
	char		 method[24];
	char		 path[512];
	int		 status;
	uint64_t	 up, down;
	char		 reason[320];
	struct pev	*next;
};

struct bproxy {
	char			 id[33];
	uint64_t		 conn;
	struct proxy_run	*run;
	json_t			*caller;
	char			 task[API_TEXT_MAX + 1];
	char			 intent[API_TEXT_MAX + 1];
	size_t			 n;
	char			 secret[PROXY_SECRETS_MAX][VAULT_NAME_MAX + 1];
	char			 lease[PROXY_SECRETS_MAX][LEASE_ID_LEN + 1];
	uint64_t		 requests;
	struct bproxy		*next;
};

struct broker_proxies {
	struct proxy		*hub;
	int			 evfd;
	pthread_mutex_t		 lock;		/* the queue */
	pthread_cond_t		 room;		/* the queue has room */
	struct pev		*head, *tail;
	size_t			 qlen;
	int			 closing;	/* the broker stops: never wait */
	uint64_t		 dropped;	/* events lost while closing */
	struct bproxy		*list;
	uint64_t		 seen_writes;
};

/* From a proxy thread: queue the event, wake the loop. */
static void
on_event(void *arg, const struct proxy_event *e)
{
	struct broker_proxies *px = arg;
	struct pev *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return;
	(void)snprintf(v->run, sizeof(v->run), "%s", e->run_id);
	(void)snprintf(v->event, sizeof(v->event), "%s", e->event);
	(void)snprintf(v->secret, sizeof(v->secret), "%s",
	    e->secret ? e->secret : "");
	(void)snprintf(v->host, sizeof(v->host), "%s", e->host);
	v->port = e->port;
	(void)snprintf(v->method, sizeof(v->method), "%s",
	    e->method ? e->method : "");
	(void)snprintf(v->path, sizeof(v->path), "%s", e->path ? e->path : "");
	v->status = e->status;
	v->up = e->bytes_up;
	v->down = e->bytes_down;
	(void)snprintf(v->reason, sizeof(v->reason), "%s",
	    e->reason ? e->reason : "");
	pthread_mutex_lock(&px->lock);
	/*
	 * A full queue holds the proxy thread back (its client waits)
	 * rather than losing a line: every request is audited.
	 */
	while (px->qlen >= QUEUE_MAX && !px->closing)
		pthread_cond_wait(&px->room, &px->lock);
	if (px->qlen >= QUEUE_MAX) {
		px->dropped++;
		free(v);
	} else {
		if (px->tail)
			px->tail->next = v;
		else
			px->head = v;
		px->tail = v;
		px->qlen++;
	}
	pthread_mutex_unlock(&px->lock);
	(void)al_event_post(px->evfd);
}

static struct broker_proxies *
proxies(struct broker *b, struct al_err *err)
{
	struct broker_proxies *px = b->proxies;

	if (px != NULL)
		return px;
	if ((px = calloc(1, sizeof(*px))) == NULL) {
		(void)al_err_set(err, AL_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&px->lock, NULL);
	pthread_cond_init(&px->room, NULL);
	if ((px->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		(void)al_err_set(err, AL_ESYS, "eventfd failed");
		pthread_cond_destroy(&px->room);
		pthread_mutex_destroy(&px->lock);
		free(px);
		return NULL;
	}
	b->proxies = px;
	return px;
}

int
proxies_fd(struct broker *b)
{
	struct broker_proxies *px = proxies(b, NULL);

	return px != NULL ? px->evfd : -1;
}

static struct bproxy *
find_run(struct broker_proxies *px, const char *id)
{
	struct bproxy *x;

	for (x = px->list; x != NULL; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

/* Write the queued events to the audit log (the loop syncs them). */
void
proxies_drain(struct broker *b)
{
	struct broker_proxies *px = b->proxies;
	struct pev *v, *next;
	struct bproxy *x;
	struct al_err err;
	json_t *detail;
	const char *lease;
	size_t i;

	if (px == NULL)
		return;
	(void)al_event_take(px->evfd);
	pthread_mutex_lock(&px->lock);
	v = px->head;
	px->head = px->tail = NULL;
	px->qlen = 0;
	pthread_cond_broadcast(&px->room);
	pthread_mutex_unlock(&px->lock);
	for (; v != NULL; v = next) {
		next = v->next;
		x = find_run(px, v->run);
		lease = NULL;
		for (i = 0; x != NULL && i < x->n; i++)
			if (strcmp(x->secret[i], v->secret) == 0)
				lease = x->lease[i];
		if (x != NULL)
			x->requests++;
		detail = json_pack("{s:s,s:s,s:i,s:s,s:s,s:i,s:I,s:I}", "proxy",
		    v->run, "host", v->host, "port", v->port, "method",
		    v->method, "path", v->path, "status", v->status,
		    "bytes_up", (json_int_t)v->up, "bytes_down",
		    (json_int_t)v->down);
		if (record(b, v->event, strcmp(v->event, "egress_blocked") ==
		    0 ? "denied" : v->status < 400 ? "ok" : "error",
		    x ? x->caller : NULL, v->secret[0] ? v->secret : NULL,
		    lease, x ? x->task : NULL, x ? x->intent : NULL,
		    v->reason, NULL, detail, &err) != 0)
			broker_log(b, "cannot audit a proxied request: %s",
			    err.msg);
		json_decref(detail);
		free(v);
	}
}

static void
end_run(struct broker *b, struct bproxy *x, const char *why)
{
	struct broker_proxies *px = b->proxies;
	struct bproxy **pp;
	struct al_err err;

	proxy_run_end(px->hub, x->run);
	proxies_drain(b);
	for (pp = &px->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	if (record(b, "proxy_end", "ok", x->caller, NULL, NULL, x->task,
	    x->intent, why, NULL, NULL, &err) != 0)
		broker_log(b, "%s", err.msg);
	broker_log(b, "proxy %s ended: %s", x->id, why);
	json_decref(x->caller);
	free(x);
}

void
proxies_conn_closed(struct broker *b, uint64_t conn)
{
	struct broker_proxies *px = b->proxies;
	struct bproxy *x, *next;

	if (px == NULL)
		return;
	for (x = px->list; x != NULL; x = next) {
		next = x->next;
		if (x->conn == conn)
			end_run(b, x, "the run's connection closed");
	}
}

/* A lease that still backs a proxy: taken (live or used up), not ended. */
static int
lease_backs(struct broker *b, const char *id)
{
	struct lease l;

	if (lease_get(b->leases, id, &l, NULL) != 0)
		return 0;
	return (l.state == LEASE_LIVE || l.state == LEASE_USED_UP) &&
	    l.expires > b->clock->now(b->clock->arg);
}

void
proxies_tick(struct broker *b)
{
	struct broker_proxies *px = b->proxies;
	struct bproxy *x, *next;
	size_t i;

	if (px == NULL || px->list == NULL)
		return;
	/* Unaudited traffic must not go on: end every run. */
	if (b->audit_failed) {
		while (px->list != NULL)
			end_run(b, px->list, "the audit log failed");
		return;
	}
	if (lease_table_writes(b->leases) == px->seen_writes)
		return;
	px->seen_writes = lease_table_writes(b->leases);
	for (x = px->list; x != NULL; x = next) {
		next = x->next;
		for (i = 0; i < x->n; i++)
			if (!lease_backs(b, x->lease[i])) {
				end_run(b, x, "a lease of the run ended");
				break;
			}
	}
}

void
proxies_free(struct broker *b)
{
	struct broker_proxies *px = b->proxies;

	if (px == NULL)
		return;
	while (px->list != NULL)
		end_run(b, px->list, "the broker stops");
	pthread_mutex_lock(&px->lock);
	px->closing = 1;
	pthread_cond_broadcast(&px->room);
	pthread_mutex_unlock(&px->lock);
	proxy_free(px->hub);
	proxies_drain(b);
	if (px->dropped)
		broker_log(b, "%llu proxied requests were not audited: the "
		    "broker was stopping", (unsigned long long)px->dropped);
	close(px->evfd);
	pthread_cond_destroy(&px->room);
	pthread_mutex_destroy(&px->lock);
	free(px);
	b->proxies = NULL;
}

int
proxy_use_only(struct route_args *a, const struct lease *l, json_t *who,
    const struct policy_decision *dp)
{
	struct broker *b = a->b;
	const struct policy_decision d = *dp;
	struct al_err err;
	char msg[POLICY_ID_MAX + LEASE_TEXT_MAX + 128];
	int rc = 0;

	if (d.effect == POLICY_DENY || !d.use_proxy)
		goto out;
	rc = 1;
	(void)snprintf(msg, sizeof(msg), "rule '%s' lets secret '%s' be used "
	    "only through the proxy (airlock run --proxy)", d.rule, l->secret);
	if (record(b, "use", "denied", who, l->secret, l->id, l->task,
	    l->intent, msg, NULL, NULL, &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	b->metrics.denials++;
	reply_json(a->resp, 403, json_pack("{s:{s:s,s:s,s:s,s:i}}",
	    API_F_ERROR, API_F_CODE, API_E_DENIED, API_F_MESSAGE, msg,
	    API_F_RULE, d.rule, "rule_line", d.line));
	a->resp->need_sync = 1;
out:
	return rc;
}

/* The secret's opt-ins, from its "airlock.inject" label. */
static int
inject_of(const struct vault_meta *m)
{
	size_t i;
	int f = 0;

	for (i = 0; i < m->nlabels; i++) {
		if (strcmp(m->labels[i].key, INJECT_LABEL) != 0)
			continue;
		if (strstr(m->labels[i].value, "body") != NULL)
			f |= PROXY_INJECT_BODY;
		if (strstr(m->labels[i].value, "query") != NULL)
			f |= PROXY_INJECT_QUERY;
	}
	return f;
}

/* Validate the run's leases: its own (bound to this connection), live. */
static int
check_leases(struct route_args *a, json_t *ids, struct lease *ls, size_t n,
    char *msg, size_t msgsz)
{
	const struct broker_caller *c = a->req->caller;
	struct al_err err;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(ids, i);

		if (!json_is_string(v) || lease_get(a->b->leases,
		    json_string_value(v), &ls[i], &err) != 0) {
			(void)snprintf(msg, msgsz, "no lease '%.40s'",
			    json_is_string(v) ? json_string_value(v) : "");
			return 404;
		}
		if (ls[i].conn == 0 || ls[i].conn != c->conn) {
			(void)snprintf(msg, msgsz, "lease %s is not bound to "
			    "this connection", ls[i].id);
			return 403;
		}
		if (ls[i].state != LEASE_LIVE) {
			(void)snprintf(msg, msgsz, "lease %s has ended",
			    ls[i].id);
			return 410;
		}
	}
	return 0;
}

/*
 * Whether policy wants l's secret used only by an isolated command
 * (`use: proxy-isolated`); if so (or if it cannot tell) the refusal is
 * audited and replied and 1 is returned.
 */
static int
isolation_required(struct route_args *a, const struct lease *l,
    const struct vault_meta *m, json_t *who)
{
	struct broker *b = a->b;
	struct policy_decision d;
	struct al_err err;
	char msg[POLICY_ID_MAX + LEASE_TEXT_MAX + 160];

	if (decide(b, a->req->caller, m, l->task, l->intent, &d) != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "policy evaluation "
		    "failed");
		return 1;
	}
	if (d.effect == POLICY_DENY || d.use_proxy != POLICY_USE_PROXY_ISOLATED)
		return 0;
	(void)snprintf(msg, sizeof(msg), "rule '%s' lets secret '%s' be used "
	    "only by a command isolated in its own network namespace, and "
	    "this one is not (see `airlock doctor`: isolate)", d.rule,
	    l->secret);
	if (record(b, "use", "denied", who, l->secret, l->id, l->task,
	    l->intent, msg, NULL, NULL, &err) != 0) {
		reply_al_err(a->resp, &err);
		return 1;
	}
	b->metrics.denials++;
	reply_json(a->resp, 403, json_pack("{s:{s:s,s:s,s:s,s:i}}",
	    API_F_ERROR, API_F_CODE, API_E_DENIED, API_F_MESSAGE, msg,
	    API_F_RULE, d.rule, "rule_line", d.line));
	a->resp->need_sync = 1;
	return 1;
}

void
h_proxy_start(struct route_args *a)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct broker_proxies *px;
	struct proxy_secret ps[PROXY_SECRETS_MAX];
	struct vault_meta m[PROXY_SECRETS_MAX];
	struct lease ls[PROXY_SECRETS_MAX];
	struct proxy_opts po;
	struct bproxy *x = NULL;
	struct al_err err;
	json_t *ids = json_object_get(a->body, "leases"), *who = NULL;
	json_t *iso = json_object_get(a->body, "isolated");
	json_t *phs = NULL, *detail;
	unsigned char raw[16];
	char msg[200], fp[AUDIT_FP_HEX];
	int64_t expires = 0;
	size_t i, n = json_array_size(ids), nm = 0, nv = 0;
	int st, rc;

	memset(ps, 0, sizeof(ps));
	memset(m, 0, sizeof(m));
	if (!json_is_array(ids) || n == 0 || n > PROXY_SECRETS_MAX ||
	    (iso != NULL && !json_is_boolean(iso)) ||
	    json_object_size(a->body) != (iso != NULL ? 2u : 1u)) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "the body must be "
		    "{\"leases\": [\"<lease id>\", ...], \"isolated\": bool} "
		    "(1 to 64 leases)");
		return;
	}
	if ((st = check_leases(a, ids, ls, n, msg, sizeof(msg))) != 0) {
		reply_error(a->resp, st, st == 404 ? API_E_NOT_FOUND :
		    st == 403 ? API_E_FORBIDDEN : API_E_ENDED, msg);
		return;
	}
	if ((px = proxies(b, &err)) == NULL) {
		reply_al_err(a->resp, &err);
		return;
	}
	if (px->hub == NULL) {
		memset(&po, 0, sizeof(po));
		po.upstream_ca_file = getenv("AIRLOCK_UPSTREAM_CA_FILE");
		po.on_event = on_event;
		po.event_arg = px;
		if (proxy_new(&po, &px->hub, &err) != 0) {
			reply_al_err(a->resp, &err);
			return;
		}
	}
	who = caller_json(c);
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++, nm++) {
		if (vault_secret_get(b->vault, ls[i].secret, &m[i], &err) != 0)
			goto fail;
		if (!json_is_true(iso) && isolation_required(a, &ls[i], &m[i],
		    who)) {
			nm++;
			free(x);
			x = NULL;
			goto out;	/* refused, audited and replied */
		}
		if (m[i].nhosts == 0) {
			(void)al_err_set(&err, AL_EINVAL, "secret '%s' is bound "
			    "to no host, so it cannot be used through the "
			    "proxy: bind it with `airlock secret edit %s "
			    "--host HOST`", m[i].name, m[i].name);
			nm++;
			goto fail;
		}
		if (proxy_format_check(m[i].name, vault_meta_label(&m[i],
		    FORMAT_LABEL), &err) != 0) {
			nm++;
			goto fail;
		}
	}
	/* Read every value first: a vault failure must not cost a use. */
	for (i = 0; i < n; i++, nv++)
		if (vault_secret_read(b->vault, ls[i].secret, &ps[i].value,
		    NULL, &err) != 0)
			goto fail;
	for (i = 0; i < n; i++) {
		if (lease_use(b->leases, ls[i].id, &ls[i], &err) != 0 ||
		    audit_fingerprint(b->audit, ps[i].value, fp) != 0)
			goto fail;
		detail = json_pack("{s:s,s:i}", "via", "proxy", "uses",
		    ls[i].uses);
		if (record(b, "use", "ok", who, ls[i].secret, ls[i].id,
		    ls[i].task, ls[i].intent, "held by the proxy", fp, detail,
		    &err) != 0) {
			json_decref(detail);
			goto fail;
		}
		json_decref(detail);
		b->metrics.uses++;
		ps[i].name = ls[i].secret;
		ps[i].hosts = m[i].hosts;
		ps[i].nhosts = m[i].nhosts;
		ps[i].inject = inject_of(&m[i]);
		ps[i].headers = vault_meta_label(&m[i], HEADERS_LABEL);
		ps[i].format = vault_meta_label(&m[i], FORMAT_LABEL);
		if (expires == 0 || ls[i].expires < expires)
			expires = ls[i].expires;
		(void)snprintf(x->secret[i], sizeof(x->secret[i]), "%.64s",
		    ls[i].secret);
		(void)snprintf(x->lease[i], sizeof(x->lease[i]), "%.32s",
		    ls[i].id);
	}
	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), x->id);
	/* The proxy takes every value over, also when it fails. */
	nv = 0;
	if (proxy_run_add(px->hub, x->id, ps, n, expires, &x->run, &err) != 0)
		goto fail;
	proxy_run_set_owner(px->hub, x->run, (unsigned long)c->uid);
	x->n = n;
	x->conn = c->conn;
	x->caller = json_incref(who);
	(void)snprintf(x->task, sizeof(x->task), "%s", ls[0].task);
	(void)snprintf(x->intent, sizeof(x->intent), "%s", ls[0].intent);
	x->next = px->list;
	px->list = x;
	px->seen_writes = 0;
	phs = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(phs, json_pack("{s:s,s:s,s:s}", "lease",
		    ls[i].id, "secret", ls[i].secret, "placeholder",
		    proxy_run_placeholder(x->run, i)));
	detail = json_pack("{s:s,s:i,s:b,s:I}", "proxy", x->id, "port",
	    proxy_port(px->hub), "isolated", json_is_true(iso), "secrets",
	    (json_int_t)n);
	rc = record(b, "proxy_start", "ok", who, NULL, NULL, ls[0].task,
	    ls[0].intent, NULL, NULL, detail, &err);
	json_decref(detail);
	if (rc != 0) {
		json_decref(phs);
		end_run(b, x, "cannot audit the start");
		x = NULL;
		reply_al_err(a->resp, &err);
		goto out;
	}
	detail = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:I,s:o}", "id", x->id,
	    "host", "127.0.0.1", "port", proxy_port(px->hub), "user",
	    PROXY_USER, "credential", proxy_run_credential(x->run), "ca",
	    proxy_run_ca_pem(x->run), "expires_unix", (json_int_t)expires,
	    "placeholders", phs);
	/* Where a namespace relay may hand its connections over. */
	if (detail != NULL && proxy_handoff(px->hub) != NULL)
		(void)json_object_set_new(detail, "handoff",
		    json_string(proxy_handoff(px->hub)));
	reply_json(a->resp, 201, detail != NULL ? json_pack("{s:o}", "proxy",
	    detail) : NULL);
	a->resp->need_sync = 1;
	x = NULL;
	goto out;
fail:
	if (x != NULL && x->run == NULL)
		free(x);
	x = NULL;
	reply_al_err(a->resp, &err);
	a->resp->need_sync = b->dirty;
out:
	for (i = 0; i < nv; i++)
		al_secret_free(ps[i].value);
	for (i = 0; i < nm && i < n; i++)
		vault_meta_release(&m[i]);
	free(x);
	json_decref(who);
}

void
h_proxy_end(struct route_args *a)
{
	struct broker *b = a->b;
	struct broker_proxies *px = b->proxies;
	struct bproxy *x;
	uint64_t reqs;

	x = px != NULL ? find_run(px, a->param) : NULL;
	if (x == NULL || (x->conn != a->req->caller->conn &&
	    !caller_is_owner(b, a->req->caller))) {
		reply_error(a->resp, 404, API_E_NOT_FOUND, "no such proxy");
		return;
	}
	proxies_drain(b);
	reqs = x->requests;
	end_run(b, x, "ended by the run");
	reply_json(a->resp, 200, json_pack("{s:{s:s,s:I}}", "proxy", "id",
	    a->param, "requests", (json_int_t)reqs));
	a->resp->need_sync = 1;
}

/*
 * The broker's state: opening what it composes (vault, audit log, lease
 * table, policy), group commit, and the time-driven work.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "broker_int.h"
#include "engine_glue.h"

/* Settled approvals stay visible to long polls this long (seconds). */
#define APPROVAL_KEEP_SETTLED	600
/*
 * Values up to a page come from a pool of guarded blocks (most tokens fit);
 * enough idle blocks for every release of a busy turn.
 */
#define VALUE_POOL_BLOCK	4096
#define VALUE_POOL_KEEP		256
/* Ended leases past their keep time forgotten per second, at most. */
#define PRUNE_BATCH		10000

void
broker_log(struct broker *b, const char *fmt, ...)
{
	struct al_buf line;
	char msg[1024], when[21];
	va_list ap;
	int n;

	if (b->log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	al_format_time(b->clock->now(b->clock->arg), when);
	al_buf_init(&line, 4096, 0);
	if (al_buf_printf(&line, "%s airlockd[%ld]: ", when,
	    (long)getpid()) == 0 &&
	    al_buf_append_escaped(&line, msg, strlen(msg)) == 0 &&
	    al_buf_putc(&line, '\n') == 0)
		(void)!write(b->log_fd, line.data, line.len);
	al_buf_release(&line);
}

int
broker_new(const struct broker_config *cfg, struct vault *v,
    struct broker **out, struct al_err *err)
{
	struct broker *b = NULL;
	char path[PATH_MAX];
	int rc;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		vault_close(v);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	b->vault = v;
	if (al_secret_pool_new(VALUE_POOL_BLOCK, VALUE_POOL_KEEP,
	    &b->values) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	vault_set_busy(v, b->values);
	b->clock = cfg->clock ? cfg->clock : al_clock_system();
	b->log_fd = cfg->log_fd;
	b->on_ready = cfg->on_ready;
	b->on_ready_arg = cfg->on_ready_arg;
	b->on_hup = cfg->on_hup;
	b->owner = geteuid();
	b->started = b->clock->now(b->clock->arg);
	if (snprintf(b->home, sizeof(b->home), "%s", cfg->home) >=
	    (int)sizeof(b->home) ||
	    snprintf(b->socket_group, sizeof(b->socket_group), "%s",
	    cfg->socket_group ? cfg->socket_group : "") >=
	    (int)sizeof(b->socket_group)) {
		rc = al_err_set(err, AL_ETOOBIG, "state directory path or "
		    "group name too long");
		goto out;
	}
	if (cfg->socket_path != NULL)
		rc = snprintf(b->socket_path, sizeof(b->socket_path), "%s",
		    cfg->socket_path) < (int)sizeof(b->socket_path) ? 0 :
		    AL_ETOOBIG;
	else
		rc = al_path_join(b->socket_path, sizeof(b->socket_path),
		    b->home, API_SOCKET_FILE);
	if (rc == 0) {
		if (cfg->policy_path != NULL)
			rc = snprintf(b->policy_path, sizeof(b->policy_path),
			    "%s", cfg->policy_path) <
			    (int)sizeof(b->policy_path) ? 0 : AL_ETOOBIG;
		else
			rc = al_path_join(b->policy_path,
			    sizeof(b->policy_path), b->home, POLICY_FILE);
	}
	if (rc == 0)
		rc = al_path_join(b->audit_path, sizeof(b->audit_path),
		    b->home, AUDIT_LOG_FILE);
	if (rc == 0)
		rc = al_path_join(path, sizeof(path), b->home, LEASE_DB_FILE);
	if (rc != 0) {
		rc = al_err_set(err, rc, "a path under %s is too long",
		    b->home);
		goto out;
	}
	if (al_secret_new(32, &b->proof_key) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	randombytes_buf(al_secret_open(b->proof_key), 32);
	al_secret_set_len(b->proof_key, 32);
	al_secret_close(b->proof_key);
	if ((rc = vault_aux_key(v, "audit", &b->audit_key, err)) != 0 ||
	    (rc = audit_open(b->audit_path, b->audit_key, b->clock,
	    &b->audit, err)) != 0 ||
	    (rc = decide_load(b, &b->policy, err)) != 0)
		goto out;
	policy_digest(b, b->policy_sha256);
	/* Leases ended while no broker ran are audited as they are found. */
	if ((rc = lease_table_open(path, b->clock, record_lease_end, b,
	    &b->leases, err)) != 0)
		goto out;
	if ((rc = record(b, "broker_start", "ok", NULL, NULL, NULL, NULL,
	    NULL, NULL, NULL, NULL, err)) != 0 ||
	    (rc = broker_sync(b, err)) != 0 ||
	    (rc = eng_start(b, err)) != 0)
		goto out;
	*out = b;
	b = NULL;
out:
	broker_free(b);
	return rc;
}

void
broker_free(struct broker *b)
{
	struct al_err err;

	if (b == NULL)
		return;
	/* The proxies' last requests and their ends come before the stop. */
	proxies_free(b);
	eng_quiesce(b);
	if (b->audit != NULL && b->leases != NULL &&
	    record(b, "broker_stop", "ok", NULL, NULL, NULL, NULL, NULL, NULL,
	    NULL, NULL, &err) == 0 && broker_sync(b, &err) != 0)
		broker_log(b, "%s", err.msg);
	approval_list_release(&b->approvals);
	json_decref(b->backlog);
	eng_stop(b);
	lease_table_close(b->leases);
	if (b->audit != NULL) {
		if (audit_sync(b->audit, NULL, &err) != 0)
			broker_log(b, "%s", err.msg);
		audit_close(b->audit);
	}
	al_secret_free(b->audit_key);
	al_secret_free(b->proof_key);
	textguard_free(b->textguard);
	policy_free(b->policy);
	vault_close(b->vault);
	al_secret_pool_free(b->values);
	free(b);
}

int
broker_sync(struct broker *b, struct al_err *err)
{
	uint64_t durable = 0;
	int rc;

	if (!b->dirty)
		return 0;
	/*
	 * The audit log first: a lease change must never be durable without
	 * the line that records it.
	 */
	audit_flush(b->audit);
	rc = audit_sync(b->audit, &durable, err);
	return broker_synced(b, rc, durable, err);
}

int
broker_synced(struct broker *b, int rc, uint64_t durable, struct al_err *err)
{
	if (rc != 0) {
		audit_down(b, err ? err->msg : "the sync failed");
		return rc;
	}
	if ((rc = lease_table_sync(b->leases, err)) != 0) {
		/* The same state: nothing can be released until it works. */
		audit_down(b, err ? err->msg : "the lease table cannot be "
		    "written");
		return rc;
	}
	if (durable >= audit_last_seq(b->audit))
		b->dirty = 0;
	return 0;
}

uint64_t
broker_audit_seq(struct broker *b)
{
	return audit_last_seq(b->audit);
}

int64_t
broker_flush(struct broker *b)
{
	audit_flush(b->audit);
	return b->dirty ? b->dirty_since_ms : 0;
}

static void
expire_approvals(struct broker *b, int64_t now, int64_t *next)
{
	struct approval *a;
	size_t i;

	for (i = 0; i < b->approvals.n; i++) {
		a = b->approvals.v[i];
		if (a->state != APPROVAL_PENDING)
			continue;
		if (a->expires <= now) {
			a->state = APPROVAL_EXPIRED;
			a->decided = now;
			record_fact(b, "approval_expired", "expired",
			    a->caller, a->secret, NULL, a->task, a->intent,
			    "no approver answered in time", NULL);
		} else if (*next == 0 || a->expires < *next)
			*next = a->expires;
	}
	approval_prune(&b->approvals, now, APPROVAL_KEEP_SETTLED);
}

int64_t
broker_tick(struct broker *b)
{
	int64_t now = b->clock->now(b->clock->arg), next = 0, d;
	struct al_err err;
	size_t n;

	/*
	 * The loop ticks every turn; the table is asked again only when a
	 * deadline is due or a write may have moved the next one.
	 */
	if (b->tick_next != 0 && now >= b->tick_next &&
	    lease_sweep(b->leases, record_lease_end, b, NULL, &err) != 0)
		broker_log(b, "lease sweep failed: %s", err.msg);
	if (now >= b->next_prune) {
		if (lease_table_prune(b->leases, PRUNE_BATCH, &n, &err) != 0)
			broker_log(b, "%s", err.msg);
		b->next_prune = now + 1;
	}
	if (lease_table_writes(b->leases) != b->tick_writes ||
	    (b->tick_next != 0 && now >= b->tick_next)) {
		b->tick_next = lease_next_deadline(b->leases);
		b->tick_writes = lease_table_writes(b->leases);
	}
	expire_approvals(b, now, &next);
	proxies_tick(b);
	d = b->tick_next;
	if (d != 0 && (next == 0 || d < next))
		next = d;
	next *= 1000;
	/* Dynamic credentials: the revocation queue's next retry (ms). */
	d = eng_tick(b);
	if (d != 0 && (next == 0 || d < next))
		next = d;
	/* A failed audit log is tried again even when nobody asks. */
	if (audit_next_retry(b) != 0 && audit_try_recover(b) != 0 &&
	    (next == 0 || audit_next_retry(b) < next))
		next = audit_next_retry(b);
	return next;
}

void
broker_conn_closed(struct broker *b, uint64_t conn)
{
	struct approval *a;
	struct al_err err;
	size_t i, n;

	if (lease_revoke_conn(b->leases, conn, record_lease_end, b, &n,
	    &err) != 0)
		broker_log(b, "cannot end the leases of connection %llu: %s",
		    (unsigned long long)conn, err.msg);
	proxies_conn_closed(b, conn);
	eng_conn_closed(b, conn);
	for (i = 0; i < b->approvals.n; i++) {
		a = b->approvals.v[i];
		if (a->state != APPROVAL_PENDING || a->conn != conn ||
		    !a->bind)
			continue;
		a->state = APPROVAL_CANCELLED;
		a->decided = b->clock->now(b->clock->arg);
		record_fact(b, "approval_cancelled", "cancelled", a->caller,
		    a->secret, NULL, a->task, a->intent, "the requester's "
		    "connection closed", NULL);
	}
}

int
broker_reload_policy(struct broker *b, struct al_err *err)
{
	struct policy *p = NULL;
	struct al_err rerr, lerr;
	int rc;

	al_err_clear(&rerr);
	al_err_clear(&lerr);
	if ((rc = decide_load(b, &p, &lerr)) != 0) {
		b->metrics.reloads_failed++;
		(void)snprintf(b->policy_error, sizeof(b->policy_error), "%s",
		    lerr.msg[0] ? lerr.msg : al_strerror(rc));
		broker_log(b, "policy reload rejected, the old policy stays: "
		    "%s", b->policy_error);
		if (record(b, "policy_reload", "rejected", NULL, NULL, NULL,
		    NULL, NULL, b->policy_error, NULL, NULL, &rerr) != 0)
			broker_log(b, "%s", rerr.msg);
		if (err != NULL)
			*err = lerr;
		return rc;
	}
	b->policy_error[0] = '\0';
	policy_digest(b, b->policy_sha256);
	policy_free(b->policy);
	b->policy = p;
	b->metrics.reloads_ok++;
	broker_log(b, "policy reloaded from %s (%zu rules)", b->policy_path,
	    policy_nrules(p));
	if (record(b, "policy_reload", "ok", NULL, NULL, NULL, NULL, NULL,
	    NULL, NULL, NULL, &rerr) != 0)
		broker_log(b, "%s", rerr.msg);
	return 0;
}

int
broker_approval_settled(struct broker *b, const char *id)
{
	struct approval *a = approval_find(&b->approvals, id);

	return a != NULL && a->state != APPROVAL_PENDING;
}

void
broker_observe_latency(struct broker *b, int64_t usec)
{
	metrics_observe(&b->metrics, usec);
}

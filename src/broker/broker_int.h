/* Private to src/broker: the broker's state and the pieces it is made of. */
#ifndef AIRLOCK_BROKER_INT_H
#define AIRLOCK_BROKER_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "airlock/api.h"
#include "airlock/audit.h"
#include "airlock/broker.h"
#include "airlock/lease.h"
#include "airlock/policy.h"
#include "airlock/vault.h"

/* ---- approvals (approval.c) --------------------------------------------- */

enum approval_state {
	APPROVAL_PENDING = 0,
	APPROVAL_APPROVED,
	APPROVAL_DENIED,
	APPROVAL_EXPIRED,
	APPROVAL_CANCELLED,	/* the requester's connection closed */
};

/* A request waiting for (or decided by) an approver.  Plain data. */
struct approval {
	char			 id[33];
	enum approval_state	 state;
	char			 secret[VAULT_NAME_MAX + 1];
	char			 task[API_TEXT_MAX + 1];
	char			 intent[API_TEXT_MAX + 1];
	int64_t			 ttl;
	int			 uses;
	int			 bind;
	uint64_t		 conn;		/* requester's connection */
	uid_t			 uid;		/* requester */
	pid_t			 pid;
	pid_t			 sid;		/* its session; -1 */
	int			 tty;		/* its controlling terminal; 0 */
	char			 holder[BROKER_HOLDER_MAX];
	json_t			*caller;	/* requester's identity */
	struct policy_decision	 decision;
	int64_t			 created;
	int64_t			 expires;	/* while pending */
	int64_t			 decided;
	char			 decided_by[64];	/* "unix:uid:1000 pid 42" */
	char			 reason[API_TEXT_MAX + 1];
	char			 lease[LEASE_ID_LEN + 1];
};

struct approval_list {
	struct approval	**v;
	size_t		  n;
	size_t		  cap;
};

void	approval_list_release(struct approval_list *l);
int	approval_add(struct approval_list *l, struct approval *a) AL_WUR;
struct approval *approval_find(struct approval_list *l, const char *id);
size_t	approval_count_pending(const struct approval_list *l);
/* Drop settled approvals older than keep seconds; free them. */
void	approval_prune(struct approval_list *l, int64_t now, int64_t keep);
const char *approval_state_name(enum approval_state s);
/*
 * pid's parent, session and controlling terminal (tty may be NULL) from
 * /proc/PID/stat; -1 if unreadable.  A session whose leader is outside this
 * PID namespace reads 0.
 */
int	approval_proc_stat(pid_t pid, pid_t *ppid, pid_t *sid, int *tty);
/*
 * Why approver may not approve a: it runs inside the requester's process
 * tree (the requester is among its ancestors) or in its session, or it is
 * one of the requester's ancestors, or any of that cannot be read (fail
 * closed).  NULL when it may.
 */
const char *approval_tree_refusal(const struct approval *a, pid_t approver);

/* ---- metrics (metrics.c) ----------------------------------------------- */

#define METRICS_NBUCKETS 12
/* (uid, session) pairs whose wrong approver PINs are remembered. */
#define BROKER_PIN_KEYS	64

struct broker_metrics {
	uint64_t	requests;
	uint64_t	grants;
	uint64_t	denials;
	uint64_t	approvals_requested;
	uint64_t	approvals_granted;
	uint64_t	approvals_denied;
	uint64_t	uses;
	uint64_t	revocations;
	uint64_t	expirations;
	uint64_t	errors;		/* 4xx/5xx other than denials */
	uint64_t	reloads_ok;
	uint64_t	reloads_failed;
	uint64_t	latency_buckets[METRICS_NBUCKETS];
	uint64_t	latency_count;
	double		latency_sum;	/* seconds */
};

int	metrics_render(const struct broker_metrics *m, size_t active_leases,
	    size_t pending_approvals, size_t connections, struct al_buf *out)
	    AL_WUR;
void	metrics_observe(struct broker_metrics *m, int64_t usec);

/* What `airlock guard` processes report (h_guard.c), for /metrics. */
#define METRICS_GUARD_OUTCOMES	5	/* metrics_guard_outcomes */
#define METRICS_GUARD_NAMES	128	/* distinct names; then "other" */

extern const char *const metrics_guard_outcomes[METRICS_GUARD_OUTCOMES];

struct broker_guard_metrics {
	uint64_t	requests[METRICS_GUARD_OUTCOMES];
	struct {
		char		name[65];
		int		rule;
		uint64_t	count;
	}		masks[METRICS_GUARD_NAMES];
	size_t		nmasks;
	uint64_t	other_masks;
};

int	metrics_render_guard(const struct broker_guard_metrics *m,
	    struct al_buf *out) AL_WUR;

/* ---- the broker --------------------------------------------------------- */

/* Lease ends remembered with their reasons (struct broker's ends). */
#define BROKER_ENDS_KEPT	256

struct broker {
	char			 home[PATH_MAX];
	char			 socket_path[PATH_MAX];
	char			 policy_path[PATH_MAX];
	char			 audit_path[PATH_MAX];
	char			 socket_group[64];
	const struct al_clock	*clock;
	int			 log_fd;
	struct vault		*vault;
	struct lease_table	*leases;
	struct policy		*policy;
	struct audit_log	*audit;
	struct al_secret	*audit_key;
	struct al_secret	*proof_key;	/* exposure proofs (exposure.c) */
	struct textguard	*textguard;	/* values in free text */
	struct al_secret_pool	*values;	/* memory of values released */
	struct approval_list	 approvals;
	struct broker_metrics	 metrics;
	struct broker_guard_metrics guard_metrics;
	void			(*on_ready)(void *arg);	/* see broker.h */
	void			*on_ready_arg;
	void			(*on_hup)(void *arg);
	int64_t			 started;
	uid_t			 owner;		/* the broker's own uid */
	size_t			 connections;	/* open now (transport) */
	int			 dirty;		/* audit/lease writes unsynced */
	int64_t			 dirty_since_ms; /* the first of them */
	int64_t			 tick_next;	/* cached next lease deadline */
	uint64_t		 tick_writes;	/* lease writes it is valid for */
	int64_t			 next_prune;	/* forget ended leases then */
	/* The audit log cannot be written (auditfail.c). */
	int			 audit_failed;
	int64_t			 audit_failed_since;	/* ms */
	int64_t			 audit_retry_ms;	/* next reopen */
	uint64_t		 audit_refused;	/* requests since */
	char			 audit_error[AL_ERR_MSG_MAX];
	json_t			*backlog;	/* facts to record on recovery */
	uint64_t		 backlog_dropped;
	/*
	 * Wrong approver PINs: a back-off per (uid, session) so one approver's
	 * wrong PINs do not delay another's terminal, and an overall one once
	 * PIN_TOTAL_FREE wrong PINs (all sessions) have come since the last
	 * right one (h_approval.c).
	 */
	struct pin_backoff {
		uid_t		 uid;
		pid_t		 sid;		/* -1: unknown */
		unsigned	 failures;	/* in a row */
		int64_t		 retry_ms;	/* nothing checked before */
		int64_t		 last_ms;	/* the last wrong PIN */
	}			 pin_keys[BROKER_PIN_KEYS];
	size_t			 npin_keys;
	unsigned		 pin_failures;	/* all sessions, in a row */
	int64_t			 pin_retry_ms;	/* overall: none checked before */
	struct broker_proxies	*proxies;	/* run proxies (h_proxy.c) */
	struct engine		*engine;	/* dynamic credentials */
	struct eng_pool		*engpool;	/* minting threads */
	/* The policy file as last read, to notice edits (decide.c). */
	struct al_file_stamp	 policy_seen;
	/* The policy in force: its text's SHA-256; the last refusal. */
	char			 policy_sha256[65];
	char			 policy_error[AL_ERR_MSG_MAX];
	/*
	 * Why the latest leases ended (a ring, nends in all), for requests
	 * waiting for a lease to end (h_lease.c): an entry with an empty id
	 * is an exposure, after which a used-up lease may count as ended.
	 */
	struct lease_end_note {
		char		 id[LEASE_ID_LEN + 1];
		char		 reason[128];
	}			 ends[BROKER_ENDS_KEPT];
	uint64_t		 nends;
};

/* Diagnostics to the broker's log (identifiers only, escaped). */
void	broker_log(struct broker *b, const char *fmt, ...) AL_PRINTF(2, 3);

/* ---- audit glue (record.c) ---------------------------------------------- */

/*
 * Queue one audit line (durable at the next broker_sync).  caller may be
 * NULL (the broker itself).  Failing to audit is an error the request
 * reports: nothing is released without its line.
 */
int	record(struct broker *b, const char *event, const char *outcome,
	    const json_t *caller, const char *secret, const char *lease,
	    const char *task, const char *intent, const char *reason,
	    const char *value_fp, const json_t *detail, struct al_err *err)
	    AL_WUR;
/*
 * An event that happened whatever the log's state (a lease ended, an
 * approval was cancelled): recorded now, or kept and recorded as soon as
 * the log can be written again.
 */
void	record_fact(struct broker *b, const char *event, const char *outcome,
	    const json_t *caller, const char *secret, const char *lease,
	    const char *task, const char *intent, const char *reason,
	    const json_t *detail);
/*
 * Remember that lease id ended and why (NULL: the secret of a used-up
 * lease may have been exposed); record_fact does it for every
 * "revoke"/"expire" line and for an exposure.
 */
void	broker_lease_ended(struct broker *b, const char *id,
	    const char *reason);
/* The lease end callback: audits an "expire"/"revoke" line per lease. */
void	record_lease_end(const struct lease *l, void *arg);
/* The caller as JSON for the audit log and replies (new reference). */
json_t	*caller_json(const struct broker_caller *c);

/* ---- audit failures (auditfail.c) ---------------------------------------- */

/* The log cannot be written (why): refuse everything, retry later. */
void	audit_down(struct broker *b, const char *why);
/*
 * Keep an event that happened whatever the log's state (a lease's end, a
 * value not released), to be written first on recovery.
 */
void	audit_keep(struct broker *b, const char *event, const char *outcome,
	    const json_t *caller, const char *secret, const char *lease,
	    const char *task, const char *intent, const char *reason,
	    const json_t *detail);
/*
 * When the log failed and a retry is due: reopen it, write what was kept
 * and one audit_resume line, and sync.  0: the log works (or never failed).
 */
int	audit_try_recover(struct broker *b);
/* When the next retry is due (ms), 0 when the log works. */
int64_t	audit_next_retry(const struct broker *b);
/* ---- unknown names (names.c) -------------------------------------------- */

#define NAME_FP_LEN	12	/* hex digits of a name's fingerprint */

/*
 * err holds the vault's AL_ENOENT for name: rewrite its message so that it
 * names the secret only by a short keyed fingerprint (into fp), keeping a
 * suggestion of an existing name.  name is never logged or echoed.
 */
void	name_unknown(struct broker *b, const char *name, struct al_err *err,
	    char fp[NAME_FP_LEN + 1]);

/* ---- values in free text (textguard.c) ---------------------------------- */

struct route_args;
struct textguard;
void	textguard_free(struct textguard *g);
/*
 * Whether text, the free-text field field of a request, holds the whole
 * value of a secret in the vault (one of at least REDACT_VALUE_MIN bytes).
 * 0: it does not (or is empty): go on.  Otherwise the reply is made and -1
 * returned: 400 naming the field (never the text or the secret), audited
 * as a "deny" line naming the field and the secret, without the text; 503
 * when the values cannot be read, for a text is never written unchecked.
 */
int	text_guard(struct route_args *a, const char *field, const char *text)
	    AL_WUR;
/*
 * For text that is recorded whatever it holds (an exposure's where and
 * source): text into out with each whole value of a secret replaced by
 * BROKER_TEXT_WITHHELD; all of it withheld when the values cannot be read
 * or the masks would not fit.  1 if anything was withheld.
 */
#define BROKER_TEXT_WITHHELD	"[withheld]"
int	text_withhold(struct broker *b, const char *text,
	    char out[API_TEXT_MAX + 1]);

/* ---- policy glue (decide.c) --------------------------------------------- */

/*
 * Reload the policy when its file changed since it was last read (a new
 * inode, size, mtime or ctime, or it appeared or went): called before each
 * request.
 */
void	policy_watch(struct broker *b);
/* The SHA-256 of the policy file's text. */
void	policy_digest(const struct broker *b, char hex[65]);
int	decide_load(struct broker *b, struct policy **out, struct al_err *err)
	    AL_WUR;
/* Decide a lease request for caller on the secret described by m. */
int	decide(struct broker *b, const struct broker_caller *c,
	    const struct vault_meta *m, const char *task, const char *intent,
	    struct policy_decision *d) AL_WUR;

/* ---- handlers (h_*.c) ---------------------------------------------------- */

struct route_args {
	struct broker			*b;
	const struct broker_req		*req;
	struct broker_resp		*resp;
	const char			*param;		/* the :id segment */
	json_t				*body;		/* parsed JSON or NULL */
};

void	h_health(struct route_args *a);
void	h_metrics(struct route_args *a);
void	h_secrets_list(struct route_args *a);
void	h_secret_show(struct route_args *a);
void	h_lease_create(struct route_args *a);
void	h_lease_list(struct route_args *a);
void	h_lease_get(struct route_args *a);
void	h_lease_value(struct route_args *a);
void	h_lease_revoke(struct route_args *a);
void	h_lease_revoke_task(struct route_args *a);
/*
 * Whether a request waiting on leases (the ids of query) should be
 * dispatched again: one of them, or an exposure, was noted since *seq,
 * which is brought up to date.
 */
int	broker_lease_wait_over(struct broker *b, const char *query,
	    uint64_t *seq);
void	h_approvals_list(struct route_args *a);
void	h_approval_get(struct route_args *a);
void	h_approve(struct route_args *a);
void	h_deny(struct route_args *a);
void	h_audit_tail(struct route_args *a);
void	h_redact(struct route_args *a);
void	h_redact_stream(struct route_args *a);

struct redact;

/* A secret a redactor looks for, and how often it was found. */
struct found {
	char		name[VAULT_NAME_MAX + 1];
	unsigned	n;
};
/*
 * The compiled redactor over the values the caller may have masked: those
 * whose decision for c, task and intent is not deny (exposed ones too: a
 * mask releases nothing).  only: NULL, or comma-separated names to look
 * for only, each of which must exist (AL_ENOENT) and not be denied
 * (AL_EDENIED).  names[0..*nnames): the secrets in it, in the order added.
 * compile: compile it too (else the caller does, redact_compile).  A
 * redactor with no values is left uncompiled.
 */
int	redact_for_caller(struct broker *b, const struct broker_caller *c,
	    const char *task, const char *intent, const char *only,
	    int compile, struct redact **out, struct found **names,
	    size_t *nnames, struct al_err *err) AL_WUR;

/*
 * A redaction stream (rstream.c): set up by h_redact_stream on the loop
 * thread, handed the upgraded socket by the transport (rstream_start),
 * which runs it on a thread of its own.  When it ends, the thread marks it
 * done and writes to notify_fd; the transport then calls rstream_end on
 * the loop thread (joins it, audits one `redact` line) and closes the
 * socket.  rstream_abort shuts the socket so that the thread ends soon.
 */
struct rstream {
	struct broker		*b;
	uid_t			 uid;
	json_t			*who;
	char			 task[API_TEXT_MAX + 1];
	char			 intent[API_TEXT_MAX + 1];
	struct redact		*r;		/* NULL: no values; compiled
						 * by the thread */
	struct found		*names;
	size_t			 nnames;
	int			 sock;
	int			 notify_fd;
	unsigned char		*extra;		/* guarded: bytes MHD read */
	size_t			 nextra;
	pthread_t		 thread;
	int			 started;
	_Atomic int		 done;		/* set by the thread at its end */
	_Atomic int		 aborted;	/* the broker is stopping */
	/* Results, read after the join. */
	unsigned long long	 bytes_in;
	unsigned long long	 masks;
	unsigned		 flushes;
	int			 ok;
	char			 error[128];
	void			*urh;		/* the transport's handle */
	struct rstream		*next;
};

int	rstream_start(struct rstream *rs, int sock, const char *extra,
	    size_t nextra, int notify_fd) AL_WUR;
int	rstream_done(const struct rstream *rs);
void	rstream_abort(struct rstream *rs);
/* Join (if started), audit, free. */
void	rstream_end(struct rstream *rs);
void	rstream_free(struct rstream *rs);
/* The largest request body path takes (API_BODY_MAX but for /v1/redact). */
size_t	broker_body_max(const char *path);
/*
 * Whether the handler of method on path identifies its caller in full
 * (broker_caller.recheck) on every way to a grant or a value: a lease
 * asked for, a value asked for.
 */
int	broker_route_rechecks(const char *method, const char *path);
void	h_proxy_start(struct route_args *a);
void	h_proxy_end(struct route_args *a);

/* ---- run proxies (h_proxy.c) --------------------------------------------- */

/* The eventfd proxy threads wake the loop with; -1 if none could be made. */
int	proxies_fd(struct broker *b);
/* Audit the requests the proxies reported. */
void	proxies_drain(struct broker *b);
/* End the proxies of runs whose leases ended. */
void	proxies_tick(struct broker *b);
void	proxies_conn_closed(struct broker *b, uint64_t conn);
void	proxies_free(struct broker *b);
/*
 * Whether d, the policy's decision on releasing l's value to this caller
 * now, allows it only through the proxy (`use: proxy`); if so the refusal
 * is audited and replied and 1 is returned.
 */
int	proxy_use_only(struct route_args *a, const struct lease *l,
	    json_t *who, const struct policy_decision *d);
void	h_policy_reload(struct route_args *a);
void	h_guard_counts(struct route_args *a);

/* ---- exposure (exposure.c) --------------------------------------------- */

void	h_exposure_report(struct route_args *a);
/* Prometheus lines of the exposures recorded in the vault onto out. */
int	exposure_metrics(struct broker *b, struct al_buf *out) AL_WUR;

/* ---- reply helpers (reply.c) -------------------------------------------- */

/* Reply with JSON j (stolen) and status. */
void	reply_json(struct broker_resp *r, int status, json_t *j);
/* Reply {"error":{"code":code,"message":msg[,"rule"]}}. */
void	reply_error(struct broker_resp *r, int status, const char *code,
	    const char *msg);
/* Map an AL_E code and message to an error reply. */
void	reply_al_err(struct broker_resp *r, const struct al_err *err);
json_t	*lease_json(const struct lease *l);
json_t	*approval_json(const struct approval *a);
/* A query parameter (first match) into out; 0 if present. */
int	query_get(const char *query, const char *key, char *out, size_t outsz);
/* Whether the caller is the broker's owner (sees and manages everything). */
int	caller_is_owner(const struct broker *b, const struct broker_caller *c);
/* Validate a free-text field: UTF-8 printable, <= API_TEXT_MAX bytes. */
int	text_ok(const char *s);

/*
 * Lease ids collected while walking the lease table, to be revoked after
 * the walk (revoking changes the table).  lease_ids_push: 0 or AL_ENOMEM;
 * free v when done.
 */
struct lease_ids {
	char		(*v)[LEASE_ID_LEN + 1];
	size_t		 n, cap;
};
int	lease_ids_push(struct lease_ids *x, const char *id);

/*
 * A proof that a caller sent the broker text holding a secret's whole
 * value (POST /v1/redact answers one per secret found): with it, a caller
 * that is not the owner may report that secret exposed.  Bound to the
 * caller's uid and the secret, valid for EXPOSURE_PROOF_TTL seconds,
 * under a key this broker draws at start.  proof: EXPOSURE_PROOF_LEN + 1.
 */
#define EXPOSURE_PROOF_TTL	600
#define EXPOSURE_PROOF_LEN	(2 * 32 + 1 + 20)
int	exposure_proof(const struct broker *b, uid_t uid, const char *secret,
	    int64_t t, char *proof);

#endif

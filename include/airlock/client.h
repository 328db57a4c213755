/*
 * airlock client: talks to the broker over its Unix socket (HTTP/1.1, the
 * contract in api.h, spoken by a small strict client of its own, without
 * libcurl).  Every command that needs the broker goes through this.
 *
 * One client keeps one connection open for its whole life (keep-alive), so
 * a lease asked for with bind set ends when this client (its process) goes
 * away, and a value is fetched on the connection that holds the lease.
 *
 * Values are read from the socket straight into guarded memory (struct
 * al_secret); bytes of one that arrive with the headers are copied out of
 * the receive buffer and wiped there.  No JSON buffer ever holds a value.
 *
 * Errors: the broker's message in err, and a code: AL_EUNAVAIL (no broker
 * and none could be started), AL_EDENIED (policy said no), AL_EPENDING
 * (waiting for an approver), AL_EPERM (not yours), AL_ENOENT, AL_EEXPIRED
 * (lease ended), AL_EINVAL (bad request), AL_ETOOBIG, AL_EPROTO (the broker
 * answered something unexpected), AL_ETIMEDOUT.
 */
#ifndef AIRLOCK_CLIENT_H
#define AIRLOCK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "airlock/base.h"

struct client;

struct client_opts {
	const char	*home;		/* $AIRLOCK_HOME */
	const char	*socket_path;	/* NULL: home/airlockd.sock */
	/*
	 * Start a broker when none answers by running `<airlock_bin> serve`
	 * (it detaches and signals readiness).  NULL: never autostart.
	 */
	const char	*airlock_bin;
	int		 timeout_ms;	/* per request; 0: 30 s */
	/*
	 * Told (one line, no prefix) when the broker that answers is of
	 * another airlock version: it is restarted when idle (no live lease,
	 * no pending approval) and autostart is allowed, else left running.
	 * Also told when the broker refused its edited policy file (it keeps
	 * the previous policy).  NULL: say nothing.
	 */
	void		(*notice)(const char *msg, void *arg);
	void		*notice_arg;
};

/* A lease as the broker shows it. */
struct client_lease {
	char	id[33];
	char	secret[65];
	char	state[32];
	char	task[257];
	char	intent[257];
	int64_t	expires;		/* seconds since the epoch */
	int	uses;
	int	uses_left;		/* -1: unlimited */
	int	bound;
	/* From a grant: the rule lets the value be used through the proxy
	 * only (`use: proxy`); a raw value would be refused. */
	int	proxy_only;
};

/* A request waiting for approval, or its outcome. */
struct client_approval {
	char	id[33];
	char	state[16];		/* pending, approved, denied, ... */
	char	secret[65];
	char	rule[65];
	char	reason[257];		/* why it was denied */
	char	lease[33];		/* the lease, once approved */
	int64_t	expires;
};

struct client_lease_req {
	const char	*secret;
	const char	*task;		/* may be NULL */
	const char	*intent;	/* may be NULL */
	int64_t		 ttl;		/* seconds; 0: the broker's default */
	int		 uses;		/* 0: the rule's limit */
	int		 bind;		/* end the lease with this client */
	/*
	 * client_lease_and_fetch: called with the approval when the request
	 * starts waiting for an approver, and with NULL when the wait ends
	 * (approved, denied, expired or timed out).  May be NULL.
	 */
	void		(*pending)(const struct client_approval *a,
			    void *arg);
	void		*pending_arg;
};

/*
 * Whether a secret name looks like a value (a token, a digest, a UUID)
 * typed where the name goes: 1 yes.  client_name_check refuses such a name
 * with AL_EINVAL and a message that does not contain it.  Every call that
 * sends a secret name (client_lease_request and what builds on it) checks
 * it first, so a value never reaches the broker or its audit log as a name.
 */
int	client_name_looks_like_value(const char *name);
int	client_name_check(const char *name, struct al_err *err) AL_WUR;

/*
 * Free text sent to the broker (a task, an intent, a reason for a denial)
 * is judged the same way: client_text_check refuses text holding a
 * token-shaped part with AL_EINVAL and a message naming field, never the
 * text.  Every call that sends such a field checks it first.  An
 * exposure's where and source are masked instead (an exposure is always
 * reported): client_text_mask replaces each token-shaped part of text, in
 * place, with CLIENT_TEXT_WITHHELD (text only shrinks).
 */
#define CLIENT_TEXT_WITHHELD	"[withheld]"
int	client_text_check(const char *field, const char *text,
	    struct al_err *err) AL_WUR;
void	client_text_mask(char *text);

/*
 * Connect to the broker (starting one if allowed and none answers) and
 * check that it is healthy.  AL_EUNAVAIL with what to do when it fails.
 */
int	client_open(const struct client_opts *o, struct client **out,
	    struct al_err *err) AL_WUR;
/*
 * Stop the broker of o->home (never starting one): SIGTERM to its pid,
 * which must agree with airlockd.pid, then wait until it is gone.  *pid is
 * the pid stopped.  AL_ENOENT when no broker answers; AL_EPERM when it runs
 * as another user.
 */
int	client_stop(const struct client_opts *o, long *pid,
	    struct al_err *err) AL_WUR;
/* Close the connection (ending this client's bound leases). NULL: no-op. */
void	client_close(struct client *cl);

/*
 * Ask for a lease.  0: granted, *lease filled.  AL_EPENDING: the rule needs
 * an approver; *approval filled (its id, how to approve in the message).
 * AL_EDENIED: refused; the message names the reason and the rule.
 */
int	client_lease_request(struct client *cl,
	    const struct client_lease_req *r, struct client_lease *lease,
	    struct client_approval *approval, struct al_err *err) AL_WUR;

/*
 * Wait (long poll, at most wait_s seconds in all) for approval id to be
 * decided.  0: approved (out->lease is the lease id); AL_EDENIED: denied
 * (reason in the message); AL_EEXPIRED: expired or cancelled;
 * AL_ETIMEDOUT: still pending after wait_s.
 */
int	client_approval_wait(struct client *cl, const char *id, int wait_s,
	    struct client_approval *out, struct al_err *err) AL_WUR;

/* Take one use of lease id: its value in new guarded memory (closed). */
int	client_lease_value(struct client *cl, const char *id,
	    struct al_secret **value, struct al_err *err) AL_WUR;

int	client_lease_get(struct client *cl, const char *id,
	    struct client_lease *out, struct al_err *err) AL_WUR;
int	client_lease_revoke(struct client *cl, const char *id,
	    struct al_err *err) AL_WUR;
/* Revoke every lease of task the caller may manage; count in *n. */
int	client_lease_revoke_task(struct client *cl, const char *task,
	    size_t *n, struct al_err *err) AL_WUR;
/*
 * Report that secret's value was found outside airlock (where: a path or
 * what saw it; source: hook, guard, sweep): the broker marks it exposed,
 * revokes its live leases and denies its pending approvals at once.  *out:
 * the broker's object {"secret","first","since","revoked","denied",
 * "time_to_revoke_ms"} (new reference).  AL_EPERM when the caller is not
 * the broker's owner and gives no proof (NULL) that it saw the value: the
 * one client_redact's answer gave for that secret.
 */
int	client_exposure_report(struct client *cl, const char *secret,
	    const char *where, const char *source, const char *proof,
	    json_t **out,
	    struct al_err *err) AL_WUR;

/*
 * Everything `run`, `redact` and the MCP server need in one call: request
 * a lease, wait up to approval_wait_s for an approver when the rule asks for
 * one (0: do not wait, return AL_EPENDING), then fetch one use of the value.
 * The value is asked for with the grant, in one request, and fetched apart
 * only after an approval or for a broker that predates that.  On success
 * *lease and *value (guarded, closed) are set; a lease whose value came
 * with its grant holds what was asked for, its id from the reply, and no
 * expiry (0: see client_lease_get).
 */
int	client_lease_and_fetch(struct client *cl,
	    const struct client_lease_req *r, int approval_wait_s,
	    struct client_lease *lease, struct al_secret **value,
	    struct al_err *err) AL_WUR;

/*
 * Watching leases end (`run` ends its command when one does).  A watch is
 * a connection of its own to cl's broker carrying one long poll at a
 * time, which the broker answers as soon as one of the leases ends: no
 * request goes out while they all stay in use (one a minute at most).
 *
 * client_watch_open sends the first poll for ids[0..n) (1 to
 * CLIENT_WATCH_MAX lease ids the caller may see); poll client_watch_fd for
 * reading and call client_watch_read when it is readable: 0 when every
 * lease is still in use (the next poll is sent), 1 when one ended (*out
 * says which and why: the broker's reason, e.g. "the secret is exposed"),
 * or an error: AL_ENOENT when a lease is unknown to the broker (it has
 * ended long ago, or the broker restarted with another table), AL_EINVAL
 * when the broker does not take lease watches, AL_EUNAVAIL when the
 * connection failed.  A lease whose last use was taken is still in use;
 * it ends only when its secret is exposed.  client_watch_close closes the
 * connection (NULL: no-op).
 */
#define CLIENT_WATCH_MAX	64
struct client_watch;
struct client_lease_end {
	char	id[33];
	char	secret[65];
	char	state[32];
	char	reason[257];
};
int	client_watch_open(struct client *cl, const char *const *ids, size_t n,
	    struct client_watch **out, struct al_err *err) AL_WUR;
int	client_watch_fd(const struct client_watch *w);
int	client_watch_read(struct client_watch *w, struct client_lease_end *out,
	    struct al_err *err) AL_WUR;
void	client_watch_close(struct client_watch *w);

/*
 * Mask texts (a JSON array of strings, borrowed; as many requests as the
 * broker's limits call for, AL_ETOOBIG for one string over 2 MiB) in the
 * broker:
 * every whole live value this caller's policy would let it lease with
 * intent (NULL: "redact") is masked as "[REDACTED:<name>]" without any
 * value leaving the broker, and no approval is asked for.  *out: the
 * broker's object {"texts": [masked, same order], "masks": N, "found":
 * {"secret": count}, "proofs": {"secret": proof}} (new reference; a proof
 * lets this caller report that secret exposed: client_exposure_report).
 */
int	client_redact(struct client *cl, json_t *texts, const char *task,
	    const char *intent, json_t **out, struct al_err *err) AL_WUR;

/*
 * The JSON views, as the broker sends them (new references):
 * leases: the "leases" array; approvals: the "approvals" array (all: also
 * settled ones); secrets: the "secrets" array; audit: the "events" array
 * (the last n); health: the whole object; approve/deny: the "approval".
 */
int	client_leases(struct client *cl, json_t **out, struct al_err *err)
	    AL_WUR;
int	client_approvals(struct client *cl, int all, json_t **out,
	    struct al_err *err) AL_WUR;
/* pin: the approver PIN as typed (guarded; NULL: none, which is refused). */
int	client_approve(struct client *cl, const char *id,
	    struct al_secret *pin, json_t **out, struct al_err *err) AL_WUR;
int	client_deny(struct client *cl, const char *id, const char *reason,
	    json_t **out, struct al_err *err) AL_WUR;
int	client_secrets(struct client *cl, json_t **out, struct al_err *err)
	    AL_WUR;
int	client_audit_tail(struct client *cl, int n, json_t **out,
	    struct al_err *err) AL_WUR;
int	client_health(struct client *cl, json_t **out, struct al_err *err)
	    AL_WUR;
/*
 * Have the broker read its policy file now: *out is its reply
 * {"ok", "path", "rules", "policy_sha256", "error"} (a refused file is
 * ok false, not an error here).
 */
int	client_policy_reload(struct client *cl, json_t **out,
	    struct al_err *err) AL_WUR;

/*
 * Add an `airlock guard`'s counts (the body of API_GUARD_COUNTS) to the
 * broker's /metrics.
 */
int	client_guard_counts(struct client *cl, json_t *counts,
	    struct al_err *err) AL_WUR;

/* ---- a run's proxy (`run --proxy`) ------------------------------------ */

/* What the broker hands back for a run's proxy: never a secret value. */
struct client_proxy {
	char	 id[33];
	char	 host[64];		/* 127.0.0.1 */
	int	 port;
	char	 user[32];
	char	 credential[65];	/* the run's proxy password */
	char	*ca_pem;		/* the run's CA certificate */
	int64_t	 expires;		/* the CA's end (seconds, epoch) */
	/* The proxy's handoff socket (see proxy_handoff), or "". */
	char	 handoff[64];
	char	**placeholders;		/* one per lease asked for, in order */
	size_t	 n;
};

/*
 * Ask the broker to serve leases (this connection's, live) through a proxy
 * of their own: the broker takes one use of each and keeps the values; out
 * gets placeholders in the leases' order.  isolated says whether the
 * command will run in a network namespace whose only way out is the
 * proxy.  Errors as for leases; AL_EINVAL when a secret is bound to no
 * host; AL_EDENIED when a rule wants isolation and there is none.
 */
int	client_proxy_start(struct client *cl, const char *const *leases,
	    size_t n, int isolated, struct client_proxy *out,
	    struct al_err *err) AL_WUR;
/* End proxy id (its credential stops working at once). */
int	client_proxy_end(struct client *cl, const char *id, struct al_err *err)
	    AL_WUR;
void	client_proxy_release(struct client_proxy *p);

/*
 * Open a redaction stream (POST /v1/redact/stream, see api.h) on a
 * connection of its own: *fd is then the caller's (blocking) socket,
 * carrying frames; close it when done.  secrets: NULL (every secret the
 * policy grants for intent) or comma-separated names, each of which must
 * be granted.  Errors as for other requests (AL_EDENIED, AL_ENOENT,
 * AL_EBUSY when too many streams of this user run).
 */
int	client_redact_stream(struct client *cl, const char *task,
	    const char *intent, const char *secrets, int *fd,
	    struct al_err *err) AL_WUR;

#endif

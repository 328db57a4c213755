/*
 * airlock broker: the daemon behind `airlock serve`.
 *
 * It holds the unlocked vault and glues the components together: the caller
 * is identified from the socket (identity), a policy decides (policy), a
 * lease is issued (lease), the value is read (vault) and every step is
 * recorded durably (audit) before anything is released.
 *
 * Two layers:
 *  - broker_dispatch() is transport-free: one request in, one response out,
 *    so unit tests and the fuzzer call it directly.
 *  - broker_serve() runs the event loop: libmicrohttpd on a Unix socket,
 *    driven from this one thread with epoll, signals through a signalfd, and
 *    sleeps until the next lease deadline.
 *
 * The wire contract is include/airlock/api.h.
 */
#ifndef AIRLOCK_BROKER_H
#define AIRLOCK_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "airlock/base.h"

struct vault;
struct ident;

#define BROKER_SELECTORS_MAX	64
#define BROKER_HOLDER_MAX	96

/*
 * Who is calling, as established from the socket (never from anything the
 * caller says).  selectors are the policy's names for this caller
 * ("unix:uid:1000", "unix:exe:/usr/bin/node", ...); they are borrowed.
 */
struct broker_caller {
	uint64_t		 conn;		/* connection id, never 0 */
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	const char *const	*selectors;
	size_t			 nselectors;
	/* The full identity (audit `caller`); NULL: only the fields above. */
	const struct ident	*ident;
	/*
	 * The normalized git remote of the caller's working directory, read
	 * by the broker through /proc/PID/cwd; NULL when unknown.
	 */
	const char		*repo;
	/*
	 * When repo is NULL and find_repo is set, the repository is looked
	 * up on demand: only when the policy has a rule that names
	 * repositories (the lookup reads files on the caller's behalf).
	 * find_repo returns the normalized remote, or NULL when unknown, and
	 * may set repo for later use.
	 */
	const char		*(*find_repo)(void *arg);
	void			*find_repo_arg;
	/* Opaque lease holder: "uid=U,pid=P,start=T"; see broker_caller_holder. */
	char			 holder[BROKER_HOLDER_MAX];
	/*
	 * "kind:key" of selectors that could not be read (ident.unknown),
	 * and whether the working directory could not be read: a policy
	 * counts them against the caller.
	 */
	const char *const	*unknown;
	size_t			 nunknown;
	int			 repo_unknown;
	/*
	 * Called right before a value is released, when set: the transport
	 * identifies the caller again (the same process, still running the
	 * same program, alone on its connection) and refreshes the fields
	 * above in place.  Non-zero refuses the release, with why in err.
	 */
	int			(*recheck)(void *arg, struct al_err *err);
	void			*recheck_arg;
};

struct broker_req {
	const char			*method;	/* "GET", "POST", ... */
	const char			*path;		/* without the query */
	const char			*query;		/* "a=1&b=2" or NULL */
	struct al_view			 body;
	const struct broker_caller	*caller;
	int				 no_wait;	/* long poll over */
};

struct rstream;

struct broker_resp {
	int			 status;	/* HTTP status */
	const char		*content_type;	/* static string */
	struct al_buf		 body;		/* JSON or text */
	/*
	 * A value to send raw instead of body (guarded memory).  The
	 * transport takes ownership and frees it (wiping) once sent.
	 */
	struct al_secret	*value;
	/* With value: the lease it is released under (see broker_withheld). */
	char			 value_lease[33];
	/*
	 * Set when the reply must wait until the audit log and lease table
	 * are synced (broker_sync); the transport holds it until then.
	 */
	int			 need_sync;
	/*
	 * Long poll: when non-zero, the request should be dispatched again
	 * once approval wait_id changes state or at wait_until_ms, whichever
	 * comes first.  The body is empty then.
	 */
	int64_t			 wait_until_ms;
	char			 wait_id[33];
	/*
	 * A long poll on leases instead (GET /v1/leases?ids=...&wait=S):
	 * dispatched again once broker_lease_wait_over says so, from
	 * wait_seq on.
	 */
	int			 wait_leases;
	uint64_t		 wait_seq;
	/*
	 * A lease or approval is now bound to this connection: the transport
	 * must not time the connection out while it idles.
	 */
	int			 hold_conn;
	/*
	 * A redaction stream to run on the connection once it is upgraded
	 * (status 101); the transport takes it over.  NULL: none.
	 */
	struct rstream		*upgrade;
	/*
	 * A value being made off the loop (a dynamic credential's mint): the
	 * transport parks the request until it is done, then has the broker
	 * finish the reply (broker_job_finish).  NULL: none.
	 */
	struct eng_job		*job;
};

struct broker_config {
	const char		*home;		/* $AIRLOCK_HOME */
	const char		*socket_path;	/* NULL: home/airlockd.sock */
	const char		*socket_group;	/* NULL: 0600; else 0660 */
	const char		*policy_path;	/* NULL: home/policy.yaml */
	const struct al_clock	*clock;
	int			 log_fd;	/* diagnostics, -1: none */
	/*
	 * Called once on the serving thread as soon as the socket accepts
	 * connections (NULL: nothing).  That thread serves until the broker
	 * stops, so what it starts may tie its life to it (a parent-death
	 * signal).
	 */
	void			(*on_ready)(void *arg);
	void			*on_ready_arg;
	/*
	 * Called on the serving thread at each SIGHUP, after the policy
	 * reload (NULL: nothing), with on_ready_arg.
	 */
	void			(*on_hup)(void *arg);
};

struct broker;

/*
 * A broker over v (unlocked; the broker takes ownership and closes it).
 * Opens the audit log, the lease table and the policy.  No socket yet.
 */
int	broker_new(const struct broker_config *cfg, struct vault *v,
	    struct broker **out, struct al_err *err) AL_WUR;
void	broker_free(struct broker *b);

void	broker_resp_init(struct broker_resp *r);
/* Free what r owns (wiping a value). */
void	broker_resp_release(struct broker_resp *r);

/*
 * Handle one request.  Never fails: every outcome, including bad input, is
 * a response.  r must have been initialised with broker_resp_init.
 */
void	broker_dispatch(struct broker *b, const struct broker_req *req,
	    struct broker_resp *r);

/*
 * Make every change since the last sync durable: audit log then lease
 * table.  Responses with need_sync are released only after this returns 0.
 */
int	broker_sync(struct broker *b, struct al_err *err) AL_WUR;

/*
 * End of a turn that needs no sync: let other processes append to the
 * audit log again.  Returns when the oldest change not yet synced was made
 * (ms since the epoch, 0: none); a loop syncs by then plus a short delay
 * even when nobody waits.
 */
int64_t	broker_flush(struct broker *b);

/*
 * Group commit on another thread (the transport's): the audit log was made
 * durable up to line durable by audit_sync, which returned rc.  Commits the
 * lease table; responses waiting for lines up to durable may go when this
 * returns 0.  A failed sync (rc) refuses every release until a restart.
 */
int	broker_synced(struct broker *b, int rc, uint64_t durable,
	    struct al_err *err) AL_WUR;
/*
 * A value ready for lease was not released after all (its audit line could
 * not be made durable): end the lease and record both facts, now or as
 * soon as the log can be written.
 */
void	broker_withheld(struct broker *b, const char *lease);

/* Sequence number of the last audit line written. */
uint64_t broker_audit_seq(struct broker *b);

/*
 * Time-driven work: end leases past their deadline, expire pending
 * approvals.  Returns the next deadline in milliseconds since the epoch
 * (0: none).
 */
int64_t	broker_tick(struct broker *b);

/* A connection went away: end its bound leases and pending approvals. */
void	broker_conn_closed(struct broker *b, uint64_t conn);

/* Reload the policy file; the old policy stays on error.  Audited. */
int	broker_reload_policy(struct broker *b, struct al_err *err) AL_WUR;

/*
 * Whether approval id is no longer pending (for long polls): 1 decided,
 * 0 pending or unknown.
 */
int	broker_approval_settled(struct broker *b, const char *id);

/* Record one request's latency for /metrics. */
void	broker_observe_latency(struct broker *b, int64_t usec);

/*
 * Bind the socket, serve until SIGTERM/SIGINT, then clean up.  When
 * ready_fd >= 0, one byte is written to it (then it is closed) once the
 * socket accepts connections.
 */
int	broker_serve(struct broker *b, int ready_fd, struct al_err *err) AL_WUR;

/*
 * Exposure labels of a secret's metadata.  EXPOSED_SINCE (RFC 3339) and
 * EXPOSED_WHERE (a path or what saw it, never the value) are set while the
 * secret is exposed; REVOKE_MS (exposure to its last lease ended) and
 * ROTATE_MS (exposure to the new version) are the times of its latest
 * exposure, kept after the rotation that ends it.
 */
#define BROKER_EXPOSED_SINCE	"exposed-since"
#define BROKER_EXPOSED_WHERE	"exposed-where"
#define BROKER_EXPOSURE_REVOKE_MS	"exposure-revoke-ms"
#define BROKER_EXPOSURE_ROTATE_MS	"exposure-rotate-ms"

struct vault_meta;

void	broker_label_drop(struct vault_meta *m, const char *k);
/* Set label k to v (replacing it).  AL_ENOMEM; AL_ETOOBIG: no room. */
int	broker_label_set(struct vault_meta *m, const char *k, const char *v)
	    AL_WUR;
/*
 * Set m exposed since now_ms, found in where, in its status and labels
 * (the times of an earlier exposure are dropped); the caller stores m.
 * The one place that says what an exposure looks like in the vault: the
 * broker's exposure route and a command that finds no broker both use it.
 */
int	broker_exposure_label(struct vault_meta *m, int64_t now_ms,
	    const char *where) AL_WUR;


#endif

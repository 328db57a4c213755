/*
 * airlock lease: the table of leases a broker has handed out.
 *
 * A lease lets one holder use one secret for a while: until it expires, its
 * uses run out, it idles too long, it is revoked (by id, by task, or because
 * the holder's connection closed), whichever comes first.  The table knows
 * nothing of vaults, policies or audit logs: the broker composes them.  It
 * never sees a secret value; it stores names and identifiers only.
 *
 * Leases are kept in their own SQLite file (WAL mode).  Changes accumulate in
 * an open transaction that lease_table_sync() commits, so a broker can batch
 * many requests behind one commit (group commit).  A commit reaches the
 * kernel at once but is not fsynced: it survives the broker's crash, and
 * the broker's durable record is its audit log, written before each commit
 * and synced before anything that depends on it is released.
 * When a table is opened, every lease past its expiry is ended, so is every
 * lease bound to a connection (connections do not survive their broker),
 * and so is every live lease if the machine restarted since the table was
 * last opened (the commits of the last moments may be lost then): after a
 * restart nothing outlives its expiry and what was revoked stays revoked.
 *
 * Time comes from an injectable clock (seconds), so tests never sleep.
 */
#ifndef AIRLOCK_LEASE_H
#define AIRLOCK_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/base.h"

#define LEASE_DB_FILE		"leases.db"
#define LEASE_ID_LEN		32	/* hex of 128 random bits */
#define LEASE_TEXT_MAX		256	/* secret, task, intent, holder */
#define LEASE_TTL_DEFAULT	300	/* seconds, when none is asked for */
#define LEASE_USES_UNLIMITED	(-1)
/* Ended leases stay queryable this long (seconds), then are pruned. */
#define LEASE_KEEP_ENDED	3600

enum lease_state {
	LEASE_LIVE = 0,
	LEASE_EXPIRED,		/* its TTL passed */
	LEASE_USED_UP,		/* its last use was taken */
	LEASE_IDLE,		/* unused past its idle timeout */
	LEASE_REVOKED,		/* revoked by id or task */
	LEASE_CLOSED,		/* its holder's connection closed */
	LEASE_RESTARTED,	/* bound to a connection of a previous broker,
				   or live when the machine restarted */
};

/* What a caller asks for. Strings are borrowed; task/intent may be "". */
struct lease_spec {
	const char	*secret;
	const char	*holder;	/* opaque identity of the holder */
	const char	*task;
	const char	*intent;
	int64_t		 ttl;		/* seconds, > 0 */
	int		 max_uses;	/* > 0, or LEASE_USES_UNLIMITED */
	int64_t		 idle_timeout;	/* seconds, 0: none */
	uint64_t	 conn;		/* bind to this connection; 0: unbound */
};

/* A lease as stored.  Plain data: copy it freely. */
struct lease {
	char		 id[LEASE_ID_LEN + 1];
	char		 secret[LEASE_TEXT_MAX + 1];
	char		 holder[LEASE_TEXT_MAX + 1];
	char		 task[LEASE_TEXT_MAX + 1];
	char		 intent[LEASE_TEXT_MAX + 1];
	int64_t		 issued;
	int64_t		 expires;
	int64_t		 last_used;	/* 0: never used */
	int64_t		 idle_timeout;	/* 0: none */
	int64_t		 ended;		/* 0 while live */
	int		 max_uses;	/* LEASE_USES_UNLIMITED or > 0 */
	int		 uses;		/* taken so far */
	uint64_t	 conn;		/* 0: unbound */
	enum lease_state state;
};

struct lease_table;

/*
 * Called for each lease a sweep ends (expiry, idle, connection close,
 * revocation by task), with the lease in its ended state.
 */
typedef void (*lease_end_fn)(const struct lease *l, void *arg);

/*
 * Open (creating mode 0600 if missing) the table at path, or a private
 * in-memory table when path is NULL.  Ends what cannot have survived (see
 * above), reporting each through on_end when not NULL, and prunes leases
 * ended more than LEASE_KEEP_ENDED ago.  clock is borrowed.
 */
int	lease_table_open(const char *path, const struct al_clock *clock,
	    lease_end_fn on_end, void *arg, struct lease_table **out,
	    struct al_err *err) AL_WUR;
/* Commit what is pending and close.  NULL is a no-op. */
void	lease_table_close(struct lease_table *t);

/*
 * Commit every change since the last sync (written, not fsynced: see
 * above).  A caller releases nothing that depends on a change before this
 * returns 0, and makes the records of the changes durable first.
 */
int	lease_table_sync(struct lease_table *t, struct al_err *err) AL_WUR;

/*
 * Issue a new lease with a fresh random id.  AL_EINVAL (naming the field)
 * when a string is empty where required (secret, holder), too long, or ttl
 * or max_uses are out of range.
 */
int	lease_issue(struct lease_table *t, const struct lease_spec *spec,
	    struct lease *out, struct al_err *err) AL_WUR;

/*
 * The lease with this id, live or ended, its state brought up to date
 * (a live lease past a deadline is ended first).  AL_ENOENT when unknown
 * (or pruned).
 */
int	lease_get(struct lease_table *t, const char *id, struct lease *out,
	    struct al_err *err) AL_WUR;

/*
 * Take one use of a live lease: AL_EEXPIRED (with the state in out and in
 * the message) when it has ended, AL_ENOENT when unknown.  On success out is
 * the lease after the use.  A lease whose last use this was ends at once:
 * out->state is then LEASE_USED_UP (the use itself succeeded).
 */
int	lease_use(struct lease_table *t, const char *id, struct lease *out,
	    struct al_err *err) AL_WUR;

/*
 * End a live lease now with state (LEASE_REVOKED normally).  AL_ENOENT when
 * unknown; AL_EEXPIRED when it had already ended (out holds it).
 */
int	lease_revoke(struct lease_table *t, const char *id,
	    enum lease_state state, struct lease *out, struct al_err *err)
	    AL_WUR;

/* End every live lease of task with LEASE_REVOKED; count in *n. */
int	lease_revoke_task(struct lease_table *t, const char *task,
	    lease_end_fn fn, void *arg, size_t *n, struct al_err *err) AL_WUR;

/* End every live lease bound to conn with LEASE_CLOSED; count in *n. */
int	lease_revoke_conn(struct lease_table *t, uint64_t conn,
	    lease_end_fn fn, void *arg, size_t *n, struct al_err *err) AL_WUR;

/*
 * End every live lease whose expiry or idle deadline is at or before now,
 * reporting each through fn; count in *n (may be NULL).
 */
int	lease_sweep(struct lease_table *t, lease_end_fn fn, void *arg,
	    size_t *n, struct al_err *err) AL_WUR;

/*
 * The earliest moment (seconds) at which a live lease reaches a deadline,
 * or 0 when no lease is live.
 */
int64_t	lease_next_deadline(struct lease_table *t);

/*
 * Forget at most max leases that ended more than LEASE_KEEP_ENDED ago (in
 * the batch transaction); *n receives how many.  Opening the table forgets
 * them all; a long-running broker calls this now and then.
 */
int	lease_table_prune(struct lease_table *t, size_t max, size_t *n,
	    struct al_err *err) AL_WUR;

/*
 * A counter of the calls that may have changed the table: while it stays
 * the same, lease_next_deadline does too.
 */
uint64_t lease_table_writes(const struct lease_table *t);

/* Number of live leases (after no sweep: may include overdue ones). */
size_t	lease_count_live(struct lease_table *t);

/*
 * Call fn for every live lease (holder "" for all, or only that holder's),
 * oldest first.  Stops and returns fn's value if it is non-zero.
 */
int	lease_list(struct lease_table *t, const char *holder,
	    int (*fn)(const struct lease *l, void *arg), void *arg,
	    struct al_err *err) AL_WUR;

const char *lease_state_name(enum lease_state s);
/* Whether id is LEASE_ID_LEN lowercase hex digits. */
int	lease_id_valid(const char *id);

#endif

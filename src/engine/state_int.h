/*
 * Private to src/engine: the service's state (engine.c) and its records
 * (records.c).  Everything in struct engine but the sources' slots is
 * guarded by mu.
 */
#ifndef AIRLOCK_ENGINE_STATE_INT_H
#define AIRLOCK_ENGINE_STATE_INT_H

#include <pthread.h>

#include <sqlite3.h>

#include "cred_int.h"
#include "pq_dl.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	30000
#define DONE_MAX	4096
/* Names recorded durably per sync (one fsync for this many mints). */
#define RESERVE_BATCH	32
/* The oldest the batch transaction of records.c gets before its commit. */
#define ENGINE_BATCH_MS		50
/*
 * Ended credentials waiting for their first revocation beyond which a mint
 * waits (up to ENGINE_BACKLOG_WAIT_MS) for them to be taken.
 */
#define ENGINE_BACKLOG		32
#define ENGINE_BACKLOG_WAIT_MS	1000
/*
 * A revocation attempt under way this long is held up by something other
 * than its share of the CPU (a lock a lease's holder keeps, a session that
 * lingers, a slow server): while one is, mints do not wait for the queue,
 * which waiting would not move.
 */
#define ENGINE_BACKLOG_STUCK_MS	100
/*
 * Workers that may retry failed revocations at once: the others take
 * first attempts, so that revocations failing again and again (held up for
 * the lock timeout each time) never keep newly ended credentials waiting.
 */
#define ENGINE_RETRY_WORKERS	(ENGINE_WORKERS / 2)

struct rec {
	struct engine_cred	 c;
	int64_t			 next_try_ms;
	int			 busy;
	int64_t			 started_ms;	/* a worker's attempt, or 0 */
	int			 orphan;
	int			 reserved;	/* a name recorded, not used yet */
	struct al_secret	*keep;		/* the engine's, for revoking */
};

/*
 * This state file's own id, in the name of every role it mints: the orphan
 * search of one broker only looks at its own roles, never at those of
 * another airlock sharing the database and the prefix.
 */
#define INSTANCE_HEX	12

struct engine {
	const struct al_clock	*clock;
	char			 inst[INSTANCE_HEX + 1];
	sqlite3			*db;
	sqlite3_stmt		*st_save, *st_delete;	/* records.c's */
	int			 in_batch;	/* a batch transaction is open */
	int64_t			 batch_ms;	/* when it began */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;		/* workers: a record is due */
	pthread_cond_t		 backlog_cv;	/* mints: the queue is short */
	int			 backlog_waiters;
	int			 retrying;	/* workers retrying */
	pthread_t		 worker[ENGINE_WORKERS];
	int			 nworkers;
	int			 stop;
	int			 ready;		/* engine_recover ran */
	uint64_t		 slot_seq;	/* slots handed back */
	struct rec		*recs;
	size_t			 nrecs, caprecs;
	struct engine_source	*sources;
	struct pq_dl		 dl;		/* loaded with the first source */
	struct al_secret_pool	*values;	/* minted values, or NULL */
	struct engine_done	 done[DONE_MAX];
	size_t			 ndone;
	struct engine_stats	 st;
};

/* Milliseconds by the engine's clock. */
int64_t	engine_now_ms(struct engine *e);
/*
 * Run sql on the state database (mu held).  Not AL_WUR: some callers
 * ignore a failure on purpose (see records.c).
 */
int	engine_db_exec(struct engine *e, const char *sql, struct al_err *err);
/* Finalize the statements records.c keeps (before the db is closed). */
void	engine_stmts_free(struct engine *e);
/*
 * Write r's row, insert or replace (mu held), in the batch transaction:
 * not durable until engine_commit, or the batch's own commit
 * ENGINE_BATCH_MS after it began.
 */
int	engine_rec_save(struct engine *e, const struct rec *r,
	    struct al_err *err);
/* The same, durable when it returns 0 (the batch committed first). */
int	engine_rec_save_durable(struct engine *e, const struct rec *r,
	    struct al_err *err);
/* Commit the batch transaction, if one is open (mu held). */
void	engine_commit(struct engine *e);
/* Forget role's row (mu held; in the batch transaction). */
int	engine_rec_delete(struct engine *e, const char *role);
/* A new zeroed record in memory, or NULL (mu held). */
struct rec *engine_rec_add(struct engine *e);
struct rec *engine_rec_find(struct engine *e, const char *role);
/* Mark r revoking (its lease ended now), save it, count it (mu held). */
void	engine_rec_end(struct engine *e, struct rec *r);
/* This state file's id into e->inst, made on first open. */
int	engine_instance_load(struct engine *e, struct al_err *err) AL_WUR;
/* Load every row at open. */
int	engine_rec_load(struct engine *e, struct al_err *err) AL_WUR;
/* A reserved name of source s, or NULL (mu held). */
struct rec *engine_take_reserved(struct engine *e,
	    const struct engine_source *s);
/* Record RESERVE_BATCH fresh names for s, synced (mu held). */
int	engine_reserve(struct engine *e, const struct engine_source *s,
	    struct al_err *err) AL_WUR;

#endif

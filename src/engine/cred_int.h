/* Private to src/engine: sources and the ops table of an engine. */
#ifndef AIRLOCK_ENGINE_CRED_INT_H
#define AIRLOCK_ENGINE_CRED_INT_H

#include <pthread.h>

#include "airlock/engine.h"

struct pq_dl;

struct engine_slot {
	void			*conn;
	struct al_secret	*root;	/* version byte + password */
};

/*
 * Revocation workers: eight keep up with what four minting threads make
 * (with four, revocations queued behind 700 mints/s and time-to-revoke p99
 * reached 0.1-1.1 s).
 */
#define ENGINE_WORKERS	8
/* Mints at once per source. */
#define ENGINE_MINTERS	4
/*
 * Connections per source that mint and revoke.  Each backend the server
 * keeps costs every other one (its snapshots, the catalog invalidations
 * each must read): the same statements on 16 sessions instead of 8 cost
 * the server 15% more CPU.  Where one connection may do both (see
 * engine_ops.shared), ENGINE_POOL serve mints and revocations alike;
 * otherwise mints have ENGINE_MINTERS of their own after them.
 */
#define ENGINE_POOL	8
#define ENGINE_SLOTS	(ENGINE_POOL + ENGINE_MINTERS)
/* A pooled connection unused this long is closed. */
#define ENGINE_IDLE_MS	30000

/* A secret an engine mints from: its configuration and root credential. */
struct engine_source {
	char				 name[65];
	uint32_t			 version;
	struct engine_config		 cfg;
	const struct engine_ops		*ops;
	const struct pq_dl		*dl;	/* the engine's table */
	struct al_secret_pool		*values; /* minted values, or NULL */
	/* What the names it mints start with: prefix, then the state's id. */
	char				 stem[ENGINE_PREFIX_MAX + 16];
	/*
	 * One slot per thread at a time (the loop searches for orphans at
	 * start through mint, then closes it; minters mint and workers revoke
	 * through slots): a cached connection and its own copy of the root
	 * credential, as guarded memory is opened and closed by one thread at a
	 * time.  Both take the free slot used last (busy, used, under the
	 * engine's mutex), so that few connections do the work: a session used
	 * again at once finds its caches warm, and each one open costs the
	 * server.  At most ENGINE_MINTERS mints hold slots, and revocations
	 * leave one of a shared pool to mints: neither kind can stall the other.
	 */
	struct engine_slot		 mint;
	struct engine_slot		 slots[ENGINE_SLOTS];
	unsigned			 busy;
	uint64_t			 used[ENGINE_SLOTS];	/* sequence */
	int64_t				 last_ms[ENGINE_SLOTS];	/* when given back */
	int				 shared;	/* ops->shared said yes */
	int				 nmint, nrevoke;	/* slots held */
	int				 mint_waiters, revoke_waiters;
	pthread_cond_t			 mint_cv, revoke_cv;	/* a slot */
	struct engine_source		*next;
};

/*
 * An engine.  Each call gets the source and a handle slot (a cached
 * connection) that belongs to the calling thread.
 */
struct engine_ops {
	const char	*name;
	/* Dry run of what a lease does, rolled back. */
	int	(*check)(const struct pq_dl *dl, const struct engine_config *c,
		    const struct al_secret *root, struct al_err *err);
	/* Whether check is given libpq and libcrypto, loaded, in dl. */
	int	check_pq;
	/* Load the libraries it calls into dl (NULL: none). */
	int	(*load)(struct pq_dl *dl, struct al_err *err);
	/*
	 * Create credential role, valid until valid_until (seconds); *value
	 * what the holder gets; ext the issuer's own id of it, when it has
	 * one ("" otherwise).
	 */
	int	(*mint)(struct engine_source *s, struct engine_slot *h,
		    const char *role, const struct engine_for *why,
		    int64_t valid_until, struct al_secret **value,
		    char ext[ENGINE_EXT_MAX + 1], struct al_secret **keep,
		    struct al_err *err);
	/*
	 * Destroy it and verify it is gone (gone already: success).  keep is
	 * what mint asked to keep for this (in memory only: NULL after a
	 * restart); first: no attempt was made before (one held up fails
	 * sooner, see ENGINE_RETRY_WORKERS).
	 */
	int	(*destroy)(struct engine_source *s, struct engine_slot *h,
		    const char *role, const char *ext, struct al_secret *keep,
		    int first, struct al_err *err);
	/*
	 * Call fn for every role whose name starts with the source's stem
	 * (NULL: the issuer cannot be searched).
	 */
	int	(*roles)(struct engine_source *s, struct engine_slot *h,
		    void (*fn)(const char *role, void *arg), void *arg,
		    struct al_err *err);
	void	(*close)(const struct pq_dl *dl, void *h);
	/*
	 * Whether one connection may serve both mint and destroy for c
	 * (NULL: yes).
	 */
	int	(*shared)(const struct engine_config *c);
};

extern const struct engine_ops engine_pg_ops;
extern const struct engine_ops engine_exec_ops;
extern const struct engine_ops engine_gh_ops;

/*
 * A JSON object in guarded memory: the string member vkey decoded into new
 * guarded memory (*value, required, non-empty), and the string member ikey
 * (NULL: none) into id (at most ENGINE_EXT_MAX printable bytes).  AL_EINVAL
 * when it is not such an object.
 */
int	engine_json_take(struct al_secret *json, const char *vkey,
	    struct al_secret **value, const char *ikey,
	    char id[ENGINE_EXT_MAX + 1]) AL_WUR;

const struct engine_ops *engine_ops_find(const char *name);

/*
 * The SCRAM-SHA-256 verifier of password as PostgreSQL stores it
 * ("SCRAM-SHA-256$iter:salt$StoredKey:ServerKey"), into out (>= 160 bytes).
 *
 * A minted password is 256 random bits: iterations (key stretching) slow
 * the guessing of a password a person chose and add nothing to that, so
 * few are used.  16 cost about 5 us where PostgreSQL's default 4096 cost
 * about 0.8 ms of the broker's CPU per credential, and as much again at
 * each login of its holder.
 */
#define ENGINE_SCRAM_ITER	16
#define ENGINE_SCRAM_MAX	160
int	engine_scram_verifier(const struct pq_dl *dl, const char *password, size_t len, int iter,
	    char *out, size_t outsz) AL_WUR;

#endif

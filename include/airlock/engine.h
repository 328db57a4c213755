/*
 * airlock engine: dynamic credentials.
 *
 * A secret backed by an engine is not handed out: its value is the engine's
 * root credential (for postgres, the admin password, possibly empty), and a
 * use of a lease mints a fresh credential from it (a PostgreSQL role with a
 * random name and a 256-bit random password) that is destroyed when the
 * lease ends.  The engine knows nothing of leases, the vault or the audit
 * log: the broker composes them.  It owns:
 *
 *   - the engines, behind an ops table (struct engine_ops; postgres today);
 *   - a small SQLite state file in which every credential is recorded
 *     (fsynced) before it is created, so a crash never leaves one that
 *     airlock does not know about;
 *   - the revocation queue: a credential whose lease ended is destroyed by
 *     a worker thread, off the broker's event loop; a failure (database
 *     down) is kept, with its last error, and retried with backoff until it
 *     succeeds, across restarts.
 *
 * Thread safety: every function here may be called from one thread (the
 * broker's loop) while the worker runs; they synchronise internally.
 */
#ifndef AIRLOCK_ENGINE_H
#define AIRLOCK_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/base.h"

#define ENGINE_STATE_FILE	"engine.db"
#define ENGINE_ROLE_MAX		63	/* PostgreSQL's NAMEDATALEN - 1 */
#define ENGINE_EXT_MAX		255	/* an issuer's credential id (exec) */
#define ENGINE_EXEC_TIMEOUT	10	/* seconds, default of --timeout */
#define ENGINE_PREFIX_MAX	32
#define ENGINE_PREFIX_DEFAULT	"airlock_"
#define ENGINE_GRANTS_MAX	16
#define ENGINE_ERROR_MAX	256
/* VALID UNTIL is the lease's expiry plus this (seconds). */
#define ENGINE_VALID_MARGIN	60
/* Label keys under which a secret's engine configuration is stored. */
#define ENGINE_L_ENGINE		"engine"
#define ENGINE_L_CONNECTION	"engine.connection"
#define ENGINE_L_GROUP		"engine.group"
#define ENGINE_L_PREFIX		"engine.role-prefix"
#define ENGINE_L_REASSIGN	"engine.reassign-to"
#define ENGINE_L_GRANT		"engine.grant."	/* + 1, 2, ... */
#define ENGINE_L_ISSUE		"engine.issue"
#define ENGINE_L_REVOKE		"engine.revoke"
#define ENGINE_L_TIMEOUT	"engine.timeout"
#define ENGINE_L_APP_ID		"engine.app-id"
#define ENGINE_L_INSTALLATION	"engine.installation-id"
#define ENGINE_L_API_URL	"engine.api-url"
#define ENGINE_L_PERMISSION	"engine.permission."	/* + 1, 2, ... */
#define ENGINE_GH_API_DEFAULT	"https://api.github.com"

/* A secret's engine configuration (owned strings). */
struct engine_config {
	char	 engine[16];		/* "postgres", "exec", "github-app" */
	char	*issue;			/* exec: shell command that issues */
	char	*revoke;		/* exec: shell command that revokes */
	int	 timeout;		/* exec: seconds per command */
	char	*app_id;		/* github-app */
	char	*installation;		/* github-app: installation id */
	char	*api_url;		/* github-app: NULL: the default */
	char	*perms[ENGINE_GRANTS_MAX];	/* github-app: "name=level" */
	size_t	 nperms;
	char	*connection;		/* libpq conninfo, no password */
	char	*group;			/* group role granted, or NULL */
	char	*reassign_to;		/* owner of what a role leaves; NULL:
					   the admin user */
	char	 prefix[ENGINE_PREFIX_MAX + 1];
	char	*grants[ENGINE_GRANTS_MAX];	/* {{role}} substituted */
	size_t	 ngrants;
};

/* One key=value pair of a secret's labels (borrowed). */
struct engine_kv {
	const char	*key;
	const char	*value;
};

/* Whether labels name an engine (label "engine" present). */
int	engine_kv_is_dynamic(const struct engine_kv *kv, size_t n);
/*
 * Parse the configuration from a secret's labels.  AL_EINVAL naming the
 * label when one is missing or malformed.  Release with
 * engine_config_release.
 */
int	engine_config_from_kv(const struct engine_kv *kv, size_t n,
	    struct engine_config *out, struct al_err *err) AL_WUR;
void	engine_config_release(struct engine_config *c);
/*
 * Check a configuration as given to `secret add` (engine name, prefix,
 * connection without a password): AL_EINVAL naming the option.
 */
int	engine_config_check(const struct engine_config *c, struct al_err *err)
	    AL_WUR;

/*
 * The root credential as stored in the vault: one version byte, then the
 * admin password (may be empty).  engine_root_make builds it from password
 * (NULL or empty: none).
 */
int	engine_root_make(const struct al_secret *password,
	    struct al_secret **out) AL_WUR;

/*
 * Connect with the root credential and dry-run what a lease would do, in a
 * transaction that is rolled back: create a role, grant it the group, run
 * each grant statement.  AL_EUNAVAIL when the database cannot be reached,
 * AL_EINVAL naming the grant statement (by number) that failed and why.
 */
int	engine_check_live(const struct engine_config *c,
	    const struct al_secret *root, struct al_err *err) AL_WUR;

/* ---- the service --------------------------------------------------------- */

struct engine;

/* A credential as recorded (plain data). */
struct engine_cred {
	char		 role[ENGINE_ROLE_MAX + 1];	/* airlock's name */
	char		 ext[ENGINE_EXT_MAX + 1];	/* issuer's id or "" */
	char		 secret[65];
	char		 lease[33];
	uint64_t	 conn;
	int64_t		 expires;	/* the lease's expiry (seconds) */
	int		 revoking;	/* its lease ended */
	int		 attempts;	/* revocations tried so far */
	int64_t		 ended_ms;	/* when its lease ended */
	char		 error[ENGINE_ERROR_MAX];	/* last failure */
	int64_t		 attempt_ms;	/* the attempt under way began (on
					   its connection), 0: none (list) */
};

/* A revocation confirmed (the role is verified gone). */
struct engine_done {
	char		 role[ENGINE_ROLE_MAX + 1];
	char		 secret[65];
	char		 lease[33];
	int64_t		 ttr_ms;	/* lease end -> confirmed gone */
	int		 attempts;
	int		 orphan;	/* found at start, no live lease */
};

/*
 * Open (creating, mode 0600) the state file at path and start the worker.
 * Credentials recorded there are loaded; none is revoked until
 * engine_recover says which leases are still live.
 */
int	engine_open(const char *path, const struct al_clock *clock,
	    struct engine **out, struct al_err *err) AL_WUR;
/* Stop the worker (an attempt in progress finishes) and close. */
void	engine_free(struct engine *e);

/*
 * Make the source named secret known (or refresh it when version changed):
 * its configuration is copied, root into new guarded memory.
 */
int	engine_source_set(struct engine *e, const char *secret,
	    uint32_t version, const struct engine_config *c,
	    const struct al_secret *root, struct al_err *err) AL_WUR;
/* Whether a source of that name and version is known. */
int	engine_source_known(struct engine *e, const char *secret,
	    uint32_t version);

/* What a mint is for, as an issuer may want to know (strings may be NULL). */
struct engine_for {
	const char	*task;
	const char	*repo;		/* the caller's repository */
};

/*
 * Mint a credential for lease on the source secret: record it (durably),
 * then create it, valid until expires + ENGINE_VALID_MARGIN.  *value is the
 * credential as the holder sees it (for postgres a postgresql:// URL), in
 * guarded memory (postgres: from the value pool, when one is set); role
 * receives its name.  On failure nothing is left:
 * a role that may exist is queued for revocation.
 */
int	engine_mint(struct engine *e, const char *secret, const char *lease,
	    uint64_t conn, int64_t expires, const struct engine_for *why,
	    struct al_secret **value,
	    char role[ENGINE_ROLE_MAX + 1], struct al_err *err) AL_WUR;

/*
 * Take the values engine_mint hands out from pool (guarded blocks wiped
 * and lent again, see al_secret_pool_take) instead of a guarded mapping of
 * their own each: a mint then changes no mapping.  NULL: no pool.  Set
 * before the first source; the pool outlives every value taken from it.
 */
void	engine_set_value_pool(struct engine *e, struct al_secret_pool *pool);

/* The lease ended: queue the revocation of its credentials (count in *n). */
int	engine_lease_ended(struct engine *e, const char *lease, size_t *n);
/* Connection conn closed: queue credentials minted on it. */
int	engine_conn_closed(struct engine *e, uint64_t conn, size_t *n);
/* Queue credentials whose lease expiry is at or before now (seconds). */
int	engine_expire(struct engine *e, int64_t now, size_t *n);
/* The earliest expiry of a credential not yet revoking, or 0. */
int64_t	engine_next_expiry(struct engine *e);

/*
 * At broker start: credentials whose lease live() says has ended are
 * queued; then each known source's database is searched for roles with its
 * prefix that no credential records (orphans), which are queued too.
 * Sources are set before.  Failures to reach a database are returned in
 * err but do not stop the others.
 */
int	engine_recover(struct engine *e, int (*live)(const char *lease,
	    void *arg), void *arg, size_t *n, struct al_err *err) AL_WUR;

/* Move up to max confirmed revocations into out; returns how many. */
size_t	engine_take_done(struct engine *e, struct engine_done *out,
	    size_t max);
/* Call fn for every credential recorded (live or revoking). */
void	engine_list(struct engine *e, void (*fn)(const struct engine_cred *c,
	    void *arg), void *arg);
/*
 * Without a broker: call fn for every credential whose revocation is queued
 * in the state file at path (opened read-only, never created).  AL_ENOENT
 * when there is no such file (no dynamic credential was ever minted).
 */
int	engine_queue_read(const char *path, void (*fn)(const struct
	    engine_cred *c, void *arg), void *arg, struct al_err *err) AL_WUR;
/* Upper bounds (ms) of the time-to-revoke histogram's buckets. */
#define ENGINE_TTR_NBUCKETS	9
#define ENGINE_TTR_BOUNDS_MS	{ 5, 10, 25, 50, 100, 250, 500, 1000, 5000 }

/* Counters since open. */
struct engine_stats {
	uint64_t	minted;
	uint64_t	revoked;
	uint64_t	failures;	/* failed revocation attempts */
	size_t		revoking;	/* queued now */
	/* Time-to-revoke of each revocation: counts per bucket (not
	   cumulative; the last counts what is above every bound), sum. */
	uint64_t	ttr_buckets[ENGINE_TTR_NBUCKETS + 1];
	uint64_t	ttr_sum_ms;
};
void	engine_stats(struct engine *e, struct engine_stats *out);

/* ---- commands ------------------------------------------------------------ */

/*
 * A command run through `/bin/sh -c cmd [sh arg]` (the exec engine's issue
 * and revoke commands, a secret's rotation command).  It gets in on stdin,
 * and runs in a process group of its own below a keeper process that ends
 * the group and every process the command left (even one that left the
 * group) when the command exits, at the timeout, and when the calling
 * thread dies, kill -9 included: nothing of it outlives the run.
 */
struct engine_cmd {
	const char	*what;		/* for errors: "the rotation command" */
	const char	*cmd;
	const char	*arg;		/* $1, or NULL */
	const char	*in;		/* stdin: inlen bytes (NULL if 0) */
	size_t		 inlen;
	int		 timeout;	/* seconds */
	size_t		 out_max;	/* stdout kept, at most; > 0 */
	size_t		 err_max;	/* stderr kept, at most; 0: discarded */
};

/*
 * Run c: *out its stdout, *errout its stderr (both guarded, closed; errout
 * NULL or c->err_max 0: stderr is read and dropped), *status its exit
 * status (128 + N when a signal N ended it).  AL_ETIMEDOUT when it runs
 * past c->timeout (everything is killed; nothing is returned), AL_ETOOBIG
 * when it prints more than the maximum, AL_ESYS.
 */
int	engine_cmd_run(const struct engine_cmd *c, struct al_secret **out,
	    struct al_secret **errout, int *status, struct al_err *err)
	    AL_WUR;

#endif

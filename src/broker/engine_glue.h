/*
 * Private to src/broker: composing the engine (dynamic credentials) with
 * the vault, the lease table and the audit log (h_engine.c).
 */
#ifndef AIRLOCK_BROKER_ENGINE_GLUE_H
#define AIRLOCK_BROKER_ENGINE_GLUE_H

#include <jansson.h>

#include "airlock/lease.h"
#include "airlock/vault.h"

struct broker;

/*
 * Open the engine's state, make every engine secret of the vault a source,
 * queue what no live lease holds (records and orphan roles).  A database
 * that cannot be reached is logged, not fatal.
 */
int	eng_start(struct broker *b, struct al_err *err) AL_WUR;
/*
 * Before the broker stops: let the mints under way finish, refuse those
 * queued, audit what was made for requests that went away.
 */
void	eng_quiesce(struct broker *b);
void	eng_stop(struct broker *b);
/*
 * The value of a use of lease l whose secret is m, *value read from the
 * vault.  For a static secret nothing changes (*job NULL).  For an engine
 * secret the credential is minted by a thread of the broker's, off its
 * loop: *value (the root credential) is freed and *job is the mint under
 * way.  The request waits for it (eng_job_done), then broker_job_finish
 * (h_lease.c) completes the reply.
 */
struct eng_job;
int	eng_value_start(struct broker *b, const struct lease *l,
	    const struct vault_meta *m, const json_t *who,
	    struct al_secret **value, struct eng_job **job,
	    struct al_err *err) AL_WUR;
int	eng_job_done(struct eng_job *j);
/* The lease (as it was at the use) and the caller the job is for. */
const struct lease *eng_job_lease(const struct eng_job *j);
json_t	*eng_job_who(const struct eng_job *j);
/*
 * A done job's credential into *value, a "mint" line audited (ok or
 * error); j is freed.
 */
int	eng_value_finish(struct broker *b, struct eng_job *j,
	    struct al_secret **value, struct al_err *err) AL_WUR;
/* Its request went away: j is freed once done (NULL: nothing to do). */
void	eng_job_abandon(struct eng_job *j);
/* The eventfd the minting threads wake the loop with (-1: none). */
int	eng_fd(struct broker *b);
/* Clear it and free the abandoned jobs that are done. */
void	eng_drain(struct broker *b);
/* Complete the reply of a request whose job is done (h_lease.c). */
void	broker_job_finish(struct broker *b, struct broker_resp *resp);
/* Lease l ended (a used-up lease keeps its credentials until its expiry). */
void	eng_lease_ended(struct broker *b, const struct lease *l);
/* Lease l was revoked by request, even after its last use. */
void	eng_lease_revoked(struct broker *b, const struct lease *l);
void	eng_conn_closed(struct broker *b, uint64_t conn);
/*
 * Time-driven work: expiries, audit lines of confirmed revocations.
 * Returns the next moment (ms) it needs a tick, or 0.
 */
int64_t	eng_tick(struct broker *b);
/* Append the credentials being revoked to a lease list (JSON array). */
void	eng_list(struct broker *b, json_t *arr);
/* Prometheus lines of the engine's counters onto out. */
int	eng_metrics(struct broker *b, struct al_buf *out) AL_WUR;

#endif

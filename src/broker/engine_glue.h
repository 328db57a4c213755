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
void	eng_stop(struct broker *b);
/*
 * The value of a use of lease l whose secret is m, *value read from the
 * vault: for a static secret nothing changes; for an engine secret *value
 * (the root credential) is replaced by a freshly minted credential, and a
 * "mint" line is audited.
 */
int	eng_value(struct broker *b, const struct lease *l,
	    const struct vault_meta *m, const json_t *who,
	    struct al_secret **value, struct al_err *err) AL_WUR;
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

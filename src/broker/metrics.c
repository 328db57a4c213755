/* /metrics in the Prometheus text exposition format (version 0.0.4). */
#include "broker_int.h"

/* Upper bounds of the latency buckets, seconds (+Inf implied last). */
static const double bounds[METRICS_NBUCKETS - 1] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
	0.5, 2.5,
};

void
metrics_observe(struct broker_metrics *m, int64_t usec)
{
	double s = (double)usec / 1e6;
	size_t i;

	for (i = 0; i < METRICS_NBUCKETS - 1 && s > bounds[i]; i++)
		;
	m->latency_buckets[i]++;
	m->latency_count++;
	m->latency_sum += s;
}

static int
counter(struct al_buf *o, const char *name, const char *help, uint64_t v)
{
	return al_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
	    name, help, name, name, (unsigned long long)v);
}

static int
gauge(struct al_buf *o, const char *name, const char *help, uint64_t v)
{
	return al_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n",
	    name, help, name, name, (unsigned long long)v);
}

int
metrics_render(const struct broker_metrics *m, size_t active_leases,
    size_t pending_approvals, size_t connections, struct al_buf *o)
{
	uint64_t cum = 0;
	size_t i;
	int rc = 0;

	rc |= gauge(o, "airlock_leases_active", "Leases live now.",
	    active_leases);
	rc |= gauge(o, "airlock_approvals_pending",
	    "Lease requests waiting for an approver.", pending_approvals);
	rc |= gauge(o, "airlock_connections", "Client connections open now.",
	    connections);
	rc |= counter(o, "airlock_requests_total", "HTTP requests handled.",
	    m->requests);
	rc |= counter(o, "airlock_grants_total", "Leases granted.", m->grants);
	rc |= counter(o, "airlock_denials_total",
	    "Lease requests denied by policy or an approver.", m->denials);
	rc |= counter(o, "airlock_approvals_requested_total",
	    "Lease requests that needed approval.", m->approvals_requested);
	rc |= counter(o, "airlock_uses_total", "Values released.", m->uses);
	rc |= counter(o, "airlock_revocations_total", "Leases revoked.",
	    m->revocations);
	rc |= counter(o, "airlock_expirations_total",
	    "Leases ended by time, idleness, use count or a closed "
	    "connection.", m->expirations);
	rc |= counter(o, "airlock_errors_total",
	    "Requests answered with an error other than a denial.",
	    m->errors);
	rc |= counter(o, "airlock_policy_reloads_total",
	    "Policy reloads that succeeded.", m->reloads_ok);
	rc |= counter(o, "airlock_policy_reload_failures_total",
	    "Policy reloads rejected (the old policy stayed).",
	    m->reloads_failed);
	rc |= al_buf_puts(o, "# HELP airlock_request_duration_seconds "
	    "Time from a complete request to its reply being queued.\n"
	    "# TYPE airlock_request_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += m->latency_buckets[i];
		if (i < METRICS_NBUCKETS - 1)
			rc |= al_buf_printf(o, "airlock_request_duration_"
			    "seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
			    (unsigned long long)cum);
		else
			rc |= al_buf_printf(o, "airlock_request_duration_"
			    "seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	rc |= al_buf_printf(o, "airlock_request_duration_seconds_sum %.6f\n"
	    "airlock_request_duration_seconds_count %llu\n", m->latency_sum,
	    (unsigned long long)m->latency_count);
	return rc ? AL_ETOOBIG : 0;
}

const char *const metrics_guard_outcomes[METRICS_GUARD_OUTCOMES] = {
	"forwarded", "masked", "blocked", "refused", "upstream_failed",
};

/* The counts `airlock guard` processes reported (names need no escape). */
int
metrics_render_guard(const struct broker_guard_metrics *m, struct al_buf *o)
{
	size_t i;
	int rc = 0;

	rc |= al_buf_puts(o, "# HELP airlock_guard_requests_total "
	    "Requests answered by airlock guard, by outcome.\n"
	    "# TYPE airlock_guard_requests_total counter\n");
	for (i = 0; i < METRICS_GUARD_OUTCOMES; i++)
		rc |= al_buf_printf(o, "airlock_guard_requests_total{outcome="
		    "\"%s\"} %llu\n", metrics_guard_outcomes[i],
		    (unsigned long long)m->requests[i]);
	rc |= al_buf_puts(o, "# HELP airlock_guard_masks_total "
	    "Secret values and rule hits airlock guard found in request "
	    "bodies, by name.\n"
	    "# TYPE airlock_guard_masks_total counter\n");
	for (i = 0; i < m->nmasks; i++)
		rc |= al_buf_printf(o, "airlock_guard_masks_total{kind=\"%s\","
		    "name=\"%s\"} %llu\n", m->masks[i].rule ? "rule" :
		    "secret", m->masks[i].name,
		    (unsigned long long)m->masks[i].count);
	if (m->other_masks > 0)
		rc |= al_buf_printf(o, "airlock_guard_masks_total{kind="
		    "\"other\",name=\"\"} %llu\n",
		    (unsigned long long)m->other_masks);
	return rc ? AL_ETOOBIG : 0;
}

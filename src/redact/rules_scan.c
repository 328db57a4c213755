/*
 * The scanner as the redactor's rule matcher: each unfinished line the
 * stream holds for rules goes through scan_buffer, and every secret a rule
 * confirms is reported as a hit named after the rule.
 */
#include <pthread.h>
#include <stdlib.h>

#include "airlock/redact.h"
#include "airlock/scan.h"
#include "redact_int.h"

/*
 * One scratch for every stream of the set: streams of one set may run in
 * several threads (the MCP server), and a scan of one held line is short,
 * so a mutex costs less than a scratch per call.
 */
struct scan_matcher {
	const struct scan_engine	*engine;
	struct scan_scratch		*scratch;
	pthread_mutex_t			 lock;
};

struct hit_ctx {
	redact_hit_fn	 hit;
	void		*hit_arg;
};

static int
on_match(const struct scan_match *m, const unsigned char *buf, size_t n,
    void *arg)
{
	struct hit_ctx *h = arg;

	(void)buf;
	(void)n;
	h->hit(h->hit_arg, m->off, m->len, m->rule->id);
	return 0;
}

static int
match(void *arg, const unsigned char *p, size_t n, redact_hit_fn hit,
    void *hit_arg)
{
	struct scan_matcher *sm = arg;
	struct hit_ctx h = { hit, hit_arg };
	int rc;

	(void)pthread_mutex_lock(&sm->lock);
	rc = scan_buffer(sm->engine, sm->scratch, NULL, p, n, on_match, &h,
	    NULL);
	(void)pthread_mutex_unlock(&sm->lock);
	return rc;
}

static void
matcher_free(void *arg)
{
	struct scan_matcher *sm = arg;

	if (sm == NULL)
		return;
	scan_scratch_free(sm->scratch);
	(void)pthread_mutex_destroy(&sm->lock);
	free(sm);
}

int
redact_use_scan(struct redact *r, const struct scan_engine *e,
    struct al_err *err)
{
	struct scan_matcher *sm;
	int rc;

	if (r->rule_owned != NULL)
		return al_err_set(err, AL_EINVAL, "scanner rules already set");
	if ((sm = calloc(1, sizeof(*sm))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	sm->engine = e;
	if (pthread_mutex_init(&sm->lock, NULL) != 0) {
		free(sm);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	if ((rc = scan_scratch_new(e, &sm->scratch, err)) != 0 ||
	    (rc = redact_set_rule_matcher(r, match, sm, REDACT_RULE_MAX,
	    err)) != 0) {
		matcher_free(sm);
		return rc;
	}
	r->rule_owned = sm;
	r->rule_owned_free = matcher_free;
	return 0;
}

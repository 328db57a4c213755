/*
 * The scanner as the redactor's rule matcher: each window the stream holds
 * for rules goes through scan_buffer, and every secret a rule confirms is
 * reported as a hit named after the rule.
 *
 * The engine may be given (redact_use_scan) or loaded on first use
 * (redact_use_scan_lazy): building it costs more than a command that
 * prints nothing takes to run, so a set that never sees output never pays
 * for it.
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
	struct scan_engine		*owned;		/* loaded here */
	struct scan_scratch		*scratch;
	redact_scan_load_fn		 load;
	void				*load_arg;
	int				 load_rc;	/* a failed load */
	struct al_err			 load_err;
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

/*
 * Build the engine and its scratch the first time (lock held).  A failure
 * is kept: every later window fails the same way, so no stream of the set
 * ever lets output through unscanned.
 */
static int
ensure_engine(struct scan_matcher *sm)
{
	struct scan_engine *e = NULL;
	int rc;

	if (sm->scratch != NULL)
		return 0;
	if (sm->load_rc != 0)
		return sm->load_rc;
	if (sm->engine == NULL) {
		rc = sm->load(sm->load_arg, &e, &sm->load_err);
		if (rc == 0 && e == NULL)
			rc = al_err_set(&sm->load_err, AL_EINVAL,
			    "the rule loader returned no engine");
		if (rc != 0)
			goto fail;
		sm->engine = sm->owned = e;
	}
	if ((rc = scan_scratch_new(sm->engine, &sm->scratch,
	    &sm->load_err)) != 0)
		goto fail;
	return 0;
fail:
	if (sm->load_err.msg[0] == '\0')
		(void)al_err_set(&sm->load_err, rc, "%s", al_strerror(rc));
	sm->load_rc = rc < 0 ? rc : AL_EIO;
	return sm->load_rc;
}

static int
match(void *arg, const unsigned char *p, size_t n, redact_hit_fn hit,
    void *hit_arg)
{
	struct scan_matcher *sm = arg;
	struct hit_ctx h = { hit, hit_arg };
	int rc;

	(void)pthread_mutex_lock(&sm->lock);
	if ((rc = ensure_engine(sm)) == 0)
		rc = scan_buffer(sm->engine, sm->scratch, NULL, p, n, on_match,
		    &h, NULL);
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
	scan_engine_free(sm->owned);
	(void)pthread_mutex_destroy(&sm->lock);
	free(sm);
}

static int
install(struct redact *r, const struct scan_engine *e,
    redact_scan_load_fn load, void *load_arg, struct al_err *err)
{
	struct scan_matcher *sm;
	int rc;

	if (r->rule_owned != NULL)
		return al_err_set(err, AL_EINVAL, "scanner rules already set");
	if ((sm = calloc(1, sizeof(*sm))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	sm->engine = e;
	sm->load = load;
	sm->load_arg = load_arg;
	al_err_clear(&sm->load_err);
	if (pthread_mutex_init(&sm->lock, NULL) != 0) {
		free(sm);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	if ((e != NULL && (rc = scan_scratch_new(e, &sm->scratch, err)) != 0) ||
	    (rc = redact_set_rule_matcher(r, match, sm, REDACT_RULE_MAX,
	    err)) != 0) {
		matcher_free(sm);
		return rc;
	}
	r->rule_owned = sm;
	r->rule_owned_free = matcher_free;
	r->rule_error = sm->load_err.msg;
	return 0;
}

int
redact_use_scan(struct redact *r, const struct scan_engine *e,
    struct al_err *err)
{
	if (e == NULL)
		return al_err_set(err, AL_EINVAL, "no scanner engine");
	return install(r, e, NULL, NULL, err);
}

int
redact_use_scan_lazy(struct redact *r, redact_scan_load_fn load, void *arg,
    struct al_err *err)
{
	if (load == NULL)
		return al_err_set(err, AL_EINVAL, "no rule loader");
	return install(r, NULL, load, arg, err);
}

const char *
redact_rule_error(const struct redact *r)
{
	/* Written under the matcher's lock, before the failing write returns. */
	return r->rule_error != NULL && r->rule_error[0] != '\0' ?
	    r->rule_error : NULL;
}

/*
 * Deciding a request: the first rule whose every matcher matches.  A matcher
 * a rule does not name matches anything; the items of one list are
 * alternatives.  Whatever cannot be evaluated counts against the caller: an
 * allow rule does not match, a deny rule does, an exclusion excludes.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

#define REPO_NORM_MAX	4096

static int
globs_match(const struct pglobs *g, const char *s, int flags)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (fnmatch(g->v[i], s, flags) == 0)
			return 1;
	return 0;
}

/* Every label the rule names must be on the secret with a matching value. */
static int
labels_match(const struct prule *rule, const struct policy_request *r)
{
	size_t i, j, kl;
	int found;

	for (i = 0; i < rule->nlabels; i++) {
		kl = strlen(rule->labels[i].key);
		found = 0;
		for (j = 0; j < r->nlabels && !found; j++) {
			const char *l = r->labels[j];

			if (l != NULL && strncmp(l, rule->labels[i].key,
			    kl) == 0 && l[kl] == '=' &&
			    fnmatch(rule->labels[i].glob, l + kl + 1, 0) == 0)
				found = 1;
		}
		if (!found)
			return 0;
	}
	return 1;
}

/* 1 inside one of the windows, 0 outside, -1 when a zone failed. */
static int
when_match(const struct policy *p, const struct prule *rule, int64_t now)
{
	size_t i;
	int m, failed = 0;

	for (i = 0; i < rule->nwhen; i++) {
		if ((m = pwindow_match(p->icu, &rule->when[i], now)) == 1)
			return 1;
		if (m < 0)
			failed = 1;
	}
	return failed ? -1 : 0;
}

/*
 * The rule's matchers, three-valued: any that does not match makes the
 * rule not match; else any unknown makes it unknown (what, in why).
 */
static enum pmatch
rule_matches(const struct policy *p, const struct prule *rule,
    const struct policy_request *r, const char *repo, char *why,
    size_t whysz)
{
	enum pmatch out = PM_MATCH, m;
	int w;

	why[0] = '\0';
	if (rule->has_secrets && !globs_match(&rule->secrets, r->secret, 0))
		return PM_NO;
	if (rule->has_labels && !labels_match(rule, r))
		return PM_NO;
	if (rule->has_tasks && !globs_match(&rule->tasks,
	    r->task ? r->task : "", 0))
		return PM_NO;
	/* An intent is prose: "Deploy staging" matches "deploy *". */
	if (rule->has_intents && !globs_match(&rule->intents,
	    r->intent ? r->intent : "", FNM_CASEFOLD))
		return PM_NO;
	if (rule->has_repos) {
		if (r->repo_unknown) {
			out = PM_UNKNOWN;
			(void)snprintf(why, whysz, "the repository (the "
			    "caller's working directory)");
		} else if (!globs_match(&rule->repos, repo, 0))
			return PM_NO;
	}
	if (rule->has_callers) {
		m = psels_match(&rule->callers, r->selectors, r->nselectors,
		    r->unknown, r->nunknown, why, whysz);
		if (m == PM_NO)
			return PM_NO;
		if (m == PM_UNKNOWN)
			out = PM_UNKNOWN;
	}
	if (rule->has_when && (w = when_match(p, rule, r->now)) != 1) {
		if (w == 0)
			return PM_NO;
		out = PM_UNKNOWN;
		if (why[0] == '\0')
			(void)snprintf(why, whysz, "the time zone of 'when'");
	}
	return out;
}

static void
decide_from(const struct prule *rule, struct policy_decision *d)
{
	size_t i;

	d->effect = rule->effect;
	(void)snprintf(d->rule, sizeof(d->rule), "%s", rule->id);
	d->line = rule->line;
	if (rule->effect != POLICY_DENY) {
		d->max_ttl = rule->max_ttl;
		d->max_uses = rule->max_uses;
		d->use_proxy = rule->use_proxy;
	}
	/* Lengths were checked at load: nothing here truncates. */
	if (rule->reason != NULL)
		(void)snprintf(d->reason, sizeof(d->reason), "%s",
		    rule->reason);
	else if (rule->effect == POLICY_DENY)
		(void)snprintf(d->reason, sizeof(d->reason), "denied by rule "
		    "'%s'", rule->id);
	else if (rule->effect == POLICY_APPROVAL)
		(void)snprintf(d->reason, sizeof(d->reason), "rule '%s' "
		    "requires approval", rule->id);
	else
		(void)snprintf(d->reason, sizeof(d->reason), "allowed by rule "
		    "'%s'", rule->id);
	if (rule->effect == POLICY_APPROVAL) {
		for (i = 0; i < rule->approvers.n; i++)
			(void)snprintf(d->approvers[i],
			    sizeof(d->approvers[i]), "%s%s",
			    rule->approvers.v[i].neg ? "!" : "",
			    rule->approvers.v[i].pattern);
		d->napprovers = rule->approvers.n;
	}
}

int
policy_decide(const struct policy *p, const struct policy_request *r,
    struct policy_decision *d)
{
	char repo[REPO_NORM_MAX], why[POLICY_MSG_MAX / 2];
	const struct prule *rule;
	enum pmatch m;
	size_t i;

	memset(d, 0, sizeof(*d));
	d->effect = POLICY_DENY;
	(void)snprintf(d->reason, sizeof(d->reason), "no rule matched "
	    "(default deny)");
	if (r->secret == NULL)
		return AL_EINVAL;
	/* A remote too long to normalize is matched as given. */
	if (r->repo == NULL)
		repo[0] = '\0';
	else if (policy_repo_normalize(r->repo, repo, sizeof(repo)) != 0)
		(void)snprintf(repo, sizeof(repo), "%s", r->repo);
	for (i = 0; i < p->nrules; i++) {
		rule = &p->rules[i];
		if ((m = rule_matches(p, rule, r, repo, why, sizeof(why))) ==
		    PM_NO)
			continue;
		if (m == PM_UNKNOWN && rule->effect != POLICY_DENY) {
			/* Tell the first rule passed over this way. */
			if (d->unknown[0] == '\0')
				(void)snprintf(d->unknown, sizeof(d->unknown),
				    "rule '%s' (line %d) was passed over: %s "
				    "could not be read for this caller",
				    rule->id, rule->line, why);
			continue;
		}
		decide_from(rule, d);
		if (m == PM_UNKNOWN)
			(void)snprintf(d->unknown, sizeof(d->unknown), "rule "
			    "'%s' (line %d) matched because %s could not be "
			    "read for this caller", rule->id, rule->line, why);
		break;
	}
	return 0;
}

int
policy_approver_allowed(const struct policy_decision *d,
    const char *const *selectors, size_t n, const char *const *unknown,
    size_t nunknown)
{
	struct psel v[POLICY_APPROVERS_MAX];
	struct psels s;
	char why[POLICY_MSG_MAX];
	size_t i;

	if (d->effect != POLICY_APPROVAL || d->napprovers == 0 ||
	    d->napprovers > POLICY_APPROVERS_MAX)
		return 0;
	memset(&s, 0, sizeof(s));
	s.v = v;
	for (i = 0; i < d->napprovers; i++) {
		v[i].neg = d->approvers[i][0] == '!';
		v[i].pattern = (char *)d->approvers[i] + v[i].neg;
		if (psel_check(v[i].pattern, &v[i].kindlen, why,
		    sizeof(why)) != 0)
			return 0;
		if (!v[i].neg)
			s.npos++;
		s.n++;
	}
	/* Exclusions alone never make an approver. */
	return s.npos > 0 && psels_match(&s, selectors, n, unknown, nunknown,
	    NULL, 0) == PM_MATCH;
}

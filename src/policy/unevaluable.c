/*
 * What a policy does when the broker cannot read some of what its rules
 * name: for `policy lint` and `policy check`, so that a deployment that
 * cannot evaluate a selector says so before a request finds out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static int
listed(const char *const *v, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] != NULL && strlen(v[i]) == len &&
		    strncmp(v[i], s, len) == 0)
			return 1;
	return 0;
}

static const char *
effect_then(const struct prule *r, int neg, int approver)
{
	if (approver)
		return neg ? "excludes every such approver" :
		    "never admits such an approver";
	if (r->effect == POLICY_DENY)
		return neg ? "exempts nobody: the rule denies them all" :
		    "denies every such caller the rule's other matchers "
		    "select";
	return neg ? "excludes every such caller: the rule never applies to "
	    "them" : "never matches such a caller";
}

static void
note_sels(struct pdiags *d, const struct prule *r, const struct psels *s,
    const char *const *un, size_t nun, const char *who, int approver)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (listed(un, nun, s->v[i].pattern, s->v[i].kindlen))
			pdiag_add(d, r->line, "note: rule '%s': %s'%s%s' cannot "
			    "be read for %s, so it %s", r->id, approver ?
			    "approver " : "", s->v[i].neg ? "!" : "",
			    s->v[i].pattern, who, effect_then(r, s->v[i].neg,
			    approver));
}

int
policy_unevaluable(const struct policy *p, const char *const *unreadable,
    size_t nunreadable, const char *who, struct policy_diag **out,
    size_t *n)
{
	struct pdiags d;
	const struct prule *r;
	size_t i;

	*out = NULL;
	*n = 0;
	memset(&d, 0, sizeof(d));
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (r->has_callers)
			note_sels(&d, r, &r->callers, unreadable, nunreadable,
			    who, 0);
		if (r->effect == POLICY_APPROVAL)
			note_sels(&d, r, &r->approvers, unreadable,
			    nunreadable, who, 1);
		if (r->has_repos && listed(unreadable, nunreadable, "repos",
		    5))
			pdiag_add(&d, r->line, "note: rule '%s': 'repos' needs "
			    "the working directory, which cannot be read for "
			    "%s, so the rule %s", r->id, who, r->effect ==
			    POLICY_DENY ? "denies every such caller its other "
			    "matchers select" : "never matches such a caller");
	}
	if (d.nomem) {
		free(d.v);
		return AL_ENOMEM;
	}
	pdiag_sort(&d);
	*out = d.v;
	*n = d.n;
	return 0;
}

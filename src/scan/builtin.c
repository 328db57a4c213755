/*
 * The built-in rule set, from the table scan-rulegen made of
 * rules/default.yaml at build time.  Parsing the YAML took longer than
 * the rest of a small scan's start; copying the table takes microseconds.
 */
#include <stdlib.h>
#include <string.h>

#include "scan_int.h"

static int
strv_from(struct scan_strv *sv, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (scan_strv_push(sv, v[i]) != 0)
			return AL_ENOMEM;
	return 0;
}

static int
opt_dup(char **d, const char *s)
{
	*d = NULL;
	return s != NULL && (*d = strdup(s)) == NULL ? AL_ENOMEM : 0;
}

static int
rule_from(struct scan_rule *r, const struct scan_rule_def *d)
{
	int bad = 0;

	memset(r, 0, sizeof(*r));
	bad |= opt_dup(&r->id, d->id);
	bad |= opt_dup(&r->description, d->description);
	bad |= opt_dup(&r->regex, d->regex);
	bad |= opt_dup(&r->requires, d->requires);
	bad |= opt_dup(&r->example_path, d->example_path);
	bad |= strv_from(&r->keywords, d->keywords, d->nkeywords);
	bad |= strv_from(&r->allow, d->allow, d->nallow);
	bad |= strv_from(&r->paths, d->paths, d->npaths);
	bad |= strv_from(&r->positive, d->positive, d->npositive);
	bad |= strv_from(&r->negative, d->negative, d->nnegative);
	r->info.id = r->id;
	r->info.description = r->description;
	r->info.severity = d->severity;
	r->info.category = d->category;
	r->info.generic = d->generic;
	r->entropy = d->entropy;
	r->group = d->group;
	r->multiline = d->multiline;
	r->keywords_cased = d->keywords_cased;
	r->decode = d->decode;
	r->enabled = 1;
	r->builtin = 1;
	r->line = d->line;
	return bad ? AL_ENOMEM : 0;
}

int
scan_rules_builtin(struct scan_rules **out, struct al_err *err)
{
	struct scan_rules *r;
	int rc = 0;

	*out = NULL;
	if ((r = scan_rules_alloc()) == NULL ||
	    (r->v = calloc(scan_builtin_ndefs, sizeof(*r->v))) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	r->cap = scan_builtin_ndefs;
	for (; r->n < scan_builtin_ndefs; r->n++)
		if ((rc = rule_from(&r->v[r->n], &scan_builtin_defs[r->n])) !=
		    0) {
			r->n++;		/* released with the set */
			goto out;
		}
	rc = strv_from(&r->allow, scan_builtin_allow, scan_builtin_nallow);
out:
	if (rc != 0) {
		scan_rules_free(r);
		return al_err_set(err, rc, "out of memory");
	}
	*out = r;
	return 0;
}

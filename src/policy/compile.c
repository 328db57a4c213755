/*
 * From the YAML tree to rules.  Every problem is recorded with its line and
 * the walk goes on, so `airlock policy lint` can list all of them at once;
 * a policy with any error is never used.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icu_dl.h"
#include "policy_int.h"

#define DESCRIPTION_MAX	1024

/* Lines of keys whose meaning depends on the effect, checked at the end. */
struct rule_keys {
	int	id, effect, max_ttl, max_uses, reason, approvers, use;
};

static const char *
plural_s(size_t n)
{
	return n == 1 ? "" : "s";
}

/* The scalar text of n, or NULL (with a message) if n is not a value. */
static const char *
want_scalar(const struct pnode *n, const char *key, struct pdiags *d)
{
	if (n->type != PN_SCALAR) {
		pdiag_add(d, n->line, "'%s' must be a single value, not a %s",
		    key, n->type == PN_SEQ ? "list" : "mapping");
		return NULL;
	}
	if (n->plain && n->len == 0) {
		pdiag_add(d, n->line, "'%s' needs a value", key);
		return NULL;
	}
	return n->str;
}

/*
 * The items of a list value (into items, max <= POLICY_LIST_MAX): a sequence
 * of scalars, or one scalar standing for a list of one.  Returns the count,
 * or -1 after a message.
 */
static long
want_list(const struct pnode *n, const char *key, size_t max,
    const struct pnode **items, struct pdiags *d)
{
	size_t i;
	int bad = 0;

	if (n->type == PN_MAP) {
		pdiag_add(d, n->line, "'%s' must be a list, not a mapping",
		    key);
		return -1;
	}
	if (n->type == PN_SCALAR) {
		if (want_scalar(n, key, d) == NULL)
			return -1;
		items[0] = n;
		return 1;
	}
	if (n->nkids == 0) {
		pdiag_add(d, n->line, "'%s' is an empty list (remove the key "
		    "to match anything)", key);
		return -1;
	}
	if (n->nkids > max) {
		pdiag_add(d, n->line, "'%s' has %zu items; at most %zu", key,
		    n->nkids, max);
		return -1;
	}
	for (i = 0; i < n->nkids; i++)
		if (want_scalar(n->kids[i], key, d) == NULL)
			bad = 1;
	if (bad)
		return -1;
	for (i = 0; i < n->nkids; i++)
		items[i] = n->kids[i];
	return (long)n->nkids;
}

/*
 * Whether the key at index i of map already appeared: the reader reported
 * the duplicate, and compiling it twice would overwrite the first value.
 */
static int
seen_before(const struct pnode *map, size_t i)
{
	size_t j;

	for (j = 0; j < i; j += 2)
		if (map->kids[j]->type == PN_SCALAR &&
		    strcmp(map->kids[j]->str, map->kids[i]->str) == 0)
			return 1;
	return 0;
}

static int
check_id(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > POLICY_ID_MAX || !(islower((unsigned char)s[0]) ||
	    isdigit((unsigned char)s[0])))
		return -1;
	for (i = 1; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return -1;
	return 0;
}

/*
 * Secret names are letters, digits and "._-/" (vault_name_check); anything
 * else in a glob never matches.  '*' crosses '/' (no FNM_PATHNAME), so
 * one glob covers a whole hierarchy of names.
 */
static int
secret_glob_ok(const char *g)
{
	for (; *g != '\0'; g++)
		if (!isalnum((unsigned char)*g) &&
		    strchr("._-/*?[]!^:\\", *g) == NULL)
			return 0;
	return 1;
}

static int
compile_globs(const struct pnode *v, const char *key, struct pglobs *out,
    struct pdiags *d)
{
	const struct pnode *items[POLICY_LIST_MAX];
	const char *why;
	long n, i;
	int bad = 0;

	if ((n = want_list(v, key, POLICY_LIST_MAX, items, d)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *g = items[i]->str;

		if ((why = pglob_check(g)) != NULL) {
			pdiag_add(d, items[i]->line, "%s: %s", key, why);
			bad = 1;
		} else if (strcmp(key, "secrets") == 0 && !secret_glob_ok(g)) {
			pdiag_add(d, items[i]->line, "secrets: '%.64s' can "
			    "never match a secret name (letters, digits, . _ - /)", g);
			bad = 1;
		} else if (strcmp(key, "repos") == 0 && (strstr(g, "://") ||
		    strchr(g, '@') || (strlen(g) > 4 &&
		    strcmp(g + strlen(g) - 4, ".git") == 0))) {
			pdiag_add(d, items[i]->line, "repos: write a "
			    "repository as host/path, such as "
			    "github.com/acme/api (remotes are normalized)");
			bad = 1;
		}
	}
	if (bad)
		return -1;
	if ((out->v = calloc((size_t)n, sizeof(*out->v))) == NULL) {
		d->nomem = 1;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((out->v[i] = strdup(items[i]->str)) == NULL) {
			d->nomem = 1;
			return -1;
		}
		out->n++;
	}
	return 0;
}

static int
compile_sels(const struct pnode *v, const char *key, size_t max,
    struct psels *out, struct pdiags *d)
{
	const struct pnode *items[POLICY_LIST_MAX];
	char why[POLICY_MSG_MAX];
	size_t kl;
	long n, i;
	int bad = 0, neg;

	if ((n = want_list(v, key, max, items, d)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		neg = items[i]->str[0] == '!';
		if (psel_check(items[i]->str + neg, &kl, why, sizeof(why))) {
			pdiag_add(d, items[i]->line, "%s: %s", key, why);
			bad = 1;
		}
	}
	if (bad)
		return -1;
	if ((out->v = calloc((size_t)n, sizeof(*out->v))) == NULL) {
		d->nomem = 1;
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct psel *s = &out->v[i];

		s->neg = items[i]->str[0] == '!';
		if (psel_check(items[i]->str + s->neg, &s->kindlen, why,
		    sizeof(why)) != 0 ||
		    (s->pattern = strdup(items[i]->str + s->neg)) == NULL) {
			d->nomem = 1;
			return -1;
		}
		out->n++;
		if (!s->neg)
			out->npos++;
	}
	return 0;
}

static int
compile_labels(const struct pnode *v, struct prule *r, struct pdiags *d)
{
	const char *why;
	size_t i, n;
	int bad = 0;

	if (v->type != PN_MAP) {
		pdiag_add(d, v->line, "'labels' must be a mapping such as "
		    "{env: prod}");
		return -1;
	}
	if ((n = v->nkids / 2) == 0 || n > POLICY_LIST_MAX) {
		pdiag_add(d, v->line, "'labels' must have 1 to %d entries",
		    POLICY_LIST_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct pnode *k = v->kids[2 * i], *g = v->kids[2 * i + 1];

		if (k->type != PN_SCALAR) {
			bad = 1;	/* reported by the reader */
			continue;
		}
		if (k->len == 0 || k->len > 128 || strchr(k->str, '=')) {
			pdiag_add(d, k->line, "labels: a key is 1-128 "
			    "characters without '='");
			bad = 1;
		}
		if (want_scalar(g, k->str, d) == NULL)
			bad = 1;
		else if ((why = pglob_check(g->str)) != NULL) {
			pdiag_add(d, g->line, "labels: %s", why);
			bad = 1;
		}
	}
	if (bad)
		return -1;
	if ((r->labels = calloc(n, sizeof(*r->labels))) == NULL) {
		d->nomem = 1;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((r->labels[i].key = strdup(v->kids[2 * i]->str)) == NULL ||
		    (r->labels[i].glob = strdup(v->kids[2 * i + 1]->str)) ==
		    NULL) {
			free(r->labels[i].key);
			d->nomem = 1;
			return -1;
		}
		r->nlabels++;
	}
	return 0;
}

/* Parse a day name, 0 Sunday .. 6 Saturday, or -1. */
static int
day_index(const char *s, size_t n)
{
	static const char days[] = "sunmontuewedthufrisat";
	int i;

	if (n != 3)
		return -1;
	for (i = 0; i < 7; i++)
		if (strncmp(days + 3 * i, s, 3) == 0)
			return i;
	return -1;
}

static int
compile_days(const struct pnode *v, unsigned *days, struct pdiags *d)
{
	const struct pnode *items[POLICY_LIST_MAX];
	const char *s, *dash;
	long n, i;
	int a, b, bad = 0;

	if ((n = want_list(v, "days", 7, items, d)) < 0)
		return -1;
	*days = 0;
	for (i = 0; i < n; i++) {
		s = items[i]->str;
		dash = strchr(s, '-');
		a = day_index(s, dash ? (size_t)(dash - s) : strlen(s));
		b = dash ? day_index(dash + 1, strlen(dash + 1)) : a;
		if (a < 0 || b < 0) {
			pdiag_add(d, items[i]->line, "days: expected mon, tue, "
			    "wed, thu, fri, sat, sun or a range such as "
			    "mon-fri");
			bad = 1;
			continue;
		}
		for (;;) {	/* a range may wrap: fri-mon */
			*days |= 1u << a;
			if (a == b)
				break;
			a = (a + 1) % 7;
		}
	}
	return bad ? -1 : 0;
}

static int
parse_hhmm(const char *s, int *out)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -1;
	*out = ((s[0] - '0') * 10 + s[1] - '0') * 60 +
	    (s[3] - '0') * 10 + s[4] - '0';
	if ((s[3] - '0') * 10 + s[4] - '0' > 59 || *out > 24 * 60)
		return -1;
	return 0;
}

static int
compile_hours(const struct pnode *v, struct pwindow *w, struct pdiags *d)
{
	const char *s;

	if ((s = want_scalar(v, "hours", d)) == NULL)
		return -1;
	if (strlen(s) != 11 || s[5] != '-' || parse_hhmm(s, &w->start) ||
	    parse_hhmm(s + 6, &w->end) || w->start == 24 * 60) {
		pdiag_add(d, v->line, "hours: expected HH:MM-HH:MM such as "
		    "09:00-17:00 (22:00-06:00 crosses midnight)");
		return -1;
	}
	if (w->start == w->end) {
		pdiag_add(d, v->line, "hours: the window is empty; write "
		    "00:00-24:00 for the whole day");
		return -1;
	}
	if (w->end == 0)
		w->end = 24 * 60;	/* "22:00-00:00" ends at midnight */
	return 0;
}

/*
 * ICU, for the policy's time windows, on the first one: a load failure is
 * an error of the whole load (d->librc), not a diagnostic of the text.
 */
static int
need_icu(struct policy *p, struct pdiags *d)
{
	if (p->icu == NULL && d->librc == 0)
		d->librc = icu_dl_new(ICU_DL_SONAME, &p->icu, &d->liberr);
	return p->icu != NULL ? 0 : -1;
}

static int
compile_window(const struct pnode *v, struct pwindow *w, struct policy *p,
    struct pdiags *d)
{
	const char *key, *s;
	size_t i;
	int bad = 0;

	w->days = 0x7f;
	w->start = 0;
	w->end = 24 * 60;
	if (v->type != PN_MAP) {
		pdiag_add(d, v->line, "a time window is a mapping with days, "
		    "hours and timezone");
		return -1;
	}
	if (need_icu(p, d) != 0)
		return -1;
	for (i = 0; i + 1 < v->nkids; i += 2) {
		if (v->kids[i]->type != PN_SCALAR || seen_before(v, i))
			continue;
		key = v->kids[i]->str;
		if (strcmp(key, "days") == 0)
			bad |= compile_days(v->kids[i + 1], &w->days, d) != 0;
		else if (strcmp(key, "hours") == 0)
			bad |= compile_hours(v->kids[i + 1], w, d) != 0;
		else if (strcmp(key, "timezone") == 0) {
			if ((s = want_scalar(v->kids[i + 1], key, d)) == NULL)
				bad = 1;
			else if (!ptz_valid(p->icu, s)) {
				pdiag_add(d, v->kids[i + 1]->line, "unknown "
				    "timezone '%.64s' (use UTC or an IANA "
				    "name such as Europe/Paris)", s);
				bad = 1;
			} else if (strcmp(s, "UTC") != 0 &&
			    (w->tz = strdup(s)) == NULL)
				d->nomem = bad = 1;
		} else {
			pdiag_add(d, v->kids[i]->line, "unknown key '%.64s' "
			    "in a time window (expected days, hours or "
			    "timezone)", key);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static int
compile_when(const struct pnode *v, struct prule *r, struct policy *p,
    struct pdiags *d)
{
	size_t i, n = v->type == PN_SEQ ? v->nkids : 1;
	int bad = 0;

	if (n == 0 || n > POLICY_LIST_MAX) {
		pdiag_add(d, v->line, "'when' must have 1 to %d windows",
		    POLICY_LIST_MAX);
		return -1;
	}
	if ((r->when = calloc(n, sizeof(*r->when))) == NULL) {
		d->nomem = 1;
		return -1;
	}
	for (i = 0; i < n; i++) {
		bad |= compile_window(v->type == PN_SEQ ? v->kids[i] : v,
		    &r->when[i], p, d) != 0;
		r->nwhen++;
	}
	return bad ? -1 : 0;
}

/* Scalar settings of a rule: id, effect, max_ttl, max_uses, reason. */
static int
compile_setting(const char *key, const struct pnode *v, struct prule *r,
    struct pdiags *d)
{
	struct al_err e;
	const char *s;
	long long n;

	if ((s = want_scalar(v, key, d)) == NULL)
		return -1;
	if (strcmp(key, "id") == 0) {
		if (check_id(s) != 0) {
			pdiag_add(d, v->line, "id: 1-%d characters of a-z 0-9 "
			    ". _ - starting with a letter or digit",
			    POLICY_ID_MAX);
			return -1;
		}
		(void)snprintf(r->id, sizeof(r->id), "%s", s);
	} else if (strcmp(key, "effect") == 0) {
		if (strcmp(s, "allow") == 0)
			r->effect = POLICY_ALLOW;
		else if (strcmp(s, "deny") == 0)
			r->effect = POLICY_DENY;
		else if (strcmp(s, "approval") == 0)
			r->effect = POLICY_APPROVAL;
		else {
			pdiag_add(d, v->line, "effect: expected allow, deny or "
			    "approval");
			return -1;
		}
	} else if (strcmp(key, "max_ttl") == 0) {
		if (al_parse_duration(s, "max_ttl", &r->max_ttl, &e) != 0) {
			pdiag_add(d, v->line, "%s", e.msg);
			return -1;
		}
		if (r->max_ttl > POLICY_MAX_TTL_MAX) {
			pdiag_add(d, v->line, "max_ttl: at most 24h (leases "
			    "are meant to be short)");
			return -1;
		}
	} else if (strcmp(key, "max_uses") == 0) {
		if (al_parse_int(s, 1, POLICY_MAX_USES_MAX, "max_uses", &n,
		    &e) != 0) {
			pdiag_add(d, v->line, "%s", e.msg);
			return -1;
		}
		r->max_uses = (int)n;
	} else if (strcmp(key, "use") == 0) {
		if (strcmp(s, "proxy") == 0)
			r->use_proxy = POLICY_USE_PROXY;
		else if (strcmp(s, "proxy-isolated") == 0)
			r->use_proxy = POLICY_USE_PROXY_ISOLATED;
		else if (strcmp(s, "any") == 0)
			r->use_proxy = 0;
		else {
			pdiag_add(d, v->line, "use: expected proxy (the value "
			    "only through `run --proxy`), proxy-isolated (and "
			    "only for a command in its own network namespace) "
			    "or any");
			return -1;
		}
	} else if (strcmp(key, "reason") == 0) {
		if (strlen(s) >= POLICY_REASON_MAX) {
			pdiag_add(d, v->line, "reason: at most %d bytes",
			    POLICY_REASON_MAX - 1);
			return -1;
		}
		if ((r->reason = strdup(s)) == NULL)
			d->nomem = 1;
	} else if (strcmp(key, "description") == 0) {
		if (strlen(s) > DESCRIPTION_MAX) {
			pdiag_add(d, v->line, "description: at most %d bytes",
			    DESCRIPTION_MAX);
			return -1;
		}
	}
	return 0;
}

static const char *const rule_keys[] = {
	"id", "description", "effect", "callers", "secrets", "labels",
	"intents", "tasks", "repos", "when", "max_ttl", "max_uses", "reason",
	"approvers", "use", NULL,
};

static int
compile_key(const char *key, const struct pnode *v, struct prule *r,
    struct rule_keys *kl, struct policy *p, struct pdiags *d)
{
	if (strcmp(key, "callers") == 0) {
		r->has_callers = 1;
		return compile_sels(v, key, POLICY_LIST_MAX, &r->callers, d);
	}
	if (strcmp(key, "approvers") == 0) {
		kl->approvers = v->line;
		return compile_sels(v, key, POLICY_APPROVERS_MAX,
		    &r->approvers, d);
	}
	if (strcmp(key, "secrets") == 0) {
		r->has_secrets = 1;
		return compile_globs(v, key, &r->secrets, d);
	}
	if (strcmp(key, "intents") == 0) {
		r->has_intents = 1;
		return compile_globs(v, key, &r->intents, d);
	}
	if (strcmp(key, "tasks") == 0) {
		r->has_tasks = 1;
		return compile_globs(v, key, &r->tasks, d);
	}
	if (strcmp(key, "repos") == 0) {
		r->has_repos = 1;
		return compile_globs(v, key, &r->repos, d);
	}
	if (strcmp(key, "labels") == 0) {
		r->has_labels = 1;
		return compile_labels(v, r, d);
	}
	if (strcmp(key, "when") == 0) {
		r->has_when = 1;
		return compile_when(v, r, p, d);
	}
	if (strcmp(key, "id") == 0)
		kl->id = v->line;
	else if (strcmp(key, "effect") == 0) {
		kl->effect = v->line;
		if (compile_setting(key, v, r, d) != 0) {
			kl->effect = -1;	/* reported; skip its checks */
			return -1;
		}
		return 0;
	}
	else if (strcmp(key, "max_ttl") == 0)
		kl->max_ttl = v->line;
	else if (strcmp(key, "max_uses") == 0)
		kl->max_uses = v->line;
	else if (strcmp(key, "use") == 0)
		kl->use = v->line;
	else if (strcmp(key, "reason") == 0)
		kl->reason = v->line;
	return compile_setting(key, v, r, d);
}

/* What the effect requires or forbids, once every key has been read. */
static void
check_effect(struct prule *r, const struct rule_keys *kl, int line,
    struct pdiags *d)
{
	const char *name = r->id[0] ? r->id : "?";

	if (kl->effect == 0) {
		pdiag_add(d, line, "rule '%s' has no 'effect' (allow, deny or "
		    "approval)", name);
		return;
	}
	if (kl->effect < 0)
		return;
	if (r->effect == POLICY_DENY) {
		if (kl->max_ttl)
			pdiag_add(d, kl->max_ttl, "max_ttl is for allow and "
			    "approval rules, not deny");
		if (kl->max_uses)
			pdiag_add(d, kl->max_uses, "max_uses is for allow and "
			    "approval rules, not deny");
		if (kl->use)
			pdiag_add(d, kl->use, "use is for allow and approval "
			    "rules, not deny");
	}
	if (r->effect != POLICY_APPROVAL && kl->approvers)
		pdiag_add(d, kl->approvers, "approvers are for approval "
		    "rules only");
	if (r->effect == POLICY_APPROVAL && kl->approvers == 0)
		pdiag_add(d, line, "approval rule '%s' needs 'approvers' "
		    "(selectors of who may approve)", name);
	else if (r->effect == POLICY_APPROVAL && r->approvers.n > 0 &&
	    r->approvers.npos == 0)
		pdiag_add(d, kl->approvers, "approvers: name who may approve; "
		    "exclusions ('!') alone would let anyone approve");
	if (r->effect != POLICY_DENY && r->max_ttl == 0)
		r->max_ttl = POLICY_DEFAULT_MAX_TTL;
}

static int
compile_rule(const struct pnode *m, struct prule *r, struct policy *p,
    struct pdiags *d)
{
	struct rule_keys kl;
	const char *key;
	size_t i, j, before = d->n + d->dropped;

	memset(&kl, 0, sizeof(kl));
	r->line = m->line;
	if (m->type != PN_MAP) {
		pdiag_add(d, m->line, "a rule is a mapping with id, effect and "
		    "matchers");
		return -1;
	}
	for (i = 0; i + 1 < m->nkids; i += 2) {
		if (m->kids[i]->type != PN_SCALAR || seen_before(m, i))
			continue;
		key = m->kids[i]->str;
		for (j = 0; rule_keys[j] != NULL; j++)
			if (strcmp(rule_keys[j], key) == 0)
				break;
		if (rule_keys[j] == NULL) {
			pdiag_add(d, m->kids[i]->line, "unknown key '%.64s'",
			    key);
			continue;
		}
		(void)compile_key(key, m->kids[i + 1], r, &kl, p, d);
	}
	if (kl.id == 0)
		pdiag_add(d, m->line, "rule has no 'id'");
	check_effect(r, &kl, m->line, d);
	/* Every failed check above left a message. */
	return d->n + d->dropped != before || d->nomem ? -1 : 0;
}

static int
matches_everything(const struct prule *r)
{
	return !r->has_callers && !r->has_secrets && !r->has_labels &&
	    !r->has_intents && !r->has_tasks && !r->has_repos && !r->has_when;
}

/* Duplicate ids, and rules shadowed by an earlier catch-all. */
static void
check_rules(const struct policy *p, struct pdiags *d)
{
	size_t i, j, all = (size_t)-1;

	for (i = 0; i < p->nrules; i++) {
		const struct prule *r = &p->rules[i];

		for (j = 0; j < i && r->id[0]; j++)
			if (strcmp(p->rules[j].id, r->id) == 0) {
				pdiag_add(d, r->line, "duplicate rule id '%s' "
				    "(first on line %d)", r->id,
				    p->rules[j].line);
				break;
			}
		/* A rule with errors says nothing reliable about shadowing. */
		if (r->bad)
			continue;
		if (all != (size_t)-1)
			pdiag_add(d, r->line, "rule '%s' can never match: rule "
			    "'%s' (line %d) above it matches every request",
			    r->id, p->rules[all].id, p->rules[all].line);
		else if (matches_everything(r))
			all = i;
	}
}

static int
compile_rules(const struct pnode *v, struct policy *p, struct pdiags *d)
{
	size_t i;

	if (v->type != PN_SEQ) {
		pdiag_add(d, v->line, "'rules' must be a list of rules");
		return -1;
	}
	if (v->nkids > POLICY_RULES_MAX) {
		pdiag_add(d, v->line, "%zu rule%s; at most %d", v->nkids,
		    plural_s(v->nkids), POLICY_RULES_MAX);
		return -1;
	}
	if (v->nkids > 0 &&
	    (p->rules = calloc(v->nkids, sizeof(*p->rules))) == NULL) {
		d->nomem = 1;
		return -1;
	}
	for (i = 0; i < v->nkids; i++) {
		p->rules[i].bad = compile_rule(v->kids[i], &p->rules[i], p,
		    d) != 0;
		p->nrules++;
	}
	check_rules(p, d);
	return 0;
}

int
pcompile(const struct pnode *root, struct policy *p, struct pdiags *d)
{
	const char *key, *s;
	size_t i;
	int have_rules = 0;

	if (root == NULL || (root->type == PN_SCALAR && root->plain &&
	    root->len == 0)) {
		pdiag_add(d, 1, "the policy is empty; write `rules: []` to "
		    "deny everything");
		return -1;
	}
	if (root->type != PN_MAP) {
		pdiag_add(d, root->line, "a policy is a mapping with "
		    "'version' and 'rules'");
		return -1;
	}
	for (i = 0; i + 1 < root->nkids; i += 2) {
		if (root->kids[i]->type != PN_SCALAR || seen_before(root, i))
			continue;
		key = root->kids[i]->str;
		if (strcmp(key, "version") == 0) {
			s = want_scalar(root->kids[i + 1], key, d);
			if (s != NULL && strcmp(s, "1") != 0)
				pdiag_add(d, root->kids[i + 1]->line,
				    "unsupported version '%.16s' (this airlock "
				    "reads version 1)", s);
		} else if (strcmp(key, "rules") == 0) {
			have_rules = 1;
			(void)compile_rules(root->kids[i + 1], p, d);
		} else
			pdiag_add(d, root->kids[i]->line, "unknown key '%.64s' "
			    "(expected version or rules)", key);
	}
	if (!have_rules)
		pdiag_add(d, root->line, "missing 'rules' (a list; `rules: "
		    "[]` denies everything)");
	return d->n > 0 || d->nomem ? -1 : 0;
}

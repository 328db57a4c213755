/*
 * Patterns: glob syntax checks, selector patterns and git remotes.
 * Matching itself is fnmatch(3); it accepts any string and treats a
 * malformed bracket as a literal, so the loader checks the syntax here to
 * turn a typo into an error instead of a rule that silently never matches.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

/* The selector kinds and, for unix, the keys identity produces. */
static const char *const unix_keys[] = {
	"uid", "gid", "user", "group", "pid", "exe", "sha256", "ancestor-exe",
	"cgroup", NULL,
};

/* End of a bracket expression starting at s ('['), or NULL if unclosed. */
static const char *
bracket_end(const char *s)
{
	const char *q = s + 1, *e;
	char c;

	if (*q == '!' || *q == '^')
		q++;
	if (*q == ']')
		q++;	/* a leading ']' is a member, not the end */
	while (*q != '\0' && *q != ']') {
		if (q[0] == '[' && (q[1] == ':' || q[1] == '.' ||
		    q[1] == '=')) {
			c = q[1];
			for (e = q + 2; *e != '\0' && !(e[0] == c &&
			    e[1] == ']'); e++)
				;
			if (*e == '\0')
				return NULL;
			q = e + 2;
			continue;
		}
		q++;
	}
	return *q == ']' ? q : NULL;
}

const char *
pglob_check(const char *p)
{
	const char *s;

	if (*p == '\0')
		return "empty pattern";
	if (strlen(p) >= POLICY_PATTERN_MAX)
		return "pattern longer than 255 bytes";
	for (s = p; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return "control character in pattern";
		if (*s == '\\') {
			if (s[1] == '\0')
				return "pattern ends with a lone backslash";
			s++;
		} else if (*s == '[') {
			if ((s = bracket_end(s)) == NULL)
				return "unclosed '[' in pattern";
		}
	}
	return NULL;
}

static int
is_word(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int
psel_check(const char *pattern, size_t *kindlen, char *why, size_t whysz)
{
	const char *c1, *c2, *g;
	size_t i, kl;

	*kindlen = 0;
	if ((c1 = strchr(pattern, ':')) == NULL ||
	    (c2 = strchr(c1 + 1, ':')) == NULL) {
		(void)snprintf(why, whysz, "a selector is kind:key:value, "
		    "such as unix:uid:1000");
		return -1;
	}
	kl = (size_t)(c1 - pattern);
	if (!is_word(pattern, kl) || !is_word(c1 + 1, (size_t)(c2 - c1 - 1))) {
		(void)snprintf(why, whysz, "a selector's kind and key are "
		    "lowercase words, such as unix:uid:1000");
		return -1;
	}
	if (kl == 4 && strncmp(pattern, "unix", 4) == 0) {
		for (i = 0; unix_keys[i] != NULL; i++)
			if (strlen(unix_keys[i]) == (size_t)(c2 - c1 - 1) &&
			    strncmp(unix_keys[i], c1 + 1, c2 - c1 - 1) == 0)
				break;
		if (unix_keys[i] == NULL) {
			(void)snprintf(why, whysz, "unknown selector "
			    "'unix:%.*s' (known: uid, gid, user, group, pid, "
			    "exe, sha256, ancestor-exe, cgroup)",
			    (int)(c2 - c1 - 1) > 32 ? 32 : (int)(c2 - c1 - 1),
			    c1 + 1);
			return -1;
		}
	} else if (!(kl == 3 && strncmp(pattern, "jwt", 3) == 0) &&
	    !(kl == 6 && strncmp(pattern, "spiffe", 6) == 0)) {
		(void)snprintf(why, whysz, "unknown selector kind '%.*s' "
		    "(known: unix, jwt, spiffe)", (int)kl > 32 ? 32 : (int)kl,
		    pattern);
		return -1;
	}
	if ((g = pglob_check(c2 + 1)) != NULL) {
		(void)snprintf(why, whysz, "selector value: %s", g);
		return -1;
	}
	*kindlen = (size_t)(c2 - pattern);
	return 0;
}

static int
psel_match_one(const struct psel *p, const char *s)
{
	return strncmp(p->pattern, s, p->kindlen) == 0 &&
	    s[p->kindlen] == ':' &&
	    fnmatch(p->pattern + p->kindlen + 1, s + p->kindlen + 1, 0) == 0;
}

/* Whether the pattern's "kind:key" is one whose values may be missing. */
static int
psel_unknown(const struct psel *p, const char *const *unknown, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (unknown[i] != NULL && strlen(unknown[i]) == p->kindlen &&
		    strncmp(unknown[i], p->pattern, p->kindlen) == 0)
			return 1;
	return 0;
}

/* One pattern against the selectors: a known match wins over unknown. */
static enum pmatch
psel_eval(const struct psel *p, const char *const *sel, size_t n,
    const char *const *unknown, size_t nunknown)
{
	size_t j;

	for (j = 0; j < n; j++)
		if (sel[j] != NULL && psel_match_one(p, sel[j]))
			return PM_MATCH;
	return psel_unknown(p, unknown, nunknown) ? PM_UNKNOWN : PM_NO;
}

static void
note_key(const struct psel *p, char *why, size_t whysz)
{
	if (why != NULL && why[0] == '\0')
		(void)snprintf(why, whysz, "%.*s", (int)p->kindlen,
		    p->pattern);
}

enum pmatch
psels_match(const struct psels *s, const char *const *sel, size_t n,
    const char *const *unknown, size_t nunknown, char *why, size_t whysz)
{
	enum pmatch pos = s->npos == 0 ? PM_MATCH : PM_NO, neg = PM_MATCH, m;
	size_t i;
	const struct psel *pos_why = NULL, *neg_why = NULL;

	for (i = 0; i < s->n; i++) {
		m = psel_eval(&s->v[i], sel, n, unknown, nunknown);
		if (s->v[i].neg) {
			/* A known exclusion decides; an unknown one may. */
			if (m == PM_MATCH)
				return PM_NO;
			if (m == PM_UNKNOWN && neg == PM_MATCH) {
				neg = PM_UNKNOWN;
				neg_why = &s->v[i];
			}
		} else if (m > pos) {
			pos = m;
			pos_why = &s->v[i];
		}
	}
	if (pos == PM_NO)
		return PM_NO;
	if (neg == PM_UNKNOWN) {
		note_key(neg_why, why, whysz);
		return PM_UNKNOWN;
	}
	if (pos == PM_UNKNOWN)
		note_key(pos_why, why, whysz);
	return pos;
}

/* Append n bytes to out at *o, keeping room for the NUL. */
static int
put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (*o + n >= outsz)
		return AL_ETOOBIG;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

int
policy_repo_normalize(const char *in, char *out, size_t outsz)
{
	const char *host, *hend, *path, *p, *at;
	size_t o = 0, i, hlen, plen;

	if (outsz == 0)
		return AL_ETOOBIG;
	out[0] = '\0';
	if ((p = strstr(in, "://")) != NULL) {
		host = p + 3;
		hend = host + strcspn(host, "/");
		path = hend;
	} else if ((p = strchr(in, ':')) != NULL && p != in &&
	    memchr(in, '/', (size_t)(p - in)) == NULL) {
		/* scp-like syntax: [user@]host:path */
		host = in;
		hend = p;
		path = p + 1;
	} else
		return put(out, outsz, &o, in, strlen(in));
	/* Drop user@ and :port from the host part. */
	for (at = host; at < hend; at++)
		if (*at == '@')
			host = at + 1;
	hlen = (size_t)(hend - host);
	if ((p = memchr(host, ':', hlen)) != NULL)
		hlen = (size_t)(p - host);
	for (i = 0; i < hlen; i++) {
		char c = (char)tolower((unsigned char)host[i]);

		if (put(out, outsz, &o, &c, 1) != 0)
			return AL_ETOOBIG;
	}
	while (*path == '/')
		path++;
	plen = strlen(path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (plen >= 4 && strncmp(path + plen - 4, ".git", 4) == 0)
		plen -= 4;
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (put(out, outsz, &o, "/", 1) != 0 ||
	    put(out, outsz, &o, path, plen) != 0)
		return AL_ETOOBIG;
	return 0;
}

/*
 * The expression vectorscan runs for a rule that has no keywords: the
 * rule's regex with its tail weakened.
 *
 * A token regex typically ends in an open or wide repeat and a lookahead,
 * `(ghp_[A-Za-z0-9]{36,255})(?![A-Za-z0-9])`.  Vectorscan has to report
 * every end such a repeat can have, and a wide bounded repeat of a big
 * class is among the costliest things it runs: one such rule took as long
 * as the other 160 together.  Yet the prefilter only has to say where a
 * match may be.  So, from the end of the regex, this drops lookarounds,
 * word boundaries, `$` and optional atoms, and cuts the last repeat to its
 * minimum: every match of the rule then starts with a match of the
 * weakened expression, at the same offset.  The candidate window
 * (match.c) looks back from the reported end by the weakened expression's
 * widest match and forward to the end of the line, so it still holds the
 * whole match, provided what was cut cannot cross a line: an atom is only
 * cut or dropped when it cannot match a newline.
 *
 * Anything this reader does not understand (alternation at the level
 * being cut, \Q, comments, unknown escapes) leaves the rest as it is: the
 * result is then merely less weakened, never wrong.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

struct atom {
	size_t	 start, end;	/* the atom, without its quantifier */
	size_t	 qend;		/* end of its quantifier (== end if none) */
};

/* Skip a class starting at p[i] == '['; the index after it, or 0. */
static size_t
skip_class(const char *p, size_t i, size_t hi)
{
	i++;
	if (i < hi && p[i] == '^')
		i++;
	if (i < hi && p[i] == ']')
		i++;
	while (i < hi && p[i] != ']') {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '[' && i + 1 < hi && p[i + 1] == ':')
			return 0;	/* POSIX classes: not handled */
		i++;
	}
	return i < hi ? i + 1 : 0;
}

/* Skip a group starting at p[i] == '('; the index after it, or 0. */
static size_t
skip_group(const char *p, size_t i, size_t hi)
{
	int depth = 0;

	while (i < hi) {
		if (p[i] == '\\') {
			i += 2;
			continue;
		}
		if (p[i] == '[') {
			if ((i = skip_class(p, i, hi)) == 0)
				return 0;
			continue;
		}
		if (p[i] == '(')
			depth++;
		else if (p[i] == ')' && --depth == 0)
			return i + 1;
		i++;
	}
	return 0;
}

/* A counted repeat {m}, {m,} or {m,n} at p[i]: its end, or 0. */
static size_t
skip_count(const char *p, size_t i, size_t hi)
{
	size_t j = i + 1;

	if (j >= hi || !isdigit((unsigned char)p[j]))
		return 0;
	while (j < hi && isdigit((unsigned char)p[j]))
		j++;
	if (j < hi && p[j] == ',')
		for (j++; j < hi && isdigit((unsigned char)p[j]); j++)
			;
	return j < hi && p[j] == '}' ? j + 1 : 0;
}

/*
 * The last top-level atom of p[lo, hi) and its quantifier; 0 when there
 * is none, when the level has an alternation, or on anything not handled.
 */
static int
last_atom(const char *p, size_t lo, size_t hi, struct atom *a)
{
	size_t i = lo, e;
	int have = 0;

	while (i < hi) {
		if (p[i] == '|')
			return 0;
		if (p[i] == '*' || p[i] == '+' || p[i] == '?' ||
		    (p[i] == '{' && skip_count(p, i, hi) != 0)) {
			if (!have)
				return 0;
			i = p[i] == '{' ? skip_count(p, i, hi) : i + 1;
			if (i < hi && (p[i] == '?' || p[i] == '+'))
				i++;	/* lazy, possessive */
			a->qend = i;
			continue;
		}
		a->start = i;
		if (p[i] == '\\') {
			if (i + 1 >= hi || strchr("QEpPxocgkN0123456789",
			    p[i + 1]) != NULL)
				return 0;
			e = i + 2;
		} else if (p[i] == '[')
			e = skip_class(p, i, hi);
		else if (p[i] == '(')
			e = skip_group(p, i, hi);
		else
			e = i + 1;
		if (e == 0)
			return 0;
		a->end = a->qend = e;
		have = 1;
		i = e;
	}
	return have;
}

/* Whether the atom p[s, e) can never match a newline. */
static int
no_newline(const char *p, size_t s, size_t e, int dotall)
{
	size_t i;

	if (e - s == 1)
		return p[s] == '.' ? !dotall : p[s] != '\n';
	if (p[s] == '\\')
		return e - s == 2 && (strchr("dwS", p[s + 1]) != NULL ||
		    ispunct((unsigned char)p[s + 1]));
	if (p[s] != '[' || e - s < 3)
		return 0;
	if (p[s + 1] == '^') {
		/* [^...] leaves the newline out only when it names it. */
		for (i = s + 2; i < e - 1; i++) {
			if (p[i] == '\n')
				return 1;
			if (p[i] == '\\') {
				if (p[i + 1] == 's' || p[i + 1] == 'n' ||
				    p[i + 1] == 'v')
					return 1;
				i++;
			}
		}
		return 0;
	}
	/* [...]: printable bytes and ranges, \d \w \S and escaped marks. */
	for (i = s + 1; i < e - 1; i++) {
		if (p[i] == '\\') {
			if (strchr("dwS", p[i + 1]) == NULL &&
			    !ispunct((unsigned char)p[i + 1]))
				return 0;
			i++;
		} else if ((unsigned char)p[i] < 0x20)
			return 0;
	}
	return 1;
}

/* Zero-width tails that only narrow a match: dropping them weakens it. */
static int
is_assertion(const char *p, const struct atom *a)
{
	size_t n = a->end - a->start;

	if (a->qend != a->end)
		return 0;
	if (n == 1)
		return p[a->start] == '$';
	if (n == 2 && p[a->start] == '\\')
		return p[a->start + 1] == 'b' || p[a->start + 1] == 'B' ||
		    p[a->start + 1] == 'z' || p[a->start + 1] == 'Z';
	return p[a->start] == '(' && p[a->start + 1] == '?' &&
	    (p[a->start + 2] == '=' || p[a->start + 2] == '!' ||
	    (p[a->start + 2] == '<' && (p[a->start + 3] == '=' ||
	    p[a->start + 3] == '!')));
}

/* Where a plain group's contents start ("(", "(?:", "(?<name>"), or 0. */
static size_t
group_body(const char *p, const struct atom *a)
{
	size_t i = a->start + 1;

	if (p[i] != '?')
		return i;
	if (p[i + 1] == ':')
		return i + 2;
	if ((p[i + 1] == '<' || p[i + 1] == 'P') && p[i + 2] != '=' &&
	    p[i + 2] != '!') {
		while (i < a->end && p[i] != '>')
			i++;
		return i < a->end ? i + 1 : 0;
	}
	return 0;
}

/*
 * Weaken the tail of p[lo, hi): *keep is how much of it stays and suffix
 * (at least 32 bytes) what follows the kept part.
 */
static void
weaken(const char *p, size_t lo, size_t hi, int dotall, size_t *keep,
    char *suffix, size_t sufsz)
{
	struct atom a;
	const char *q;
	size_t body, n;
	long m;

	*keep = hi;
	suffix[0] = '\0';
	while (last_atom(p, lo, hi, &a) && a.qend == hi) {
		if (is_assertion(p, &a)) {
			*keep = hi = a.start;
			continue;
		}
		if (p[a.start] == '(' && a.qend == a.end) {
			/* A plain group ends the level: weaken inside it. */
			if ((body = group_body(p, &a)) == 0)
				return;
			weaken(p, body, a.end - 1, dotall, keep, suffix,
			    sufsz);
			n = strlen(suffix);
			if (n + 2 <= sufsz) {
				suffix[n] = ')';
				suffix[n + 1] = '\0';
			}
			return;
		}
		if (a.qend == a.end || !no_newline(p, a.start, a.end, dotall))
			return;
		q = p + a.end;
		if (*q == '?' || *q == '*' || (*q == '{' && q[1] == '0' &&
		    (q[2] == ',' || q[2] == '}'))) {
			*keep = hi = a.start;	/* optional: dropped */
			continue;
		}
		*keep = a.end;
		if (*q == '{') {
			m = strtol(q + 1, NULL, 10);
			if (m < 1 || m > 65535)
				*keep = hi;
			else
				(void)snprintf(suffix, sufsz, "{%ld}", m);
		}
		/* '+': the atom once. */
		return;
	}
}

/* Whether an inline option group "(?...)" or "(?...:" sets flag f. */
static int
has_flag(const char *re, char f)
{
	const char *p;

	for (p = re; (p = strstr(p, "(?")) != NULL; p += 2) {
		const char *q = p + 2;

		while (*q != '\0' && strchr("imnsxJU-^", *q) != NULL) {
			if (*q == f)
				return 1;
			q++;
		}
	}
	return 0;
}

char *
scan_prefilter_expr(const char *re)
{
	char suffix[64], *out;
	size_t keep, n = strlen(re);

	/*
	 * Quoting, comments and extended mode change what the characters of
	 * a pattern mean to a reader this simple: such a regex is kept whole.
	 */
	if (strstr(re, "\\Q") != NULL || strstr(re, "(?#") != NULL ||
	    has_flag(re, 'x')) {
		keep = n;
		suffix[0] = '\0';
	} else
		weaken(re, 0, n, has_flag(re, 's'), &keep, suffix,
		    sizeof(suffix));
	if ((out = malloc(keep + strlen(suffix) + 1)) == NULL)
		return NULL;
	memcpy(out, re, keep);
	memcpy(out + keep, suffix, strlen(suffix) + 1);
	return out;
}

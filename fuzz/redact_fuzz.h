/*
 * Shared by the redactor's fuzz targets: the fixed values, adding them to
 * a set, and the list of every pattern compiled from them, which no output
 * may contain.  The values hold no '[' or ']', so a pattern can only
 * appear in the output from unmasked input, never from a label.
 */
#ifndef REDACT_FUZZ_H
#define REDACT_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/redact.h"
#include "redact_int.h"

static const struct {
	const char	*name;
	const char	*value;
	size_t		 len;
} FUZZ_VALUES[] = {
	{ "fuzz-token", "fuzz-TOKEN_9f8e7d6c5b4a3/+x", 28 },
	{ "fuzz-pass", "p@ss\"w0rd'<&>\\ $x", 17 },
	{ "fuzz-bin", "\x00\xff" "AB\xc3\x28xyz\n\x01" "line-two-8", 20 },
	{ "fuzz-k4", "k3y!", 4 },
};
#define FUZZ_NVALUES (sizeof(FUZZ_VALUES) / sizeof(FUZZ_VALUES[0]))

struct fuzz_pats {
	struct {
		unsigned char	*p;
		size_t		 n;
	}		*v;
	size_t		 n;
};

static inline void
fuzz_collect(void *arg, const unsigned char *p, size_t n, uint32_t value,
    uint8_t lead_mask, uint8_t lead_val)
{
	struct fuzz_pats *ps = arg;

	(void)value;
	(void)lead_mask;
	(void)lead_val;
	if ((ps->v = realloc(ps->v, (ps->n + 1) * sizeof(*ps->v))) == NULL ||
	    (ps->v[ps->n].p = malloc(n)) == NULL)
		abort();
	memcpy(ps->v[ps->n].p, p, n);
	ps->v[ps->n++].n = n;
}

/* Add the values to r, compile it, and list its patterns in ps. */
static inline void
fuzz_values_compile(struct redact *r, struct fuzz_pats *ps)
{
	struct al_secret *s;
	struct al_err err;
	size_t i, j;

	for (i = 0; i < FUZZ_NVALUES; i++) {
		if (al_secret_from(FUZZ_VALUES[i].value, FUZZ_VALUES[i].len,
		    &s) != 0 || redact_add_value(r, FUZZ_VALUES[i].name, s,
		    &err) != 0)
			abort();
		al_secret_free(s);
	}
	if (redact_compile(r, &err) != 0)
		abort();
	rx_patterns(r, fuzz_collect, ps);
	/* The premise (see the top of the file). */
	for (i = 0; i < ps->n; i++) {
		if (memchr(ps->v[i].p, '[', ps->v[i].n) ||
		    memchr(ps->v[i].p, ']', ps->v[i].n))
			abort();
		for (j = 0; j < FUZZ_NVALUES; j++)
			if (memmem(rx_label(r, (uint32_t)j),
			    strlen(rx_label(r, (uint32_t)j)), ps->v[i].p,
			    ps->v[i].n) != NULL)
				abort();
	}
}

/* Whether some compiled pattern is in b[0..n). */
static inline int
fuzz_has_pattern(const struct fuzz_pats *ps, const void *b, size_t n)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (n >= ps->v[i].n && memmem(b, n, ps->v[i].p,
		    ps->v[i].n) != NULL)
			return 1;
	return 0;
}

static inline int
fuzz_emit(void *arg, const void *p, size_t n)
{
	return al_buf_append(arg, p, n);
}

#endif

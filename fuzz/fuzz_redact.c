/*
 * libFuzzer target for src/redact.  Invariants checked on any input:
 *   - the output never contains a compiled pattern of the fixed values
 *     (the values and every encoding of them);
 *   - streaming in pieces (sizes taken from the input) gives exactly the
 *     whole-buffer result, and never holds more than redact_max_held.
 * The values contain no '[' or ']' and no pattern is a substring of a
 * label, so a pattern in the output can only come from unmasked input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "airlock/redact.h"
#include "redact_int.h"

static const struct {
	const char	*name;
	const char	*value;
	size_t		 len;
} VALUES[] = {
	{ "fuzz-token", "fuzz-TOKEN_9f8e7d6c5b4a3/+x", 28 },
	{ "fuzz-pass", "p@ss\"w0rd'<&>\\ $x", 17 },
	{ "fuzz-bin", "\x00\xff" "AB\xc3\x28xyz\n\x01" "line-two-8", 20 },
	{ "fuzz-k4", "k3y!", 4 },
};
#define NVALUES (sizeof(VALUES) / sizeof(VALUES[0]))

struct pat {
	unsigned char	*p;
	size_t		 n;
};

static struct redact *R;
static struct pat *PATS;
static size_t NPATS;

static void
collect(void *arg, const unsigned char *p, size_t n, uint32_t value,
    uint8_t lead_mask, uint8_t lead_val)
{
	(void)arg;
	(void)value;
	(void)lead_mask;
	(void)lead_val;
	if ((PATS = realloc(PATS, (NPATS + 1) * sizeof(*PATS))) == NULL ||
	    (PATS[NPATS].p = malloc(n)) == NULL)
		abort();
	memcpy(PATS[NPATS].p, p, n);
	PATS[NPATS++].n = n;
}

static void
setup(void)
{
	struct al_secret *s;
	struct al_err err;
	size_t i, j;

	if (sodium_init() < 0 || redact_new(&R, &err) != 0)
		abort();
	for (i = 0; i < NVALUES; i++) {
		if (al_secret_from(VALUES[i].value, VALUES[i].len, &s) != 0 ||
		    redact_add_value(R, VALUES[i].name, s, &err) != 0)
			abort();
		al_secret_free(s);
	}
	if (redact_compile(R, &err) != 0)
		abort();
	rx_patterns(R, collect, NULL);
	/* The premise of the invariant (see the top of the file). */
	for (i = 0; i < NPATS; i++) {
		if (memchr(PATS[i].p, '[', PATS[i].n) ||
		    memchr(PATS[i].p, ']', PATS[i].n))
			abort();
		for (j = 0; j < NVALUES; j++)
			if (memmem(rx_label(R, (uint32_t)j),
			    strlen(rx_label(R, (uint32_t)j)), PATS[i].p,
			    PATS[i].n) != NULL)
				abort();
	}
}

static int
emit(void *arg, const void *p, size_t n)
{
	return al_buf_append(arg, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redact_stream *s;
	struct al_buf whole, split;
	size_t i, o, w, nsplit;
	const uint8_t *in;

	if (R == NULL)
		setup();
	if (size < 1)
		return 0;
	/* First byte: how many split sizes follow. */
	nsplit = data[0] % 8;
	if (size < 1 + nsplit)
		return 0;
	in = data + 1 + nsplit;
	size -= 1 + nsplit;

	al_buf_init(&whole, 1 << 26, 0);
	al_buf_init(&split, 1 << 26, 0);
	if (redact_buffer(R, in, size, &whole, NULL) != 0)
		abort();
	if (redact_stream_new(R, &s) != 0)
		abort();
	for (o = 0, i = 0; o < size; o += w, i++) {
		w = nsplit ? (size_t)data[1 + i % nsplit] + 1 : size;
		if (w > size - o)
			w = size - o;
		if (redact_stream_write(s, in + o, w, emit, &split) != 0 ||
		    redact_stream_held(s) > redact_max_held(R))
			abort();
	}
	if (redact_stream_finish(s, emit, &split) != 0)
		abort();
	redact_stream_free(s);
	if (whole.len != split.len ||
	    (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
		abort();
	for (i = 0; i < NPATS; i++)
		if (whole.len >= PATS[i].n && memmem(whole.data, whole.len,
		    PATS[i].p, PATS[i].n) != NULL)
			abort();
	al_buf_release(&whole);
	al_buf_release(&split);
	return 0;
}

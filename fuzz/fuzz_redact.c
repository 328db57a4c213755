/*
 * libFuzzer target for src/redact.  Invariants checked on any input:
 *   - the output never contains a compiled pattern of the fixed values
 *     (the values and every encoding of them);
 *   - streaming in pieces (sizes taken from the input) gives exactly the
 *     whole-buffer result, and after every write holds exactly the last
 *     redact_max_held bytes (or all, if fewer): what is held never
 *     depends on what the bytes are.
 * The values contain no '[' or ']' and no pattern is a substring of a
 * label, so a pattern in the output can only come from unmasked input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact_fuzz.h"

static struct redact *R;
static struct fuzz_pats PATS;

static void
setup(void)
{
	struct al_err err;

	if (sodium_init() < 0 || redact_new(&R, &err) != 0)
		abort();
	fuzz_values_compile(R, &PATS);
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
		if (redact_stream_write(s, in + o, w, fuzz_emit, &split) != 0 ||
		    redact_stream_held(s) != (o + w < redact_max_held(R) ?
		    o + w : redact_max_held(R)))
			abort();
	}
	if (redact_stream_finish(s, fuzz_emit, &split) != 0)
		abort();
	redact_stream_free(s);
	if (whole.len != split.len ||
	    (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
		abort();
	if (fuzz_has_pattern(&PATS, whole.data, whole.len))
		abort();
	al_buf_release(&whole);
	al_buf_release(&split);
	return 0;
}

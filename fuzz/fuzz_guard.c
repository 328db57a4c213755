/*
 * guard_body_mask on any bytes: it never crashes, and what it would send
 * is stable: masking its output again finds nothing more and changes
 * nothing, and a body walked as JSON stays JSON (a splice never cuts an
 * escape or a character in half).  Unless the body was refused (a value
 * outside any string, or in a thinking block), no value is left in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/guard.h"
#include "airlock/redact.h"

static const struct {
	const char	*name;
	const char	*value;
	size_t		 len;
} VALUES[] = {
	{ "fuzz-token", "fuzz-TOKEN_9f8e7d6c5b4a3/+x", 28 },
	{ "fuzz-pass", "p@ss\"w0rd'<&>\\ $x", 17 },
	{ "fuzz-utf8", "cl\xc3\xa9-secr\xc3\xa8te-\xc3\xbc", 17 },
	{ "fuzz-k4", "k3y!", 4 },
};
#define NVALUES	(sizeof(VALUES) / sizeof(VALUES[0]))

static struct redact *
build(void)
{
	struct redact *r;
	struct al_secret *s;
	struct al_err err;
	size_t i;

	if (redact_new(&r, &err) != 0)
		abort();
	for (i = 0; i < NVALUES; i++) {
		if (al_secret_from(VALUES[i].value, VALUES[i].len, &s) != 0 ||
		    redact_add_value(r, VALUES[i].name, s, &err) != 0)
			abort();
		al_secret_free(s);
	}
	if (redact_compile(r, &err) != 0)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guard_sets sets;
	struct guard_findings f, f2;
	struct al_buf out, out2;
	struct al_err err;
	size_t i;

	if (sets.mask == NULL) {
		sets.mask = build();
		sets.check = build();
	}
	al_buf_init(&out, 64 * size + 4096, AL_BUF_SENSITIVE);
	al_buf_init(&out2, 64 * size + 4096, AL_BUF_SENSITIVE);
	if (guard_body_mask(&sets, data, size, &out, &f, &err) != 0)
		abort();
	if (!f.residue && !f.thinking) {
		for (i = 0; i < NVALUES; i++)
			if (out.len > 0 && memmem(out.data, out.len,
			    VALUES[i].value, VALUES[i].len) != NULL)
				abort();
		if (guard_body_mask(&sets, out.data, out.len, &out2, &f2,
		    &err) != 0)
			abort();
		if (f2.masks != 0 || f2.residue || out2.len != out.len ||
		    (out.len > 0 && memcmp(out.data, out2.data, out.len) != 0))
			abort();
		if (f.json && !f2.json)
			abort();
	}
	al_buf_release(&out);
	al_buf_release(&out2);
	return 0;
}

/*
 * Fuzz the client's reader of the broker's replies (src/client/http.c).
 * The first byte chooses a value request or not and how many bytes each
 * read returns; the rest is what the socket delivers.  Checked on every
 * input: an accepted reply is well formed as documented (a value only on a
 * 200 of the value type, within its limit; a body within its buffer's),
 * and no byte of the input stays in the receive buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "airlock/api.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	size_t		 step;
};

static ssize_t
feed_read(void *ctx, void *buf, size_t n, struct al_err *err)
{
	struct feed *f = ctx;
	size_t k = f->len - f->off;

	(void)err;
	if (k > n)
		k = n;
	if (k > f->step)
		k = f->step;
	memcpy(buf, f->p + f->off, k);
	f->off += k;
	return (ssize_t)k;
}

static struct http_src src;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t steps[] = { 1, 2, 3, 5, 8, 64, 4096, SIZE_MAX };
	struct feed f;
	struct http_reply r;
	struct al_buf body;
	struct al_err err;
	int want_value, rc;
	size_t i;

	if (sodium_init() < 0)
		abort();
	if (size < 1)
		return 0;
	want_value = data[0] & 1;
	f.p = data + 1;
	f.len = size - 1;
	f.off = 0;
	f.step = steps[(data[0] >> 1) % (sizeof(steps) / sizeof(steps[0]))];
	http_src_init(&src, feed_read, &f);
	al_buf_init(&body, 64 * 1024, 0);
	memset(&r, 0, sizeof(r));
	r.body = &body;
	rc = http_read_reply(&src, want_value, &r, &err);
	for (i = 0; i < sizeof(src.buf); i++)
		if (src.buf[i] != 0)
			abort();	/* reply bytes left unwiped */
	if (rc == 0) {
		if (r.status < 200 || r.status > 599)
			abort();
		if (r.value != NULL) {
			if (!want_value || r.status != 200 ||
			    strcmp(r.ctype, API_CT_VALUE) != 0 ||
			    al_secret_len(r.value) > API_VALUE_MAX ||
			    body.len != 0)
				abort();
		} else {
			if (want_value && r.status == 200)
				abort();
			if (strcmp(r.ctype, API_CT_VALUE) == 0 && body.len)
				abort();
		}
		if (body.len > body.max)
			abort();
	} else if (r.value != NULL || !r.close) {
		abort();
	}
	al_secret_free(r.value);
	al_buf_release(&body);
	return 0;
}

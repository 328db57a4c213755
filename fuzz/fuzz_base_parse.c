/*
 * Fuzz the parsers that take user input: durations, times, integers, and
 * the escaping of untrusted text for messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	int64_t v, t;
	long long n;
	struct al_err err;
	struct al_buf b;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (al_parse_duration(s, "fuzz", &v, &err) == 0) {
		char out[32];

		/* A parsed duration is in range and formats back. */
		if (v < 1 || v > 100LL * 366 * 86400)
			abort();
		al_format_duration(v, out);
		if (al_parse_duration(out, "fuzz", &t, NULL) != 0 || t != v)
			abort();
	}
	(void)al_parse_time(s, 1800000000, "fuzz", &t, &err);
	(void)al_parse_int(s, -1000, 1000, "fuzz", &n, &err);
	al_buf_init(&b, 1 << 20, 0);
	if (al_buf_append_escaped(&b, data, size) == 0) {
		size_t i;

		/* Escaped text never carries a control character. */
		for (i = 0; i < b.len; i++)
			if (b.data[i] < 0x20 || b.data[i] == 0x7f)
				abort();
	}
	al_buf_release(&b);
	free(s);
	return 0;
}

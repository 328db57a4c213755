/*
 * Fuzz the JSON line validator that keeps transcripts valid under
 * `airlock sweep --fix`: it must never fault, and it must accept every
 * value jansson accepts (it is laxer on scalars, never stricter), since a
 * line it wrongly called invalid before masking would not be protected.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlock/sweep.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *j;
	int ours;

	ours = sweep_json_valid(data, size);
	/*
	 * Below jansson's depth limit and ours, the two must agree on yes.
	 * jansson stops at a NUL byte as at the end of its input; RFC 8259
	 * and we do not, so inputs with one are left out.
	 */
	if (size < 1000 && memchr(data, '\0', size) == NULL && (j = json_loadb((const char *)data, size,
	    JSON_DECODE_ANY, &e)) != NULL) {
		json_decref(j);
		if (!ours)
			abort();
	}
	return 0;
}

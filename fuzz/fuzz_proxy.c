/*
 * Fuzz the proxy's pure parts: host patterns, credential header names,
 * placeholder formats, and putting values in place of placeholders (raw
 * and inside "Basic" credentials).  Invariants: with
 * no secret selected the bytes pass unchanged; text without the
 * placeholder passes unchanged; a value never appears where its
 * placeholder was not; a placeholder drawn from a format the check
 * accepts is as long as a second one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "airlock/base.h"
#include "proxy_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PH[] = "plhdABCDEFGH1234";
static const char VAL[] = "VALUE-0123456789";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run_secret rs;
	static struct proxy_run r;
	struct al_buf out;
	struct al_err err;
	char *s, *pat, *host, *ph1 = NULL, *ph2 = NULL;
	size_t cut;
	int rc;

	if (rs.value == NULL) {
		if (sodium_init() < 0 ||
		    al_secret_from(VAL, strlen(VAL), &rs.value) != 0)
			abort();
		rs.placeholder = (char *)PH;
		r.s = &rs;
		r.n = 1;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* Host patterns: "pattern\nhost". */
	cut = strcspn(s, "\n");
	pat = s;
	host = s[cut] ? s + cut + 1 : s + cut;
	s[cut] = '\0';
	(void)proxy_host_match(pat, host, 443);
	(void)proxy_host_match(pat, pat, 8443);
	(void)proxy_cred_header(pat, strlen(pat), host);
	/* The pattern line as a placeholder format. */
	if (proxy_format_check("f", pat, &err) == 0) {
		if (placeholder_new("f", pat, &ph1, &err) != 0 ||
		    placeholder_new("f", pat, &ph2, &err) != 0 ||
		    strlen(ph1) != strlen(ph2))
			abort();
		free(ph1);
		free(ph2);
	}
	s[cut] = (char)(cut < size ? '\n' : '\0');

	al_buf_init(&out, 4 * size + 4096, AL_BUF_SENSITIVE);
	/* Nothing selected: unchanged. */
	if (request_subst(&r, 0, s, size, &out) != 0 || out.len != size ||
	    (size && memcmp(out.data, s, size) != 0))
		abort();
	al_buf_reset(&out);
	rc = request_subst(&r, 1, s, size, &out);
	if (rc == 0 && memmem(s, size, PH, strlen(PH)) == NULL &&
	    (out.len != size || (size && memcmp(out.data, s, size) != 0)))
		abort();
	if (rc == 0 && memmem(s, size, VAL, strlen(VAL)) == NULL &&
	    memmem(s, size, PH, strlen(PH)) == NULL &&
	    memmem(out.data ? (const char *)out.data : "", out.len, VAL,
	    strlen(VAL)) != NULL)
		abort();
	al_buf_reset(&out);
	if (size >= 6) {
		memcpy(s, "Basic ", 6);
		(void)request_subst_basic(&r, 1, s, size, &out);
	}
	al_buf_release(&out);
	free(s);
	return 0;
}

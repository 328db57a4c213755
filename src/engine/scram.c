/*
 * SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677) as PostgreSQL stores them.
 * airlock sends CREATE ROLE a verifier rather than the password, so the
 * password never reaches the server (nor its statement log), and the server
 * does not spend its own 4096-iteration hash on a password that is 256
 * random bits anyway (no stretching can add to that; ENGINE_SCRAM_ITER).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cred_int.h"
#include "pq_dl.h"

#define SALT_LEN	16

static int
hmac(const struct pq_dl *dl, const unsigned char *key, const char *msg,
    unsigned char out[32])
{
	unsigned int n = 32;

	return dl->HMAC(dl->EVP_sha256(), key, 32, (const unsigned char *)msg,
	    strlen(msg), out, &n) != NULL && n == 32 ? 0 : -1;
}

int
engine_scram_verifier(const struct pq_dl *dl, const char *password,
    size_t len, int iter, char *out, size_t outsz)
{
	unsigned char salt[SALT_LEN], salted[32], ck[32], stored[32], sk[32];
	char b_salt[sodium_base64_ENCODED_LEN(SALT_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	char b_stored[sodium_base64_ENCODED_LEN(32,
	    sodium_base64_VARIANT_ORIGINAL)];
	char b_sk[sizeof(b_stored)];
	int rc = AL_ECRYPTO, n;

	randombytes_buf(salt, sizeof(salt));
	if (dl->PKCS5_PBKDF2_HMAC(password, (int)len, salt, sizeof(salt),
	    iter, dl->EVP_sha256(), sizeof(salted), salted) != 1 ||
	    hmac(dl, salted, "Client Key", ck) != 0 ||
	    dl->SHA256(ck, sizeof(ck), stored) == NULL ||
	    hmac(dl, salted, "Server Key", sk) != 0)
		goto out;
	sodium_bin2base64(b_salt, sizeof(b_salt), salt, sizeof(salt),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(b_stored, sizeof(b_stored), stored, sizeof(stored),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(b_sk, sizeof(b_sk), sk, sizeof(sk),
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(out, outsz, "SCRAM-SHA-256$%d:%s$%s:%s", iter, b_salt,
	    b_stored, b_sk);
	rc = n > 0 && (size_t)n < outsz ? 0 : AL_ETOOBIG;
out:
	sodium_memzero(salted, sizeof(salted));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

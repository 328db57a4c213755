/*
 * Keys of the audit log.  One 32-byte audit key (kept in the vault) yields
 * three subkeys, so a line mac, a head tag and a value fingerprint can never
 * be mistaken for one another even over identical bytes.
 */
#include <string.h>

#include <sodium.h>

#include "audit_int.h"

#define KDF_CONTEXT	"alaudit1"	/* crypto_kdf_CONTEXTBYTES == 8 */

int
audit_keys_derive(struct al_secret *key, struct al_secret **out,
    struct al_err *err)
{
	struct al_secret *k = NULL;
	struct audit_keys *ks;
	const unsigned char *master;
	int rc;

	*out = NULL;
	if (key == NULL || al_secret_len(key) != AUDIT_KEY_LEN)
		return al_err_set(err, AL_EINVAL, "the audit key must be %d "
		    "bytes", AUDIT_KEY_LEN);
	if ((rc = al_secret_new(sizeof(*ks), &k)) != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	ks = (struct audit_keys *)(void *)al_secret_open(k);
	master = al_secret_open(key);
	(void)crypto_kdf_derive_from_key(ks->chain, sizeof(ks->chain), 1,
	    KDF_CONTEXT, master);
	(void)crypto_kdf_derive_from_key(ks->head, sizeof(ks->head), 2,
	    KDF_CONTEXT, master);
	(void)crypto_kdf_derive_from_key(ks->fp, sizeof(ks->fp), 3,
	    KDF_CONTEXT, master);
	al_secret_close(key);
	al_secret_set_len(k, sizeof(*ks));
	al_secret_close(k);
	*out = k;
	return 0;
}

void
audit_line_mac(const unsigned char *chain_key,
    const unsigned char prev[AUDIT_MAC_LEN], const unsigned char *line,
    size_t n, unsigned char out[AUDIT_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	(void)crypto_auth_hmacsha256_init(&st, chain_key, 32);
	(void)crypto_auth_hmacsha256_update(&st, prev, AUDIT_MAC_LEN);
	(void)crypto_auth_hmacsha256_update(&st, line, n - MAC_SUFFIX_LEN);
	(void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)"}",
	    1);
	(void)crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
audit_fp_bytes(const unsigned char *fp_key, const void *p, size_t n,
    char out[AUDIT_FP_HEX])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[32];

	(void)crypto_auth_hmacsha256_init(&st, fp_key, 32);
	(void)crypto_auth_hmacsha256_update(&st, p, n);
	(void)crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	al_hex(mac, sizeof(mac), out);
}

/* Decode exactly n lowercase hex digits into n / 2 bytes; -1 otherwise. */
int
audit_hex_decode(const char *hex, size_t n, unsigned char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			return -1;
	if (sodium_hex2bin(out, n / 2, hex, n, NULL, NULL, NULL) != 0)
		return -1;
	return 0;
}

int
audit_value_fingerprint(struct al_secret *key, struct al_secret *value,
    char out[AUDIT_FP_HEX])
{
	struct al_secret *ks = NULL;
	int rc;

	out[0] = '\0';
	if ((rc = audit_keys_derive(key, &ks, NULL)) != 0)
		return rc;
	audit_fp_bytes(((struct audit_keys *)(void *)al_secret_open(ks))->fp,
	    al_secret_open(value), al_secret_len(value), out);
	al_secret_close(value);
	al_secret_free(ks);
	return 0;
}

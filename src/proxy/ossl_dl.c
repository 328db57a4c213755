/* Loading OpenSSL and zlib at run time (see ossl_dl.h and al_dl_load). */
#include <dlfcn.h>
#include <string.h>

#include "ossl_dl.h"

#define OSSL_DL_NAME(fn)	#fn,
#define OSSL_DL_SLOT(fn)	(void **)&t->fn,

int
ossl_dl_open(struct ossl_dl *t, struct al_err *err)
{
	const char *const ssl_names[] = { OSSL_DL_SSL_FUNCS(OSSL_DL_NAME) };
	void **const ssl_slots[] = { OSSL_DL_SSL_FUNCS(OSSL_DL_SLOT) };
	const char *const crypto_names[] = {
		OSSL_DL_CRYPTO_FUNCS(OSSL_DL_NAME)
	};
	void **const crypto_slots[] = { OSSL_DL_CRYPTO_FUNCS(OSSL_DL_SLOT) };
	const char *const z_names[] = { OSSL_DL_Z_FUNCS(OSSL_DL_NAME) };
	void **const z_slots[] = { OSSL_DL_Z_FUNCS(OSSL_DL_SLOT) };
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = al_dl_load(OSSL_CRYPTO_SONAME, "the proxy needs OpenSSL",
	    crypto_names, crypto_slots, sizeof(crypto_names) /
	    sizeof(crypto_names[0]), &t->crypto, err)) != 0 ||
	    (rc = al_dl_load(OSSL_SSL_SONAME, "the proxy needs OpenSSL",
	    ssl_names, ssl_slots, sizeof(ssl_names) / sizeof(ssl_names[0]),
	    &t->ssl, err)) != 0 ||
	    (rc = al_dl_load(ZLIB_SONAME, "the proxy needs zlib", z_names,
	    z_slots, sizeof(z_names) / sizeof(z_names[0]), &t->z, err)) != 0)
		ossl_dl_close(t);
	return rc;
}

void
ossl_dl_close(struct ossl_dl *t)
{
	if (t->ssl != NULL)
		(void)dlclose(t->ssl);
	if (t->crypto != NULL)
		(void)dlclose(t->crypto);
	if (t->z != NULL)
		(void)dlclose(t->z);
	memset(t, 0, sizeof(*t));
}

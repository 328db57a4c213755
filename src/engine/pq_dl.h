/*
 * Private to src/engine: libpq and libcrypto, loaded with dlopen() when the
 * broker first meets an engine secret (or `secret add --engine` checks one)
 * instead of linked, so that no other command maps them (libpq brings in
 * about twenty libraries: Kerberos, LDAP, GnuTLS, ...; 8 ms on every
 * command's start).  libcrypto is a dependency of libpq, so loading it
 * after libpq maps nothing more.
 *
 * The table holds a pointer of each function's declared type (__typeof__,
 * so a mismatch cannot compile); it lives in struct engine (or on the
 * stack of a one-off check): no global state.  The libraries stay mapped
 * once loaded (RTLD_NODELETE).
 */
#ifndef AIRLOCK_ENGINE_PQ_DL_H
#define AIRLOCK_ENGINE_PQ_DL_H

#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "airlock/base.h"

#define PQ_DL_FUNCS(X)							\
	X(PQconnectdbParams) X(PQstatus) X(PQerrorMessage) X(PQfinish)	\
	X(PQexec) X(PQexecParams) X(PQresultStatus)			\
	X(PQresultErrorMessage) X(PQclear) X(PQntuples) X(PQgetvalue)	\
	X(PQescapeIdentifier) X(PQescapeLiteral) X(PQfreemem) X(PQhost)	\
	X(PQport) X(PQdb) X(PQsendQuery) X(PQgetResult)		\
	X(PQresultErrorField) X(PQtransactionStatus)
#define CRYPTO_DL_FUNCS(X)						\
	X(PKCS5_PBKDF2_HMAC) X(HMAC) X(EVP_sha256) X(SHA256)		\
	X(BIO_new_mem_buf) X(BIO_free) X(PEM_read_bio_PrivateKey)	\
	X(EVP_PKEY_free) X(EVP_PKEY_get_base_id) X(EVP_MD_CTX_new)	\
	X(EVP_MD_CTX_free) X(EVP_DigestSignInit) X(EVP_DigestSign)
/*
 * libcurl for the github-app engine.  curl_easy_setopt and
 * curl_easy_getinfo are also type-checking macros; a name not followed by
 * '(' is not expanded, so these are the variadic functions, called with
 * the argument types libcurl documents per option.
 */
#define CURL_DL_FUNCS(X)						\
	X(easy_init, curl_easy_init) X(easy_setopt, curl_easy_setopt)	\
	X(easy_perform, curl_easy_perform)				\
	X(easy_getinfo, curl_easy_getinfo)				\
	X(easy_strerror, curl_easy_strerror)				\
	X(easy_cleanup, curl_easy_cleanup)				\
	X(slist_append, curl_slist_append)				\
	X(slist_free_all, curl_slist_free_all)

struct pq_dl {
	void	*pq;		/* NULL: not loaded */
	void	*crypto;
	void	*curl;
#define PQ_DL_FIELD(fn)	__typeof__(&fn) fn;
	PQ_DL_FUNCS(PQ_DL_FIELD)
	CRYPTO_DL_FUNCS(PQ_DL_FIELD)
#undef PQ_DL_FIELD
#define CURL_DL_FIELD(field, fn)	__typeof__(&fn) field;
	CURL_DL_FUNCS(CURL_DL_FIELD)
#undef CURL_DL_FIELD
};

/*
 * Load both libraries (PQ_DL_SONAME, CRYPTO_DL_SONAME: the SONAMEs found
 * when airlock was built) and fill t; a loaded t is left as it is.  AL_ESYS
 * naming the library and why when one cannot be loaded; t is then cleared.
 */
int	pq_dl_open(struct pq_dl *t, struct al_err *err) AL_WUR;
/* Load libcrypto and libcurl (CURL_DL_SONAME) likewise (github-app). */
int	pq_dl_open_curl(struct pq_dl *t, struct al_err *err) AL_WUR;
/* Forget the table (the libraries stay mapped).  A cleared t is a no-op. */
void	pq_dl_close(struct pq_dl *t);

#endif

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

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "airlock/base.h"

#define PQ_DL_FUNCS(X)							\
	X(PQconnectdbParams) X(PQstatus) X(PQerrorMessage) X(PQfinish)	\
	X(PQexec) X(PQexecParams) X(PQresultStatus)			\
	X(PQresultErrorMessage) X(PQclear) X(PQntuples) X(PQgetvalue)	\
	X(PQescapeIdentifier) X(PQescapeLiteral) X(PQfreemem) X(PQhost)	\
	X(PQport) X(PQdb) X(PQsendQuery) X(PQgetResult)
#define CRYPTO_DL_FUNCS(X)						\
	X(PKCS5_PBKDF2_HMAC) X(HMAC) X(EVP_sha256) X(SHA256)

struct pq_dl {
	void	*pq;		/* NULL: not loaded */
	void	*crypto;
#define PQ_DL_FIELD(fn)	__typeof__(&fn) fn;
	PQ_DL_FUNCS(PQ_DL_FIELD)
	CRYPTO_DL_FUNCS(PQ_DL_FIELD)
#undef PQ_DL_FIELD
};

/*
 * Load both libraries (PQ_DL_SONAME, CRYPTO_DL_SONAME: the SONAMEs found
 * when airlock was built) and fill t; a loaded t is left as it is.  AL_ESYS
 * naming the library and why when one cannot be loaded; t is then cleared.
 */
int	pq_dl_open(struct pq_dl *t, struct al_err *err) AL_WUR;
/* Forget the table (the libraries stay mapped).  A cleared t is a no-op. */
void	pq_dl_close(struct pq_dl *t);

#endif

/*
 * Private to src/client: libcurl, loaded with dlopen() when a client
 * connects instead of linked, so that commands which never talk to the
 * broker (scan, --version, ...) do not map libcurl and the TLS, Kerberos,
 * LDAP and SSH libraries it pulls in.
 *
 * The table lives in struct client (no global state).  Each pointer has the
 * function's declared type, taken from <curl/curl.h> with __typeof__; the
 * variadic curl_easy_setopt and curl_easy_getinfo keep their "..." and are
 * called through such pointers with the argument types libcurl documents
 * for each option (a long, a pointer, a function).  The library stays
 * mapped once loaded (RTLD_NODELETE), as a linked one would: libcurl and
 * its TLS library keep process-wide state.
 */
#ifndef AIRLOCK_CLIENT_CURL_DL_H
#define AIRLOCK_CLIENT_CURL_DL_H

#include <curl/curl.h>

#include "airlock/base.h"

/*
 * field, function: every libcurl function the client calls.  curl_easy_setopt
 * and curl_easy_getinfo are also type-checking macros in <curl/curl.h>; a
 * name not followed by '(' is not expanded, so these are the functions.
 */
#define CURL_DL_FUNCS(X)						\
	X(easy_init, curl_easy_init)					\
	X(easy_setopt, curl_easy_setopt)				\
	X(easy_perform, curl_easy_perform)				\
	X(easy_getinfo, curl_easy_getinfo)				\
	X(easy_strerror, curl_easy_strerror)				\
	X(easy_cleanup, curl_easy_cleanup)				\
	X(slist_append, curl_slist_append)				\
	X(slist_free_all, curl_slist_free_all)

struct curl_dl {
	void	*handle;		/* NULL: not loaded */
#define CURL_DL_FIELD(field, fn)	__typeof__(&fn) field;
	CURL_DL_FUNCS(CURL_DL_FIELD)
#undef CURL_DL_FIELD
};

/*
 * Load libcurl from file (CURL_DL_SONAME: the SONAME of the library found
 * when airlock was built) and fill t.  AL_ESYS naming the library and why
 * when it cannot be loaded or lacks a function; t is then cleared.
 */
int	curl_dl_open(struct curl_dl *t, const char *file, struct al_err *err)
	    AL_WUR;
/* Forget the table (the library stays mapped).  A cleared t is a no-op. */
void	curl_dl_close(struct curl_dl *t);

#endif

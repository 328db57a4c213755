/*
 * Private to src/guard.  libmicrohttpd (the listener) and libcurl (the
 * upstream) are loaded with dlopen() when the guard starts, as the broker
 * and the client load them, so no other command maps them.  Each pointer
 * has the function's declared type (__typeof__), so a mismatch cannot
 * compile; curl_easy_setopt and curl_easy_getinfo keep their "..." and are
 * called with the argument types libcurl documents for each option.
 */
#ifndef AIRLOCK_GUARD_INT_H
#define AIRLOCK_GUARD_INT_H

#include <netinet/in.h>
#include <pthread.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "airlock/guard.h"

#define GUARD_MHD_FUNCS(X)						\
	X(start_daemon, MHD_start_daemon)				\
	X(stop_daemon, MHD_stop_daemon)					\
	X(get_connection_values, MHD_get_connection_values)		\
	X(lookup_connection_value, MHD_lookup_connection_value)		\
	X(create_response_from_buffer, MHD_create_response_from_buffer) \
	X(create_response_from_callback, MHD_create_response_from_callback) \
	X(add_response_header, MHD_add_response_header)			\
	X(queue_response, MHD_queue_response)				\
	X(destroy_response, MHD_destroy_response)

#define GUARD_CURL_FUNCS(X)						\
	X(global_init, curl_global_init)				\
	X(easy_init, curl_easy_init)					\
	X(easy_setopt, curl_easy_setopt)				\
	X(easy_getinfo, curl_easy_getinfo)				\
	X(easy_strerror, curl_easy_strerror)				\
	X(easy_cleanup, curl_easy_cleanup)				\
	X(multi_init, curl_multi_init)					\
	X(multi_add_handle, curl_multi_add_handle)			\
	X(multi_remove_handle, curl_multi_remove_handle)		\
	X(multi_perform, curl_multi_perform)				\
	X(multi_poll, curl_multi_poll)					\
	X(multi_info_read, curl_multi_info_read)			\
	X(multi_cleanup, curl_multi_cleanup)				\
	X(slist_append, curl_slist_append)				\
	X(slist_free_all, curl_slist_free_all)

struct guard_dl {
	void	*mhd_handle;
	void	*curl_handle;
#define GUARD_DL_FIELD(field, fn)	__typeof__(&fn) field;
	GUARD_MHD_FUNCS(GUARD_DL_FIELD)
	GUARD_CURL_FUNCS(GUARD_DL_FIELD)
#undef GUARD_DL_FIELD
};

/* Load both libraries (MHD_DL_SONAME, CURL_DL_SONAME).  AL_ESYS. */
int	guard_dl_open(struct guard_dl *t, struct al_err *err) AL_WUR;

/* The redactors of one moment, shared by the requests that use them. */
struct guard_setref {
	struct guard_sets	 sets;
	unsigned		 refs;
};

struct guard {
	struct guard_config	 cfg;
	struct guard_dl		 dl;
	char			 upstream[2048];	/* no trailing '/' */
	char			 address[64];
	struct sockaddr_in	 local;		/* the address listened on */
	int			 listen_fd;
	struct MHD_Daemon	*mhd;
	pthread_mutex_t		 lock;		/* sets, failed */
	struct guard_setref	*cur;
	int			 failed;	/* the last load failed */
	char			 why[AL_ERR_MSG_MAX];
	pthread_mutex_t		 audit_lock;	/* one audit at a time */
	pthread_mutex_t		 count_lock;	/* counts */
	struct guard_counts	 counts;	/* since the last report */
};

/* Count one answer of the guard, and f's masks when f is not NULL. */
void	guard_count(struct guard *g, enum guard_outcome o,
	    const struct guard_findings *f);

/* Take / drop a reference to the current redactors; NULL while failed. */
struct guard_setref *guard_sets_take(struct guard *g);
void	guard_sets_drop(struct guard *g, struct guard_setref *r);

/*
 * The uid owning the client's end of a loopback TCP connection from peer
 * to local (peer.c): 0 and *uid, or -1 when it cannot be told.
 */
int	guard_peer_uid(const struct sockaddr_in *peer,
	    const struct sockaddr_in *local, uid_t *uid) AL_WUR;

/* Start / stop the HTTP side (server.c). */
int	guard_http_start(struct guard *g, struct al_err *err) AL_WUR;
void	guard_http_stop(struct guard *g);

#endif

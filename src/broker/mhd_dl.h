/*
 * Private to src/broker: libmicrohttpd, loaded with dlopen() when the broker
 * starts serving instead of linked, so that no other command maps it.
 *
 * The table holds a pointer of each function's declared type (taken from
 * <microhttpd.h> with __typeof__, so a mismatch cannot compile) and lives in
 * struct server, the context of the one thread that serves: no global state.
 * The library stays mapped once loaded (RTLD_NODELETE), as a linked one
 * would; nothing calls into it after http_stop.
 */
#ifndef AIRLOCK_BROKER_MHD_DL_H
#define AIRLOCK_BROKER_MHD_DL_H

#include <microhttpd.h>

#include "airlock/base.h"

/* field, function: every libmicrohttpd function the broker calls. */
#define MHD_DL_FUNCS(X)							\
	X(start_daemon, MHD_start_daemon)				\
	X(stop_daemon, MHD_stop_daemon)					\
	X(run, MHD_run)							\
	X(get_timeout, MHD_get_timeout)					\
	X(get_daemon_info, MHD_get_daemon_info)				\
	X(get_connection_info, MHD_get_connection_info)			\
	X(get_connection_values, MHD_get_connection_values)		\
	X(lookup_connection_value, MHD_lookup_connection_value)		\
	X(set_connection_option, MHD_set_connection_option)		\
	X(suspend_connection, MHD_suspend_connection)			\
	X(resume_connection, MHD_resume_connection)			\
	X(create_response_from_buffer, MHD_create_response_from_buffer) \
	X(create_response_from_buffer_with_free_callback_cls,		\
	    MHD_create_response_from_buffer_with_free_callback_cls)	\
	X(add_response_header, MHD_add_response_header)			\
	X(queue_response, MHD_queue_response)				\
	X(destroy_response, MHD_destroy_response)			\
	X(create_response_for_upgrade, MHD_create_response_for_upgrade)	\
	X(upgrade_action, MHD_upgrade_action)

struct mhd_dl {
	void	*handle;		/* NULL: not loaded */
#define MHD_DL_FIELD(field, fn)	__typeof__(&fn) field;
	MHD_DL_FUNCS(MHD_DL_FIELD)
#undef MHD_DL_FIELD
};

/*
 * Load libmicrohttpd from file (MHD_DL_SONAME: the SONAME of the library
 * found when airlock was built) and fill t.  AL_ESYS naming the library
 * and why when it cannot be loaded or lacks a function; t is then cleared.
 */
int	mhd_dl_open(struct mhd_dl *t, const char *file, struct al_err *err)
	    AL_WUR;
/* Forget the table (the library stays mapped).  A cleared t is a no-op. */
void	mhd_dl_close(struct mhd_dl *t);

#endif

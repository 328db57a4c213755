/* Private to src/client. */
#ifndef AIRLOCK_CLIENT_INT_H
#define AIRLOCK_CLIENT_INT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "airlock/client.h"
#include "http.h"

struct client {
	int		 fd;			/* -1: not connected */
	int		 reused;		/* fd has carried a reply */
	int64_t		 deadline_ms;		/* of the request under way */
	struct http_src	 in;			/* replies from fd */
	char		 socket_path[PATH_MAX];
	char		 home[PATH_MAX];
	char		 bin[PATH_MAX];		/* "" : no autostart */
	int		 timeout_ms;
	/* Requests go out only to a verified broker (see peer_is_broker). */
	int		 verify_peer;
	/* The Airlock-Lease of the last reply with a value ("" if none). */
	char		 value_lease[33];
};

/* Set up cl's (not yet open) connection; close it. */
void	client_conn_init(struct client *cl);
void	client_conn_close(struct client *cl);
/*
 * One request.  body (may be NULL) is sent as JSON.  With value set, a 200
 * reply must be the raw value: it goes straight into new guarded memory
 * sized by its Content-Length (at most API_VALUE_MAX), returned closed in
 * *value; otherwise the JSON reply goes to *out (may be NULL; with value
 * set, a reply that is not a value is then an error).  HTTP errors
 * become AL_E codes with the broker's message.
 */
int	client_call(struct client *cl, const char *method, const char *path,
	    json_t *body, struct al_secret **value, long *status,
	    json_t **out, struct al_err *err) AL_WUR;
/* Whether id is 32 hex digits; AL_EINVAL naming what it should be. */
int	client_check_id(const char *id, const char *what, struct al_err *err)
	    AL_WUR;
/*
 * A request without a body, split in two for a long poll: client_send
 * writes it (connecting first if cl has no connection), client_recv reads
 * its JSON reply into *out once it comes (HTTP errors as for client_call).
 * Either drops the connection when it fails.
 */
int	client_send(struct client *cl, const char *method, const char *path,
	    struct al_err *err) AL_WUR;
int	client_recv(struct client *cl, json_t **out, struct al_err *err)
	    AL_WUR;
/*
 * SIGTERM to the broker pid (which must be the one in home/airlockd.pid),
 * then wait up to 10 s for it to be gone.
 */
int	client_stop_pid(const char *home, pid_t pid, struct al_err *err)
	    AL_WUR;
/* Run `<bin> serve`, wait until it is ready (or failed). */
int	client_autostart(struct client *cl, struct al_err *err) AL_WUR;

#endif

/* Private to src/client. */
#ifndef AIRLOCK_CLIENT_INT_H
#define AIRLOCK_CLIENT_INT_H

#include <limits.h>
#include <sys/types.h>

#include "airlock/client.h"
#include "curl_dl.h"

struct client {
	struct curl_dl	 lib;			/* libcurl */
	CURL		*curl;
	char		 socket_path[PATH_MAX];
	char		 home[PATH_MAX];
	char		 bin[PATH_MAX];		/* "" : no autostart */
	int		 timeout_ms;
};

int	client_connect(struct client *cl, struct al_err *err) AL_WUR;
/*
 * One request.  body (may be NULL) is sent as JSON.  With value set, a 200
 * reply must be the raw value: it goes straight into new guarded memory
 * sized by its Content-Length (at most API_VALUE_MAX), returned closed in
 * *value; otherwise the JSON reply goes to *out (may be NULL).  HTTP errors
 * become AL_E codes with the broker's message.
 */
int	client_call(struct client *cl, const char *method, const char *path,
	    json_t *body, struct al_secret **value, long *status,
	    json_t **out, struct al_err *err) AL_WUR;
/*
 * SIGTERM to the broker pid (which must be the one in home/airlockd.pid),
 * then wait up to 10 s for it to be gone.
 */
int	client_stop_pid(const char *home, pid_t pid, struct al_err *err)
	    AL_WUR;
/* Run `<bin> serve`, wait until it is ready (or failed). */
int	client_autostart(struct client *cl, struct al_err *err) AL_WUR;

#endif

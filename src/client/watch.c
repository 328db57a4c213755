/*
 * Watching leases end: a long poll on a connection of its own.  The broker
 * parks GET /v1/leases?ids=...&wait=60 and answers it as soon as one of the
 * leases ends (or after the wait, when the next one goes out), so a run
 * learns of a revocation at once without asking the broker over and over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/api.h"
#include "client_int.h"

/* Seconds the broker may hold one poll (its most). */
#define WATCH_WAIT_S	API_WAIT_MAX

struct client_watch {
	struct client	 cl;		/* the watch's own connection */
	char		*path;		/* the poll's request path */
	int		 answered;	/* the connection carried a reply */
};

/* o's string member key, or "". */
static const char *
str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "";
}

static int
poll_send(struct client_watch *w, struct al_err *err)
{
	return client_send(&w->cl, "GET", w->path, err);
}

int
client_watch_open(struct client *cl, const char *const *ids, size_t n,
    struct client_watch **out, struct al_err *err)
{
	struct client_watch *w;
	struct al_buf path;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (n == 0 || n > CLIENT_WATCH_MAX)
		return al_err_set(err, AL_EINVAL, "1 to %d leases may be "
		    "watched", CLIENT_WATCH_MAX);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	al_buf_init(&path, 4096, 0);
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = client_check_id(ids[i], "a lease", err)) != 0)
			break;
		if (al_buf_puts(&path, i ? "," : API_LEASES "?ids=") != 0 ||
		    al_buf_puts(&path, ids[i]) != 0)
			rc = al_err_set(err, AL_ETOOBIG, "too many leases");
	}
	if (rc == 0 && al_buf_printf(&path, "&wait=%d", WATCH_WAIT_S) != 0)
		rc = al_err_set(err, AL_ETOOBIG, "too many leases");
	if (rc == 0 && (w->path = strdup(al_buf_str(&path))) == NULL)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	al_buf_release(&path);
	if (rc != 0) {
		free(w);
		return rc;
	}
	/* The same broker, never started anew: it holds the leases. */
	memcpy(w->cl.socket_path, cl->socket_path, sizeof(cl->socket_path));
	memcpy(w->cl.home, cl->home, sizeof(cl->home));
	w->cl.timeout_ms = cl->timeout_ms;
	client_conn_init(&w->cl);
	if ((rc = poll_send(w, err)) != 0) {
		client_watch_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

int
client_watch_fd(const struct client_watch *w)
{
	return w->cl.fd;
}

int
client_watch_read(struct client_watch *w, struct client_lease_end *out,
    struct al_err *err)
{
	json_t *reply = NULL, *arr, *o;
	const char *why;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = client_recv(&w->cl, &reply, err)) != 0) {
		/*
		 * A kept connection may be refused what a new one is not
		 * (its process's program file was replaced since, as an
		 * upgrade does; the broker dropped it): the poll is sent
		 * once more on a new connection, whose failure counts.
		 */
		if (!w->answered)
			return rc;
		w->answered = 0;
		client_conn_close(&w->cl);
		al_err_clear(err);
		return poll_send(w, err);
	}
	w->answered = 1;
	arr = json_object_get(reply, API_F_LEASES);
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		json_decref(reply);
		return al_err_set(err, AL_EPROTO, "the broker answered a lease "
		    "watch without leases");
	}
	json_array_foreach(arr, i, o) {
		if ((why = json_string_value(json_object_get(o,
		    API_F_REASON))) == NULL)
			continue;
		(void)snprintf(out->id, sizeof(out->id), "%s", str(o,
		    API_F_ID));
		(void)snprintf(out->secret, sizeof(out->secret), "%s", str(o,
		    API_F_SECRET));
		(void)snprintf(out->state, sizeof(out->state), "%s", str(o,
		    API_F_STATE));
		(void)snprintf(out->reason, sizeof(out->reason), "%s", why);
		json_decref(reply);
		return 1;
	}
	json_decref(reply);
	/* Every one still in use: the next poll. */
	return poll_send(w, err);
}

void
client_watch_close(struct client_watch *w)
{
	if (w == NULL)
		return;
	if (w->cl.fd >= 0)
		client_conn_close(&w->cl);
	free(w->path);
	free(w);
}

/* Reaching the broker from a tool call, and small result helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/client.h"
#include "mcp_int.h"

int
mcp_client_open(struct mcp_server *s, struct client **out,
    struct al_err *err)
{
	struct client_opts o;

	if (s->cfg.home == NULL)
		return al_err_set(err, AL_EUNAVAIL, "no airlock home is "
		    "configured for this server, so there is no broker to ask");
	memset(&o, 0, sizeof(o));
	o.home = s->cfg.home;
	o.socket_path = s->cfg.socket_path;
	o.airlock_bin = s->cfg.airlock_bin;
	return client_open(&o, out, err);
}

int
mcp_result_error(struct mcp_result *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	free(r->text);
	va_start(ap, fmt);
	n = vasprintf(&r->text, fmt, ap);
	va_end(ap);
	r->is_error = 1;
	if (n < 0) {
		r->text = NULL;
		return AL_ENOMEM;
	}
	return 0;
}

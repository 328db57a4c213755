/* Diagnostics: one format, control characters escaped. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/base.h"

void
al_msg(FILE *stream, const char *prefix, const char *fmt, ...)
{
	struct al_buf raw, out;
	va_list ap;

	al_buf_init(&raw, 64 * 1024, 0);
	al_buf_init(&out, 256 * 1024, 0);
	va_start(ap, fmt);
	if (al_buf_vprintf(&raw, fmt, ap) == 0 &&
	    al_buf_append_escaped(&out, raw.data, raw.len) == 0)
		(void)fprintf(stream, "airlock: %s%s%s\n",
		    prefix ? prefix : "", prefix ? ": " : "", al_buf_str(&out));
	else
		(void)fprintf(stream, "airlock: %s: (message lost)\n",
		    prefix ? prefix : "error");
	va_end(ap);
	al_buf_release(&raw);
	al_buf_release(&out);
	(void)fflush(stream);
}

int
al_use_color(int fd)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (nc != NULL && *nc != '\0')
		return 0;
	if (term != NULL && (*term == '\0' || strcmp(term, "dumb") == 0))
		return 0;
	return isatty(fd);
}

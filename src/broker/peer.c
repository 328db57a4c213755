/*
 * Who is at the other end of a connection.  The kernel's peer credentials
 * (SO_PEERCRED, taken at connect time) are the only source: nothing a
 * client sends can change who it is.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"

/*
 * The process start time (clock ticks after boot, field 22 of
 * /proc/PID/stat) tells a process from a later one that reuses its pid.
 */
static unsigned long long
start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd, field;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past it. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		t = strtoull(p, NULL, 10);
	return t;
}

static int
add_sel(struct conn *c, const char *fmt, ...) AL_PRINTF(2, 3);

static int
add_sel(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (c->caller.nselectors >= BROKER_SELECTORS_MAX)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	c->sel[c->caller.nselectors++] = s;
	return 0;
}

struct conn *
conn_new(struct server *s, int fd, uint64_t id)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	struct conn *c;

	(void)s;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->caller.conn = id;
	c->caller.selectors = (const char *const *)c->sel;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc,
	    &len) != 0 || len != sizeof(uc)) {
		c->ident_failed = 1;
		return c;
	}
	c->caller.uid = uc.uid;
	c->caller.gid = uc.gid;
	c->caller.pid = uc.pid;
	(void)snprintf(c->caller.holder, sizeof(c->caller.holder),
	    "uid=%u,pid=%ld,start=%llu", (unsigned)uc.uid, (long)uc.pid,
	    start_time(uc.pid));
	if (add_sel(c, "unix:uid:%u", (unsigned)uc.uid) != 0 ||
	    add_sel(c, "unix:gid:%u", (unsigned)uc.gid) != 0)
		c->ident_failed = 1;
	return c;
}

void
conn_free(struct conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->caller.nselectors; i++)
		free(c->sel[i]);
	free(c);
}

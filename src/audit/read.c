/* Reading the audit log with filters, for `airlock audit` and the API. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "audit_int.h"

/* Whether name is one of the comma-separated names in list. */
static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list, *comma;

	for (;;) {
		comma = strchr(p, ',');
		if ((comma ? (size_t)(comma - p) : strlen(p)) == n &&
		    strncmp(p, name, n) == 0)
			return 1;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int
same(const char *want, const char *got)
{
	return want == NULL || (got != NULL && strcmp(want, got) == 0);
}

static int
matches(const struct audit_filter *f, const struct audit_entry *e)
{
	if (f == NULL)
		return 1;
	return e->time_ms >= f->since_ms && same(f->task, e->task) &&
	    same(f->secret, e->secret) && same(f->lease, e->lease) &&
	    (f->events == NULL || in_list(f->events, e->event));
}

int
audit_read(const char *path, const struct audit_filter *filter,
    int (*cb)(void *arg, const struct audit_entry *e), void *arg,
    struct audit_read_stats *stats, struct al_err *err)
{
	struct audit_read_stats st;
	struct audit_lines r;
	struct audit_linev v;
	struct audit_entry e;
	json_t *o;
	int fd, rc, stop = 0;

	memset(&st, 0, sizeof(st));
	if (stats != NULL)
		memset(stats, 0, sizeof(*stats));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return al_err_set(err, AL_ENOENT, "no audit log at %s "
			    "(nothing has been recorded yet)", path);
		return al_err_set(err, AL_ESYS, "cannot open %s: %s", path,
		    strerror(errno));
	}
	audit_lines_init_fd(&r, fd, 0);
	while ((rc = audit_lines_next(&r, &v, err)) == 1) {
		if (!v.complete) {
			st.torn = 1;
			break;
		}
		st.lines++;
		if (v.toolong || audit_parse_line(v.p, v.n, &o, &e, NULL) != 0) {
			st.malformed++;
			continue;
		}
		e.line = st.lines;
		if (matches(filter, &e)) {
			st.matched++;
			stop = cb(arg, &e);
		}
		json_decref(o);
		if (stop != 0)
			break;
	}
	audit_lines_release(&r);
	(void)close(fd);
	if (stats != NULL)
		*stats = st;
	return rc < 0 ? rc : stop;
}

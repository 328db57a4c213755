/*
 * Verifying a whole audit log: every line well formed, in sequence, and
 * carrying the mac that chains it to the line before; the line the head
 * records present and unchanged.  The first fault is named by line number.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_int.h"

const char *
audit_problem_name(enum audit_problem p)
{
	switch (p) {
	case AUDIT_INTACT:	return "intact";
	case AUDIT_CHANGED:	return "changed";
	case AUDIT_MALFORMED:	return "malformed";
	case AUDIT_TOO_LONG:	return "too-long";
	case AUDIT_REMOVED:	return "removed";
	case AUDIT_REORDERED:	return "reordered";
	case AUDIT_TORN:	return "torn";
	case AUDIT_TRUNCATED:	return "truncated";
	case AUDIT_HEAD_BAD:	return "head";
	}
	return "unknown";
}

static void
problem(struct audit_report *rep, enum audit_problem pr, uint64_t line,
    const char *fmt, ...) AL_PRINTF(4, 5);

static void
problem(struct audit_report *rep, enum audit_problem pr, uint64_t line,
    const char *fmt, ...)
{
	va_list ap;

	rep->problem = pr;
	rep->line = line;
	va_start(ap, fmt);
	(void)vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);	/* a cut message is still a message */
}

/* Whether a later line holds seq want (the missing line was moved). */
static int
seq_later(struct audit_lines *r, uint64_t want, struct al_err *err)
{
	struct audit_linev v;
	struct audit_line_info li;
	size_t pos;
	int rc;

	while ((rc = audit_lines_next(r, &v, err)) == 1)
		if (v.complete && !v.toolong && audit_line_check(v.p, v.n, &li,
		    NULL, &pos) == AUDIT_INTACT && li.seq == want)
			return 1;
	return rc < 0 ? rc : 0;
}

int
audit_verify_lines(struct audit_lines *r, const unsigned char *head,
    size_t headn, int have_head, const unsigned char *keys,
    struct audit_report *rep, struct al_err *err)
{
	const struct audit_keys *ks = (const struct audit_keys *)keys;
	unsigned char prev[AUDIT_MAC_LEN], mac[AUDIT_MAC_LEN];
	struct audit_line_info li;
	struct audit_linev v;
	struct audit_head h;
	uint64_t n;
	size_t pos;
	int rc, head_ok = 0;

	memset(rep, 0, sizeof(*rep));
	memset(prev, 0, sizeof(prev));
	if (have_head && (head_ok = audit_head_parse(head, headn, ks->head,
	    &h)))
		rep->head_seq = h.seq;
	while ((rc = audit_lines_next(r, &v, err)) == 1) {
		n = rep->lines + 1;
		if (!v.complete) {
			problem(rep, AUDIT_TORN, n, "line %llu is incomplete (a "
			    "crash during a write?): it is not covered by the "
			    "chain; opening the log for writing cuts it and "
			    "records the repair", (unsigned long long)n);
			break;
		}
		if (v.toolong) {
			problem(rep, AUDIT_TOO_LONG, n, "line %llu is longer "
			    "than %d bytes: not an audit line",
			    (unsigned long long)n, AUDIT_LINE_MAX);
			break;
		}
		if (audit_line_check(v.p, v.n, &li, NULL, &pos) !=
		    AUDIT_INTACT) {
			problem(rep, AUDIT_MALFORMED, n, "line %llu is not a "
			    "valid audit line (fault at byte %zu): it was "
			    "changed or damaged", (unsigned long long)n, pos);
			break;
		}
		if (li.seq != n && li.seq > n) {
			if ((rc = seq_later(r, n, err)) < 0)
				return rc;
			problem(rep, rc ? AUDIT_REORDERED : AUDIT_REMOVED, n,
			    rc ? "line %llu holds seq %llu, and seq %llu comes "
			    "later: lines were reordered" : "line %llu holds "
			    "seq %llu where %llu was expected: %s removed",
			    (unsigned long long)n, (unsigned long long)li.seq,
			    (unsigned long long)n, li.seq == n + 1 ?
			    "a line was" : "lines were");
			rc = 0;
			break;
		}
		if (li.seq != n) {
			problem(rep, AUDIT_REORDERED, n, "line %llu holds seq "
			    "%llu, which came earlier: lines were reordered or "
			    "duplicated", (unsigned long long)n,
			    (unsigned long long)li.seq);
			break;
		}
		audit_line_mac(ks->chain, prev, v.p, v.n, mac);
		if (sodium_memcmp(mac, li.mac, sizeof(mac)) != 0) {
			if (n == 1 && have_head && !head_ok && headn > 0)
				problem(rep, AUDIT_CHANGED, n, "line 1 does not "
				    "verify, nor does the head: the audit key "
				    "does not belong to this log (another "
				    "vault?), or both were changed");
			else
				problem(rep, AUDIT_CHANGED, n, "line %llu was "
				    "changed: its mac does not match its "
				    "content", (unsigned long long)n);
			break;
		}
		if (head_ok && h.seq == n) {
			if (v.off != h.off || sodium_memcmp(mac, h.mac,
			    sizeof(mac)) != 0) {
				problem(rep, AUDIT_HEAD_BAD, n, "line %llu is "
				    "not the line the head records: the log "
				    "was rewritten", (unsigned long long)n);
				break;
			}
			rep->head_checked = 1;
		}
		if (li.recover && rep->recoveries++ == 0)
			rep->recovery_line = n;
		if (n == 1)
			memcpy(rep->first_time, li.time, AUDIT_TIME_LEN);
		memcpy(rep->last_time, li.time, AUDIT_TIME_LEN);
		memcpy(prev, mac, sizeof(prev));
		rep->lines = n;
		rep->last_seq = li.seq;
	}
	if (rc < 0)
		return rc;
	if (rep->problem != AUDIT_INTACT || !have_head)
		return 0;
	if (!head_ok && (rep->lines > 0 || headn > 0))
		problem(rep, AUDIT_HEAD_BAD, 0, headn == 0 ? "the head file is "
		    "missing or empty: lines cut from the end of the log could "
		    "not be noticed" : "the head does not verify under the "
		    "audit key: it was damaged or replaced");
	else if (head_ok && h.seq == rep->last_seq + 1)
		problem(rep, AUDIT_TRUNCATED, h.seq, "the log ends at line %llu "
		    "but its head records %llu lines: line %llu was cut from "
		    "the end", (unsigned long long)rep->last_seq,
		    (unsigned long long)h.seq, (unsigned long long)h.seq);
	else if (head_ok && h.seq > rep->last_seq)
		problem(rep, AUDIT_TRUNCATED, rep->last_seq + 1, "the log ends "
		    "at line %llu but its head records %llu lines: lines "
		    "%llu-%llu were cut from the end",
		    (unsigned long long)rep->last_seq,
		    (unsigned long long)h.seq,
		    (unsigned long long)rep->last_seq + 1,
		    (unsigned long long)h.seq);
	return 0;
}

int
audit_verify_mem(const void *log, size_t n, const void *head, size_t headn,
    struct al_secret *key, struct audit_report *report, struct al_err *err)
{
	struct audit_lines r;
	struct al_secret *ks = NULL;
	int rc;

	memset(report, 0, sizeof(*report));
	if ((rc = audit_keys_derive(key, &ks, err)) != 0)
		return rc;
	audit_lines_init_mem(&r, log, n);
	rc = audit_verify_lines(&r, head, head ? headn : 0, head != NULL,
	    al_secret_open(ks), report, err);
	audit_lines_release(&r);
	al_secret_free(ks);
	return rc;
}

/* Read the head file; a missing one reads as empty. */
static int
read_head(const char *hpath, unsigned char buf[HEAD_FILE_LEN], size_t *n,
    struct al_err *err)
{
	int fd, rc;

	*n = 0;
	if ((fd = open(hpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return al_err_set(err, AL_ESYS, "cannot open %s: %s", hpath,
		    strerror(errno));
	}
	rc = audit_head_read(fd, buf, n, err);
	(void)close(fd);
	return rc;
}

int
audit_verify(const char *path, struct al_secret *key,
    struct audit_report *report, struct al_err *err)
{
	const struct timespec pause = { 0, 50 * 1000 * 1000 };
	unsigned char head[HEAD_FILE_LEN];
	char hpath[PATH_MAX];
	struct audit_lines r;
	struct al_secret *ks = NULL;
	size_t headn;
	int fd = -1, rc, attempt;

	memset(report, 0, sizeof(*report));
	if (snprintf(hpath, sizeof(hpath), "%s%s", path, AUDIT_HEAD_SUFFIX) >=
	    (int)sizeof(hpath))
		return al_err_set(err, AL_ETOOBIG, "audit log path too long");
	if ((rc = audit_keys_derive(key, &ks, err)) != 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 &&
	    errno != ENOENT) {
		rc = al_err_set(err, AL_ESYS, "cannot open %s: %s", path,
		    strerror(errno));
		goto out;
	}
	/* The head first: it may lag behind the log, never run ahead. */
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = read_head(hpath, head, &headn, err)) != 0)
			goto out;
		if (fd < 0 && headn == 0) {
			rc = al_err_set(err, AL_ENOENT, "no audit log at %s "
			    "(nothing has been recorded yet)", path);
			goto out;
		}
		if (fd < 0)
			audit_lines_init_mem(&r, "", 0);
		else
			audit_lines_init_fd(&r, fd, 0);
		rc = audit_verify_lines(&r, head, headn, 1, al_secret_open(ks),
		    report, err);
		al_secret_close(ks);
		audit_lines_release(&r);
		if (rc != 0 || report->problem != AUDIT_TORN)
			break;
		/* Perhaps a line being written: look again once. */
		(void)nanosleep(&pause, NULL);
	}
	if (rc == 0 && fd < 0 && report->problem == AUDIT_TRUNCATED)
		problem(report, AUDIT_TRUNCATED, 1, "the log %s is missing but "
		    "its head records %llu lines: it was deleted", path,
		    (unsigned long long)report->head_seq);
out:
	if (fd >= 0)
		(void)close(fd);
	al_secret_free(ks);
	return rc;
}

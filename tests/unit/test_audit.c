/* Unit tests for src/audit: the hash-chained audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/audit.h"

struct fixture {
	char			 dir[64];
	char			 path[PATH_MAX];
	char			 hpath[PATH_MAX];
	struct al_secret	*key;
	struct al_clock		 clock;
	int64_t			 ms;
};

static int64_t
fake_now_ms(void *arg)
{
	struct fixture *f = arg;

	return f->ms++;
}

static int64_t
fake_now(void *arg)
{
	struct fixture *f = arg;

	return f->ms / 1000;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/airlock-test-audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
	snprintf(f->hpath, sizeof(f->hpath), "%s/audit.log.head", f->dir);
	assert_int_equal(al_secret_new(AUDIT_KEY_LEN, &f->key), 0);
	randombytes_buf(al_secret_open(f->key), AUDIT_KEY_LEN);
	al_secret_set_len(f->key, AUDIT_KEY_LEN);
	al_secret_close(f->key);
	f->ms = 1801396800123LL;	/* 2027-01-31T12:00:00.123Z */
	f->clock.now = fake_now;
	f->clock.now_ms = fake_now_ms;
	f->clock.arg = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	al_secret_free(f->key);
	free(f);
	return 0;
}

static char *
slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long len;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	*n = (size_t)len;
	return buf;
}

static void
spew(const char *path, const char *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* Offset of the start of line no (1-based) in buf. */
static size_t
line_off(const char *buf, int no)
{
	const char *p = buf;

	while (--no > 0) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	return (size_t)(p - buf);
}

static size_t
line_len(const char *buf, int no)
{
	size_t off = line_off(buf, no);

	return (size_t)(strchr(buf + off, '\n') - (buf + off)) + 1;
}

/* Append n events "grant" with task T-<i>, secret s-<i % 2>, durable. */
static void
write_events(struct fixture *f, int n)
{
	struct audit_log *log = NULL;
	struct audit_event ev;
	char task[32], secret[32];
	json_t *caller;
	uint64_t seq;
	int i;

	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	caller = json_pack("{s:s, s:i, s:i, s:s}", "kind", "unix", "uid", 1000,
	    "pid", 4242, "exe", "/usr/bin/node");
	for (i = 1; i <= n; i++) {
		memset(&ev, 0, sizeof(ev));
		snprintf(task, sizeof(task), "T-%d", i);
		snprintf(secret, sizeof(secret), "s-%d", i % 2);
		ev.event = i % 3 == 0 ? "deny" : "grant";
		ev.outcome = i % 3 == 0 ? "denied" : "ok";
		ev.caller = caller;
		ev.secret = secret;
		ev.task = task;
		ev.intent = "deploy the web app";
		assert_int_equal(audit_append(log, &ev, &seq, NULL), 0);
	}
	json_decref(caller);
	audit_close(log);
}

static void
verify(struct fixture *f, struct audit_report *rep)
{
	struct al_err err;

	assert_int_equal(audit_verify(f->path, f->key, rep, &err), 0);
}

static void
test_audit_append_reopen_verify_intact(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	struct stat st;

	write_events(f, 5);
	write_events(f, 2);	/* reopen, continue the chain */
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 7);
	assert_int_equal(rep.last_seq, 7);
	assert_int_equal(rep.head_seq, 7);
	assert_int_equal(rep.head_checked, 1);
	assert_int_equal(rep.recoveries, 0);
	assert_string_equal(rep.first_time, "2027-01-31T12:00:00.123Z");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->hpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/*
 * Lines of very different sizes one after another (short, 20 KB, short,
 * 40 KB, short: each written into the room the one before left, or into
 * more): each is the whole event, and the chain verifies.
 */
static void
test_audit_lines_of_growing_and_shrinking_size_verify(void **state)
{
	static const size_t sizes[] = { 10, 20000, 10, 40000, 10 };
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_event ev;
	struct audit_report rep;
	char *big, *buf;
	json_t *detail;
	uint64_t seq;
	size_t i, n;

	assert_non_null(big = malloc(40001));
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(big, 'a' + (int)i, sizes[i]);
		big[sizes[i]] = '\0';
		detail = json_pack("{s:s}", "blob", big);
		memset(&ev, 0, sizeof(ev));
		ev.event = "grant";
		ev.outcome = "ok";
		ev.detail = detail;
		assert_int_equal(audit_append(log, &ev, &seq, NULL), 0);
		json_decref(detail);
	}
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 5);
	buf = slurp(f->path, &n);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(big, 'a' + (int)i, sizes[i]);
		big[sizes[i]] = '\0';
		assert_true(line_len(buf, (int)i + 1) > sizes[i]);
		assert_non_null(strstr(buf + line_off(buf, (int)i + 1), big));
	}
	free(buf);
	free(big);
}

static void
test_audit_line_format_is_compact_json_with_mac_last(void **state)
{
	struct fixture *f = *state;
	struct audit_entry e;
	struct al_err err;
	json_t *o;
	size_t n;
	char *buf;
	const char *want = "{\"time\":\"2027-01-31T12:00:00.123Z\","
	    "\"seq\":1,\"event\":\"grant\",\"outcome\":\"ok\",\"caller\":"
	    "{\"kind\":\"unix\",\"uid\":1000,\"pid\":4242,\"exe\":"
	    "\"/usr/bin/node\"},\"secret\":\"s-1\",\"task\":\"T-1\","
	    "\"intent\":\"deploy the web app\",\"mac\":\"";

	write_events(f, 1);
	buf = slurp(f->path, &n);
	assert_int_equal(strncmp(buf, want, strlen(want)), 0);
	assert_int_equal(n, strlen(want) + 64 + 3);
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(buf[n - 2], '}');
	assert_int_equal(buf[n - 68], '"');
	assert_int_equal(audit_parse_line(buf, n - 1, &o, &e, &err), 0);
	assert_int_equal(e.seq, 1);
	assert_string_equal(e.event, "grant");
	assert_string_equal(e.task, "T-1");
	assert_int_equal(e.time_ms, 1801396800123LL);
	assert_null(e.lease);
	json_decref(o);
	free(buf);
}

/* Edit one byte of line 3: its mac no longer matches. */
static void
test_audit_verify_names_changed_line(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	size_t n, off;
	char *buf, *p;

	write_events(f, 5);
	buf = slurp(f->path, &n);
	off = line_off(buf, 3);
	p = strstr(buf + off, "deploy");
	assert_non_null(p);
	*p = 'D';
	spew(f->path, buf, n);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_CHANGED);
	assert_int_equal(rep.line, 3);
	assert_int_equal(rep.lines, 2);
	assert_string_equal(rep.message, "line 3 was changed: its mac does not "
	    "match its content");
	free(buf);
}

static void
test_audit_verify_names_malformed_line(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	size_t n;
	char *buf;

	write_events(f, 5);
	buf = slurp(f->path, &n);
	buf[line_off(buf, 4)] = '[';
	spew(f->path, buf, n);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_MALFORMED);
	assert_int_equal(rep.line, 4);
	assert_non_null(strstr(rep.message, "line 4 is not a valid audit "
	    "line"));
	free(buf);
}

static void
test_audit_verify_names_removed_line(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	size_t n, off, len;
	char *buf;

	write_events(f, 5);
	buf = slurp(f->path, &n);
	off = line_off(buf, 3);
	len = line_len(buf, 3);
	memmove(buf + off, buf + off + len, n - off - len);
	spew(f->path, buf, n - len);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_REMOVED);
	assert_int_equal(rep.line, 3);
	assert_string_equal(rep.message, "line 3 holds seq 4 where 3 was "
	    "expected: a line was removed");
	free(buf);
}

static void
test_audit_verify_names_reordered_lines(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	size_t n, o2, l2, l3;
	char *buf, *out;

	write_events(f, 5);
	buf = slurp(f->path, &n);
	o2 = line_off(buf, 2);
	l2 = line_len(buf, 2);
	l3 = line_len(buf, 3);
	out = malloc(n);
	assert_non_null(out);
	memcpy(out, buf, o2);
	memcpy(out + o2, buf + o2 + l2, l3);
	memcpy(out + o2 + l3, buf + o2, l2);
	memcpy(out + o2 + l2 + l3, buf + o2 + l2 + l3, n - o2 - l2 - l3);
	spew(f->path, out, n);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_REORDERED);
	assert_int_equal(rep.line, 2);
	assert_string_equal(rep.message, "line 2 holds seq 3, and seq 2 comes "
	    "later: lines were reordered");
	free(out);
	free(buf);
}

/* Whole lines cut from the end: only the head can tell. */
static void
test_audit_verify_and_open_detect_truncated_tail(void **state)
{
	struct fixture *f = *state;
	struct audit_report rep;
	struct audit_log *log = NULL;
	struct al_err err;
	size_t n;
	char *buf;

	write_events(f, 5);
	buf = slurp(f->path, &n);
	spew(f->path, buf, line_off(buf, 4));
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_TRUNCATED);
	assert_int_equal(rep.line, 4);
	assert_int_equal(rep.lines, 3);
	assert_string_equal(rep.message, "the log ends at line 3 but its head "
	    "records 5 lines: lines 4-5 were cut from the end");
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, &err),
	    AL_ECORRUPT);
	assert_null(log);
	assert_non_null(strstr(err.msg, "line 5 of the audit log, which its "
	    "head records at byte"));
	free(buf);
}

/*
 * A crash in the middle of writing line 5 (never synced, so never relied
 * on): verify names it; opening cuts it, saves it and records the repair,
 * after which verify accepts the log and reports the recovery.
 */
static void
test_audit_torn_last_line_is_named_then_repaired(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_report rep;
	struct audit_event ev = { .event = "use", .secret = "s-1" };
	struct al_err err;
	char cut[PATH_MAX + 16], *buf, *saved;
	size_t n, off, sn;

	write_events(f, 4);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_append_nosync(log, &ev, NULL, NULL), 0);
	audit_close(log);
	buf = slurp(f->path, &n);
	off = line_off(buf, 5);
	assert_int_equal(truncate(f->path, (off_t)(n - 30)), 0);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_TORN);
	assert_int_equal(rep.line, 5);
	assert_int_equal(rep.lines, 4);

	log = NULL;
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, &err), 0);
	assert_int_equal(audit_last_seq(log), 5);
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 5);
	assert_int_equal(rep.recoveries, 1);
	assert_int_equal(rep.recovery_line, 5);
	assert_int_equal(rep.head_seq, 5);
	/* The cut bytes are kept for inspection, not destroyed. */
	snprintf(cut, sizeof(cut), "%s.cut.5", f->path);
	saved = slurp(cut, &sn);
	assert_int_equal(sn, n - 30 - off);
	assert_memory_equal(saved, buf + off, sn);
	free(saved);
	free(buf);
	buf = slurp(f->path, &n);
	assert_non_null(strstr(buf + line_off(buf, 5), "\"event\":\"recover\""));
	assert_non_null(strstr(buf + line_off(buf, 5), "\"saved_to\":"
	    "\"audit.log.cut.5\""));
	free(buf);
}

/* A complete line that lost only its newline is kept as it is. */
static void
test_audit_line_missing_only_newline_is_kept(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_report rep;
	struct audit_event ev = { .event = "use" };
	size_t n;
	char *buf;

	write_events(f, 2);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_append_nosync(log, &ev, NULL, NULL), 0);
	audit_close(log);
	buf = slurp(f->path, &n);
	free(buf);
	assert_int_equal(truncate(f->path, (off_t)(n - 1)), 0);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_last_seq(log), 3);
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 3);
	assert_int_equal(rep.recoveries, 0);
	buf = slurp(f->path, &n);
	assert_int_equal(buf[n - 1], '\n');
	free(buf);
}

/*
 * Lines appended without sync are written at once but keep the log locked
 * against other writers until a flush; another writer then chains after
 * them, and a sync makes them all durable.
 */
static void
test_audit_nosync_batch_holds_the_lock_until_flush(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL, *other = NULL;
	struct audit_event ev = { .event = "use", .outcome = "ok" };
	struct audit_report rep;
	uint64_t seq, durable;
	char *buf;
	size_t n;
	int fd;

	write_events(f, 2);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_append_nosync(log, &ev, &seq, NULL), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(audit_append_nosync(log, &ev, &seq, NULL), 0);
	assert_int_equal(seq, 4);
	assert_int_equal(audit_last_seq(log), 4);
	/* Readers see the lines; another process's append would wait. */
	buf = slurp(f->path, &n);
	assert_int_equal(line_off(buf, 5), n);
	free(buf);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	audit_flush(log);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	assert_int_equal(audit_append_nosync(log, &ev, &seq, NULL), 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	/* A sync (from any thread) leaves the burst open. */
	assert_int_equal(audit_sync(log, &durable, NULL), 0);
	assert_int_equal(durable, 5);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	audit_flush(log);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	close(fd);
	/* A second writer catches up with the batch and chains after it. */
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &other, NULL),
	    0);
	assert_int_equal(audit_append(other, &ev, &seq, NULL), 0);
	assert_int_equal(seq, 6);
	audit_close(other);
	assert_int_equal(audit_append_nosync(log, &ev, &seq, NULL), 0);
	assert_int_equal(seq, 7);
	assert_int_equal(audit_append(log, &ev, &seq, NULL), 0);
	assert_int_equal(seq, 8);
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 8);
	assert_int_equal(rep.head_seq, 8);
}

/* Garbage appended after the last durable line is cut on open. */
static void
test_audit_open_cuts_garbage_after_head(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_report rep;
	int fd;

	write_events(f, 3);
	fd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"seq\":4}\n\0\0\0\n", 14), 14);
	close(fd);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_MALFORMED);
	assert_int_equal(rep.line, 4);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 4);
	assert_int_equal(rep.recovery_line, 4);
}

static void
test_audit_canary_value_only_as_fingerprint(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_event ev;
	struct al_secret *value = NULL, *other = NULL;
	char canary[41], fp[AUDIT_FP_HEX], fp2[AUDIT_FP_HEX], hex[81];
	char fp3[AUDIT_FP_HEX];
	unsigned char raw[20];
	size_t n;
	char *buf;

	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), canary);
	al_hex(canary, 40, hex);
	assert_int_equal(al_secret_from(canary, 40, &value), 0);
	assert_int_equal(audit_value_fingerprint(f->key, value, fp), 0);
	assert_int_equal(strlen(fp), 64);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_fingerprint(log, value, fp2), 0);
	assert_string_equal(fp, fp2);
	memset(&ev, 0, sizeof(ev));
	ev.event = "exposed";
	ev.secret = "deploy-token";
	ev.value_fp = fp;
	assert_int_equal(audit_append(log, &ev, NULL, NULL), 0);
	audit_close(log);
	buf = slurp(f->path, &n);
	assert_null(memmem(buf, n, canary, 40));
	assert_null(memmem(buf, n, hex, 80));
	assert_non_null(strstr(buf, fp));
	free(buf);
	buf = slurp(f->hpath, &n);
	assert_null(memmem(buf, n, canary, 40));
	free(buf);
	/* Another key gives another fingerprint: no global dictionary. */
	assert_int_equal(al_secret_new(AUDIT_KEY_LEN, &other), 0);
	randombytes_buf(al_secret_open(other), AUDIT_KEY_LEN);
	al_secret_set_len(other, AUDIT_KEY_LEN);
	al_secret_close(other);
	assert_int_equal(audit_value_fingerprint(other, value, fp3), 0);
	assert_string_not_equal(fp, fp3);
	al_secret_free(other);
	al_secret_free(value);
}

static void
test_audit_wrong_key_is_refused(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_report rep;
	struct al_secret *other = NULL;
	struct al_err err;

	write_events(f, 2);
	assert_int_equal(al_secret_new(AUDIT_KEY_LEN, &other), 0);
	randombytes_buf(al_secret_open(other), AUDIT_KEY_LEN);
	al_secret_set_len(other, AUDIT_KEY_LEN);
	al_secret_close(other);
	assert_int_equal(audit_verify(f->path, other, &rep, &err), 0);
	assert_int_equal(rep.problem, AUDIT_CHANGED);
	assert_int_equal(rep.line, 1);
	assert_non_null(strstr(rep.message, "the audit key does not belong to "
	    "this log"));
	assert_int_equal(audit_open(f->path, other, &f->clock, &log, &err),
	    AL_ECORRUPT);
	assert_non_null(strstr(err.msg, "does not verify under the audit key"));
	al_secret_free(other);
}

static void
test_audit_missing_head_or_log_is_refused(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_report rep;
	struct al_err err;

	write_events(f, 2);
	assert_int_equal(unlink(f->hpath), 0);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_HEAD_BAD);
	assert_int_equal(rep.line, 0);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, &err),
	    AL_ECORRUPT);
	assert_non_null(strstr(err.msg, "is missing or empty"));
	/* The other way round: a head whose log was deleted. */
	assert_int_equal(unlink(f->path), 0);
	write_events(f, 2);
	assert_int_equal(unlink(f->path), 0);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_TRUNCATED);
	assert_int_equal(rep.line, 1);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, &err),
	    AL_ECORRUPT);
	assert_non_null(strstr(err.msg, "is missing but its head records 2 "
	    "lines"));
}

static void
test_audit_refuses_symlink_and_open_modes(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct al_err err;

	assert_int_equal(symlink("/etc/passwd", f->path), 0);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, &err),
	    AL_EPERM);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(unlink(f->path), 0);
	write_events(f, 1);
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, &err),
	    AL_EPERM);
	assert_null(log);
}

static void
test_audit_escapes_control_chars_and_cuts_long_text(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_event ev;
	struct audit_entry e;
	struct audit_report rep;
	char longtext[3000];
	json_t *o;
	size_t n;
	char *buf;

	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	longtext[AUDIT_TEXT_MAX - 1] = '\xc3';	/* é across the cut */
	longtext[AUDIT_TEXT_MAX] = '\xa9';
	memset(&ev, 0, sizeof(ev));
	ev.event = "request";
	ev.intent = "x\n{\"seq\":99}\x1b[31m";
	ev.task = "bad\xff utf8";
	ev.reason = longtext;
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_append(log, &ev, NULL, NULL), 0);
	audit_close(log);
	buf = slurp(f->path, &n);
	assert_non_null(memchr(buf, '\n', n));
	assert_ptr_equal(memchr(buf, '\n', n), buf + n - 1);
	assert_null(memchr(buf, 0x1b, n));
	assert_int_equal(audit_parse_line(buf, n - 1, &o, &e, NULL), 0);
	assert_string_equal(e.intent, "x\n{\"seq\":99}\x1b[31m");
	assert_string_equal(e.task, "bad\\xff utf8");
	assert_int_equal(strlen(e.reason), AUDIT_TEXT_MAX - 1 + 3);
	assert_string_equal(e.reason + AUDIT_TEXT_MAX - 1, "...");
	json_decref(o);
	free(buf);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
}

static void
test_audit_rejects_bad_events(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_event ev = { .event = "Grant" };
	struct al_err err;
	json_t *arr = json_array();

	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	assert_int_equal(audit_append(log, &ev, NULL, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "bad audit event name"));
	ev.event = "grant";
	ev.detail = arr;
	assert_int_equal(audit_append(log, &ev, NULL, &err), AL_EINVAL);
	assert_int_equal(audit_last_seq(log), 0);
	audit_close(log);
	json_decref(arr);
}

struct reader {
	int	count;
	char	seen[256];
};

static int
collect(void *arg, const struct audit_entry *e)
{
	struct reader *r = arg;
	size_t n = strlen(r->seen);

	snprintf(r->seen + n, sizeof(r->seen) - n, "%s%llu", n ? "," : "",
	    (unsigned long long)e->seq);
	r->count++;
	return 0;
}

static void
test_audit_read_filters(void **state)
{
	struct fixture *f = *state;
	struct audit_filter flt;
	struct audit_read_stats st;
	struct reader r;

	write_events(f, 6);
	memset(&flt, 0, sizeof(flt));
	memset(&r, 0, sizeof(r));
	assert_int_equal(audit_read(f->path, NULL, collect, &r, &st, NULL), 0);
	assert_string_equal(r.seen, "1,2,3,4,5,6");
	assert_int_equal(st.lines, 6);
	memset(&r, 0, sizeof(r));
	flt.events = "deny";
	assert_int_equal(audit_read(f->path, &flt, collect, &r, &st, NULL), 0);
	assert_string_equal(r.seen, "3,6");
	memset(&r, 0, sizeof(r));
	flt.events = "grant,deny";
	flt.secret = "s-1";
	assert_int_equal(audit_read(f->path, &flt, collect, &r, &st, NULL), 0);
	assert_string_equal(r.seen, "1,3,5");
	memset(&r, 0, sizeof(r));
	flt.secret = NULL;
	flt.events = NULL;
	flt.task = "T-4";
	assert_int_equal(audit_read(f->path, &flt, collect, &r, &st, NULL), 0);
	assert_string_equal(r.seen, "4");
	memset(&r, 0, sizeof(r));
	flt.task = NULL;
	flt.since_ms = 1801396800123LL + 4;	/* one ms per line */
	assert_int_equal(audit_read(f->path, &flt, collect, &r, &st, NULL), 0);
	assert_string_equal(r.seen, "5,6");
	assert_int_equal(st.matched, 2);
}

struct worker {
	struct audit_log	*log;
	int			 n;
	int			 rc;
};

static void *
appender(void *arg)
{
	struct worker *w = arg;
	struct audit_event ev = { .event = "grant", .secret = "s" };
	int i;

	for (i = 0; i < w->n && w->rc == 0; i++)
		w->rc = audit_append(w->log, &ev, NULL, NULL);
	return NULL;
}

/* Concurrent durable appends share syncs and keep one unbroken chain. */
static void
test_audit_concurrent_appends_keep_the_chain(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL, *other = NULL;
	struct worker w[4];
	pthread_t t[4];
	struct audit_report rep;
	struct audit_event ev = { .event = "revoke" };
	uint64_t durable;
	int i;

	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	/* A second handle stands for a second process (its own flock). */
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &other, NULL),
	    0);
	for (i = 0; i < 4; i++) {
		w[i].log = i % 2 ? other : log;
		w[i].n = 25;
		w[i].rc = 0;
		assert_int_equal(pthread_create(&t[i], NULL, appender, &w[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(audit_append_nosync(log, &ev, NULL, NULL), 0);
	assert_int_equal(audit_sync(log, &durable, NULL), 0);
	assert_int_equal(durable, 101);
	audit_close(other);
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 101);
	assert_int_equal(rep.head_seq, 101);
}

static void
test_audit_time_round_trips(void **state)
{
	char t[AUDIT_TIME_LEN];
	int64_t ms;

	(void)state;
	audit_format_time(1801396800123LL, t);
	assert_string_equal(t, "2027-01-31T12:00:00.123Z");
	assert_int_equal(audit_parse_time(t, &ms), 0);
	assert_int_equal(ms, 1801396800123LL);
	assert_int_equal(audit_parse_time("2027-01-31T12:00:00Z", &ms),
	    AL_EINVAL);
	assert_int_equal(audit_parse_time("2027-13-31T12:00:00.000Z", &ms),
	    AL_EINVAL);
}

/* Read a whole file into a new NUL-terminated buffer. */
static char *
slurp_file(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long len;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	rewind(fp);
	assert_non_null(buf = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	(void)fclose(fp);
	*n = (size_t)len;
	return buf;
}

/*
 * Another file at the log's path (sed -i, an editor, rotation) is refused
 * at the next append with how to recover; audit_reopen takes the file at
 * the path once it is the log again (same lines), and refuses an empty one
 * under a head that records lines.
 */
static void
test_audit_replaced_log_is_refused_until_reopened(void **state)
{
	struct fixture *f = *state;
	struct audit_log *log = NULL;
	struct audit_event ev;
	struct audit_report rep;
	struct al_err err;
	char moved[PATH_MAX + 8], *buf;
	size_t n;

	write_events(f, 3);
	assert_int_equal(audit_open(f->path, f->key, &f->clock, &log, NULL), 0);
	memset(&ev, 0, sizeof(ev));
	ev.event = "grant";
	ev.outcome = "ok";
	/* sed -i: the same bytes in a new file. */
	buf = slurp_file(f->path, &n);
	assert_int_equal(unlink(f->path), 0);
	spew(f->path, buf, n);
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(audit_append(log, &ev, NULL, &err), AL_ECORRUPT);
	assert_non_null(strstr(err.msg, "was replaced while in use"));
	assert_non_null(strstr(err.msg, "put the original file back"));
	/* Refused until reopened, even though the file looks fine. */
	assert_int_equal(audit_append(log, &ev, NULL, &err), AL_EIO);
	assert_int_equal(audit_reopen(log, &err), 0);
	assert_int_equal(audit_append(log, &ev, NULL, &err), 0);
	assert_int_equal(audit_last_seq(log), 4);
	/* Rotation: moved away, an empty file in its place. */
	snprintf(moved, sizeof(moved), "%s.1", f->path);
	assert_int_equal(rename(f->path, moved), 0);
	spew(f->path, "", 0);
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(audit_append(log, &ev, NULL, &err), AL_ECORRUPT);
	assert_int_equal(audit_reopen(log, &err), AL_ECORRUPT);
	assert_non_null(strstr(err.msg, "empty but its head records 4 lines"));
	assert_int_equal(audit_append(log, &ev, NULL, &err), AL_EIO);
	/* The original back: appends go on where the chain ended. */
	assert_int_equal(rename(moved, f->path), 0);
	assert_int_equal(audit_reopen(log, &err), 0);
	assert_int_equal(audit_append(log, &ev, NULL, &err), 0);
	assert_int_equal(audit_last_seq(log), 5);
	audit_close(log);
	verify(f, &rep);
	assert_int_equal(rep.problem, AUDIT_INTACT);
	assert_int_equal(rep.lines, 5);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_audit_append_reopen_verify_intact),
		T(test_audit_lines_of_growing_and_shrinking_size_verify),
		T(test_audit_line_format_is_compact_json_with_mac_last),
		T(test_audit_verify_names_changed_line),
		T(test_audit_verify_names_malformed_line),
		T(test_audit_verify_names_removed_line),
		T(test_audit_verify_names_reordered_lines),
		T(test_audit_verify_and_open_detect_truncated_tail),
		T(test_audit_torn_last_line_is_named_then_repaired),
		T(test_audit_line_missing_only_newline_is_kept),
		T(test_audit_nosync_batch_holds_the_lock_until_flush),
		T(test_audit_open_cuts_garbage_after_head),
		T(test_audit_canary_value_only_as_fingerprint),
		T(test_audit_wrong_key_is_refused),
		T(test_audit_missing_head_or_log_is_refused),
		T(test_audit_refuses_symlink_and_open_modes),
		T(test_audit_escapes_control_chars_and_cuts_long_text),
		T(test_audit_rejects_bad_events),
		T(test_audit_read_filters),
		T(test_audit_concurrent_appends_keep_the_chain),
		T(test_audit_time_round_trips),
		T(test_audit_replaced_log_is_refused_until_reopened),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

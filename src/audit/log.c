/*
 * Writing the audit log: open (with tail repair), append, group commit.
 *
 * Locking: the mutex orders threads of this process; an exclusive flock on
 * the log orders appends of different processes (each first catches up with
 * lines others wrote); a flock on the head orders head updates.  The log
 * lock is never taken while the head lock is held, except in audit_open,
 * which takes the log lock first.
 *
 * Lines appended without sync (audit_append_nosync) are written at once
 * but the flock is kept from the first of them until the next flush or
 * sync: a busy broker pays for the lock and the catch-up once per batch
 * instead of once per line.
 *
 * The derived keys live in guarded memory (locked, guard pages, wiped on
 * close).  Unlike a secret value they stay readable while the log is open:
 * they are used on every append, and switching page protection twice per
 * line costs a TLB shootdown on every CPU the process ran on, which would
 * cap a busy broker at a few thousand lines per second.
 */
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

#include <sodium.h>

#include "audit_int.h"

#define CUT_CHUNK	(64 * 1024)

struct audit_log {
	int			 fd;
	int			 hfd;
	char			*path;
	struct al_secret	*keys;
	const struct audit_keys	*k;		/* keys, open while the log is */
	const struct al_clock	*clock;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	uint64_t		 seq;		/* last line known */
	uint64_t		 last_off;	/* offset of that line */
	uint64_t		 end;		/* offset just past it */
	unsigned char		 mac[AUDIT_MAC_LEN];
	uint64_t		 synced;	/* durable up to this seq */
	int			 syncing;	/* a thread is in fdatasync */
	int			 failed;	/* a write or sync failed */
	int			 sync_ok;	/* mu and cv initialised */
	struct al_buf		 line;
	int			 batch;		/* flock kept until a flush */
	dev_t			 dev;		/* the file we opened: another */
	ino_t			 ino;		/* at its path means replaced */
};

static void end_batch(struct audit_log *log);

static int
lock_fd(int fd, int op)
{
	while (flock(fd, op) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
write_all(int fd, const void *vp, size_t n)
{
	const unsigned char *p = vp;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Open (or create, 0600) a private regular file. */
static int
open_private(const char *path, int flags, int *out, int *created,
    struct al_err *err)
{
	struct stat st;
	int fd, tries;

	*out = -1;
	*created = 0;
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		fd = open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd >= 0) {
			*created = 1;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (fd < 0) {
		if (errno == ELOOP)
			return al_err_set(err, AL_EPERM, "%s is a symbolic "
			    "link: refusing to use it", path);
		return al_err_set(err, AL_ESYS, "cannot open %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		(void)close(fd);
		return al_err_set(err, AL_EPERM, "%s is not a private regular "
		    "file of yours (want owner uid %u, mode 0600): refusing to "
		    "use it", path, (unsigned)geteuid());
	}
	*out = fd;
	return 0;
}

/*
 * Build ev as the next line and write it.  The caller holds the mutex and
 * the log's flock and has caught up with the file.
 */
static int
write_event(struct audit_log *log, const struct audit_event *ev,
    uint64_t *seq, struct al_err *err)
{
	unsigned char mac[AUDIT_MAC_LEN];
	int rc;

	rc = audit_line_build(&log->line, ev, log->seq + 1,
	    log->clock->now_ms(log->clock->arg), log->k->chain,
	    log->mac, mac, err);
	if (rc != 0)
		return rc;
	if (write_all(log->fd, log->line.data, log->line.len) != 0) {
		rc = al_err_set(err, AL_EIO, "cannot write the audit log %s: "
		    "%s", log->path, strerror(errno));
		/* Take back a partial line; if even that fails, stop. */
		if (ftruncate(log->fd, (off_t)log->end) != 0)
			log->failed = 1;
		return rc;
	}
	log->seq++;
	log->last_off = log->end;
	log->end += log->line.len;
	memcpy(log->mac, mac, sizeof(mac));
	if (seq != NULL)
		*seq = log->seq;
	return 0;
}

/*
 * Cut the log at off: save the bytes to <path>.cut.<seq> first, then
 * truncate and record a "recover" event naming them.
 */
static int
cut_tail(struct audit_log *log, uint64_t off, struct al_err *err)
{
	char cutpath[PATH_MAX], fp[AUDIT_FP_HEX];
	unsigned char *buf = NULL, mac[32];
	crypto_auth_hmacsha256_state st;
	struct audit_event ev;
	struct stat sb;
	const char *base;
	json_t *detail = NULL;
	uint64_t pos, size;
	ssize_t r;
	int cfd = -1, rc;

	if (fstat(log->fd, &sb) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot stat %s: %s", log->path,
		    strerror(errno));
		goto out;
	}
	size = (uint64_t)sb.st_size;
	if (snprintf(cutpath, sizeof(cutpath), "%s.cut.%llu", log->path,
	    (unsigned long long)(log->seq + 1)) >= (int)sizeof(cutpath)) {
		rc = al_err_set(err, AL_ETOOBIG, "audit log path too long");
		goto out;
	}
	if ((buf = malloc(CUT_CHUNK)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	cfd = open(cutpath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (cfd < 0) {
		rc = al_err_set(err, AL_ESYS, "cannot save the damaged tail of "
		    "the audit log to %s: %s", cutpath, strerror(errno));
		goto out;
	}
	(void)crypto_auth_hmacsha256_init(&st, log->k->fp, 32);
	for (pos = off; pos < size; pos += (uint64_t)r) {
		r = pread(log->fd, buf, CUT_CHUNK, (off_t)pos);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0 || write_all(cfd, buf, (size_t)r) != 0) {
			rc = al_err_set(err, AL_EIO, "cannot save the damaged "
			    "tail of the audit log to %s", cutpath);
			goto out;
		}
		(void)crypto_auth_hmacsha256_update(&st, buf, (size_t)r);
	}
	(void)crypto_auth_hmacsha256_final(&st, mac);
	al_hex(mac, sizeof(mac), fp);
	if (fsync(cfd) != 0 || al_fs_sync_dir_of(cutpath) != 0) {
		rc = al_err_set(err, AL_EIO, "cannot sync %s", cutpath);
		goto out;
	}
	if (ftruncate(log->fd, (off_t)off) != 0 || fdatasync(log->fd) != 0) {
		rc = al_err_set(err, AL_EIO, "cannot cut the damaged tail of "
		    "%s: %s", log->path, strerror(errno));
		goto out;
	}
	base = strrchr(cutpath, '/');
	base = base ? base + 1 : cutpath;
	detail = json_pack("{s:I, s:I, s:s, s:s}", "cut_offset",
	    (json_int_t)off, "cut_bytes", (json_int_t)(size - off), "cut_fp",
	    fp, "saved_to", base);
	if (detail == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.event = "recover";
	ev.outcome = "ok";
	ev.reason = "bytes at the end of the log did not extend the chain "
	    "(a line torn by a crash, or unsynced lines lost): cut and saved";
	ev.detail = detail;
	if ((rc = write_event(log, &ev, NULL, err)) != 0)
		goto out;
	if (fdatasync(log->fd) != 0) {
		log->failed = 1;
		rc = al_err_set(err, AL_EIO, "cannot sync %s: %s", log->path,
		    strerror(errno));
	}
out:
	sodium_memzero(&st, sizeof(st));
	json_decref(detail);
	if (cfd >= 0)
		(void)close(cfd);
	free(buf);
	return rc;
}

/*
 * Extend our view of the chain with the lines after log->end; cut from the
 * first one that does not extend it.  Holding the log's flock.
 */
static int
walk(struct audit_log *log, struct al_err *err)
{
	struct audit_lines r;
	struct audit_linev v;
	struct audit_line_info li;
	unsigned char mac[AUDIT_MAC_LEN];
	uint64_t bad = UINT64_MAX;
	size_t pos;
	int rc;

	audit_lines_init_fd(&r, log->fd, log->end);
	while ((rc = audit_lines_next(&r, &v, err)) == 1) {
		if (v.toolong || audit_line_check(v.p, v.n, &li, NULL, &pos) !=
		    AUDIT_INTACT || li.seq != log->seq + 1) {
			bad = v.off;
			break;
		}
		audit_line_mac(log->k->chain, log->mac, v.p, v.n, mac);
		if (sodium_memcmp(mac, li.mac, sizeof(mac)) != 0) {
			bad = v.off;
			break;
		}
		/* A whole line that lacks only its newline is kept. */
		if (!v.complete && write_all(log->fd, "\n", 1) != 0) {
			rc = al_err_set(err, AL_EIO, "cannot write %s: %s",
			    log->path, strerror(errno));
			break;
		}
		log->seq = li.seq;
		log->last_off = v.off;
		log->end = v.off + v.n + 1;
		memcpy(log->mac, mac, sizeof(mac));
	}
	audit_lines_release(&r);
	if (rc < 0)
		return rc;
	if (bad != UINT64_MAX)
		return cut_tail(log, bad, err);
	return 0;
}

/* Catch up with lines other processes appended.  Holding the flock. */
static int
catch_up(struct audit_log *log, struct al_err *err)
{
	struct stat st, at;
	int gone;

	/*
	 * An editor, `sed -i` or log rotation puts another file at the path:
	 * lines written to ours would be lost with it, and its own content is
	 * not known to extend the chain.
	 */
	gone = stat(log->path, &at) != 0;
	if (gone || at.st_dev != log->dev || at.st_ino != log->ino) {
		log->failed = 1;
		return al_err_set(err, AL_ECORRUPT, "the audit log %s was "
		    "%s while in use (an editor, `sed -i`, log rotation?): "
		    "put the original file back (it is read again by itself), "
		    "or stop the broker and move the log and its .head aside "
		    "to start a new one", log->path, gone ? "removed" :
		    "replaced");
	}
	if (fstat(log->fd, &st) != 0)
		return al_err_set(err, AL_ESYS, "cannot stat %s: %s",
		    log->path, strerror(errno));
	if ((uint64_t)st.st_size == log->end)
		return 0;
	if ((uint64_t)st.st_size < log->end) {
		log->failed = 1;
		return al_err_set(err, AL_ECORRUPT, "the audit log %s shrank "
		    "from %llu to %llu bytes while in use: someone truncated "
		    "it; run `airlock audit verify`", log->path,
		    (unsigned long long)log->end,
		    (unsigned long long)st.st_size);
	}
	return walk(log, err);
}

/* The head is missing or does not verify: say which, and what to do. */
static int
head_refused(struct audit_log *log, const char *hpath, size_t headn,
    uint64_t logsize, struct al_err *err)
{
	if (headn == 0)
		return al_err_set(err, AL_ECORRUPT, "the audit head %s is "
		    "missing or empty while %s holds %llu bytes: lines at the "
		    "end of the log cannot be checked; run `airlock audit "
		    "verify`, and if the log must be kept, move both files "
		    "aside to start a new one", hpath, log->path,
		    (unsigned long long)logsize);
	return al_err_set(err, AL_ECORRUPT, "the audit head %s does not "
	    "verify under the audit key (damaged, or the key of another "
	    "vault); run `airlock audit verify`", hpath);
}

/* Write the first head record (seq 0) and make the new files durable. */
static int
head_init(struct audit_log *log, const char *hpath, struct al_err *err)
{
	struct audit_head h;
	char slot[HEAD_SLOT_LEN];
	int rc;

	memset(&h, 0, sizeof(h));
	audit_head_format(slot, &h, log->k->head);
	rc = audit_head_store(log->hfd, slot, 0, log->k->head, err);
	if (rc == 0 && (fsync(log->hfd) != 0 || al_fs_sync_dir_of(hpath) != 0))
		rc = al_err_set(err, AL_EIO, "cannot write %s: %s", hpath,
		    strerror(errno));
	return rc;
}

/* Check the line the head names; set our view of the chain to it. */
static int
start_at_head(struct audit_log *log, const struct audit_head *h,
    struct al_err *err)
{
	struct audit_lines r;
	struct audit_linev v;
	struct audit_line_info li;
	size_t pos;
	int rc;

	log->seq = 0;
	log->end = 0;
	log->last_off = 0;
	memset(log->mac, 0, sizeof(log->mac));
	if (h->seq == 0)
		return 0;
	audit_lines_init_fd(&r, log->fd, h->off);
	rc = audit_lines_next(&r, &v, err);
	if (rc == 1 && (!v.complete || v.toolong || audit_line_check(v.p, v.n,
	    &li, NULL, &pos) != AUDIT_INTACT || li.seq != h->seq ||
	    sodium_memcmp(li.mac, h->mac, AUDIT_MAC_LEN) != 0))
		rc = 0;
	if (rc == 1) {
		log->seq = h->seq;
		log->last_off = h->off;
		log->end = h->off + v.n + 1;
		memcpy(log->mac, h->mac, AUDIT_MAC_LEN);
		rc = 0;
	} else if (rc == 0) {
		log->failed = 1;
		rc = al_err_set(err, AL_ECORRUPT, "line %llu of the audit log, "
		    "which its head records at byte %llu, is missing or "
		    "different: the log was truncated or rewritten; run "
		    "`airlock audit verify`", (unsigned long long)h->seq,
		    (unsigned long long)h->off);
	}
	audit_lines_release(&r);
	return rc;
}

/* Record in the head that everything up to snap is durable. */
static int
head_advance(struct audit_log *log, const char slot[HEAD_SLOT_LEN],
    uint64_t seq, const unsigned char *head_key, struct al_err *err)
{
	int rc;

	if (lock_fd(log->hfd, LOCK_EX) != 0)
		return al_err_set(err, AL_ESYS, "cannot lock the audit head: "
		    "%s", strerror(errno));
	rc = audit_head_store(log->hfd, slot, seq, head_key, err);
	(void)lock_fd(log->hfd, LOCK_UN);
	return rc;
}

/*
 * Open the files at log->path (log->fd and log->hfd are -1), check the tail
 * against the head, repair it, make it durable and record that in the head.
 * On error the descriptors opened are left for the caller to close.
 */
static int
attach(struct audit_log *log, struct al_err *err)
{
	struct audit_head h;
	unsigned char hbuf[HEAD_FILE_LEN];
	char hpath[PATH_MAX], slot[HEAD_SLOT_LEN];
	const char *path = log->path;
	struct stat st;
	size_t headn;
	int rc, lcreated, hcreated, locked = 0;

	if (snprintf(hpath, sizeof(hpath), "%s%s", path, AUDIT_HEAD_SUFFIX) >=
	    (int)sizeof(hpath))
		return al_err_set(err, AL_ETOOBIG, "audit log path too long");
	if ((rc = open_private(path, O_RDWR | O_APPEND, &log->fd, &lcreated,
	    err)) != 0 || (rc = open_private(hpath, O_RDWR, &log->hfd,
	    &hcreated, err)) != 0)
		goto out;
	if (lock_fd(log->fd, LOCK_EX) != 0 || lock_fd(log->hfd, LOCK_EX) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot lock %s: %s", path,
		    strerror(errno));
		goto out;
	}
	locked = 1;
	if (fstat(log->fd, &st) != 0 ||
	    (rc = audit_head_read(log->hfd, hbuf, &headn, err)) != 0) {
		rc = rc ? rc : al_err_set(err, AL_ESYS, "cannot stat %s: %s",
		    path, strerror(errno));
		goto out;
	}
	log->dev = st.st_dev;
	log->ino = st.st_ino;
	if (!audit_head_parse(hbuf, headn, log->k->head, &h)) {
		if (st.st_size != 0 || headn != 0) {
			rc = head_refused(log, hpath, headn,
			    (uint64_t)st.st_size, err);
			goto out;
		}
		if ((rc = head_init(log, hpath, err)) != 0)
			goto out;
		memset(&h, 0, sizeof(h));
	}
	if (h.seq > 0 && st.st_size == 0) {
		rc = al_err_set(err, AL_ECORRUPT, "the audit log %s is %s but "
		    "its head records %llu lines: the log was deleted or "
		    "emptied; run `airlock audit verify`", path, lcreated ?
		    "missing" : "empty", (unsigned long long)h.seq);
		goto out;
	}
	if ((rc = start_at_head(log, &h, err)) != 0 ||
	    (rc = walk(log, err)) != 0)
		goto out;
	/* What a crashed writer left in the page cache is durable from now. */
	if (fdatasync(log->fd) != 0 || (lcreated && al_fs_sync_dir_of(path) != 0)) {
		rc = al_err_set(err, AL_EIO, "cannot sync %s: %s", path,
		    strerror(errno));
		goto out;
	}
	log->synced = log->seq;
	h.seq = log->seq;
	h.off = log->last_off;
	memcpy(h.mac, log->mac, AUDIT_MAC_LEN);
	audit_head_format(slot, &h, log->k->head);
	rc = audit_head_store(log->hfd, slot, h.seq, log->k->head,
	    err);
out:
	if (locked) {
		(void)lock_fd(log->hfd, LOCK_UN);
		(void)lock_fd(log->fd, LOCK_UN);
	}
	return rc;
}

int
audit_open(const char *path, struct al_secret *key,
    const struct al_clock *clock, struct audit_log **out, struct al_err *err)
{
	struct audit_log *log = NULL;
	int rc;

	*out = NULL;
	if ((log = calloc(1, sizeof(*log))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	log->fd = log->hfd = -1;
	log->clock = clock;
	al_buf_init(&log->line, AUDIT_LINE_MAX + 1, 0);
	if (pthread_mutex_init(&log->mu, NULL) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot create a mutex");
		goto out;
	}
	if (pthread_cond_init(&log->cv, NULL) != 0) {
		pthread_mutex_destroy(&log->mu);
		rc = al_err_set(err, AL_ESYS, "cannot create a condition");
		goto out;
	}
	log->sync_ok = 1;
	if ((rc = audit_keys_derive(key, &log->keys, err)) != 0)
		goto out;
	log->k = (const struct audit_keys *)(const void *)al_secret_open(
	    log->keys);
	if ((log->path = strdup(path)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	rc = attach(log, err);
out:
	if (rc == 0)
		*out = log;
	else
		audit_close(log);
	return rc;
}

int
audit_reopen(struct audit_log *log, struct al_err *err)
{
	struct audit_log saved;
	int rc;

	(void)pthread_mutex_lock(&log->mu);
	while (log->syncing)
		(void)pthread_cond_wait(&log->cv, &log->mu);
	end_batch(log);
	saved = *log;
	log->fd = log->hfd = -1;
	log->failed = 0;
	if ((rc = attach(log, err)) == 0) {
		if (saved.fd >= 0)
			(void)close(saved.fd);
		if (saved.hfd >= 0)
			(void)close(saved.hfd);
	} else {
		/* Keep the old view: the log stays failed. */
		if (log->fd >= 0)
			(void)close(log->fd);
		if (log->hfd >= 0)
			(void)close(log->hfd);
		log->fd = saved.fd;
		log->hfd = saved.hfd;
		log->seq = saved.seq;
		log->last_off = saved.last_off;
		log->end = saved.end;
		memcpy(log->mac, saved.mac, sizeof(log->mac));
		log->synced = saved.synced;
		log->dev = saved.dev;
		log->ino = saved.ino;
		log->failed = 1;
	}
	(void)pthread_cond_broadcast(&log->cv);
	(void)pthread_mutex_unlock(&log->mu);
	return rc;
}

/* End a batch: let other processes append again. */
static void
end_batch(struct audit_log *log)
{
	if (!log->batch)
		return;
	log->batch = 0;
	(void)lock_fd(log->fd, LOCK_UN);
}

void
audit_close(struct audit_log *log)
{
	if (log == NULL)
		return;
	if (log->fd >= 0)
		(void)close(log->fd);
	if (log->hfd >= 0)
		(void)close(log->hfd);
	al_secret_free(log->keys);
	al_buf_release(&log->line);
	free(log->path);
	if (log->sync_ok) {
		(void)pthread_cond_destroy(&log->cv);
		(void)pthread_mutex_destroy(&log->mu);
	}
	free(log);
}

/*
 * Append under the mutex: flock and catch up (unless a batch holds the lock
 * already), write, then unlock, or with batch keep the lock for the next
 * line until end_batch.
 */
static int
append_locked(struct audit_log *log, const struct audit_event *ev,
    int batch, uint64_t *seq, struct al_err *err)
{
	int rc;

	if (log->failed)
		return al_err_set(err, AL_EIO, "the audit log %s failed earlier "
		    "(a write or sync error); nothing more is recorded until it "
		    "is reopened", log->path);
	if (!log->batch) {
		if (lock_fd(log->fd, LOCK_EX) != 0)
			return al_err_set(err, AL_ESYS, "cannot lock %s: %s",
			    log->path, strerror(errno));
		if ((rc = catch_up(log, err)) != 0) {
			(void)lock_fd(log->fd, LOCK_UN);
			return rc;
		}
		log->batch = 1;
	}
	rc = write_event(log, ev, seq, err);
	if (!batch)
		end_batch(log);
	return rc;
}

/*
 * Group commit: wait until line target is durable.  One thread at a time
 * runs fdatasync for everything written so far, while the others keep
 * appending and then wait for the next round.  Called with the mutex held.
 */
static int
sync_to(struct audit_log *log, uint64_t target, struct al_err *err)
{
	struct audit_head h;
	char slot[HEAD_SLOT_LEN];
	int rc, e;

	while (log->synced < target) {
		if (log->failed)
			return al_err_set(err, AL_EIO, "the audit log %s could "
			    "not be synced to disk; nothing more is recorded "
			    "until it is reopened", log->path);
		if (log->syncing) {
			(void)pthread_cond_wait(&log->cv, &log->mu);
			continue;
		}
		log->syncing = 1;
		h.seq = log->seq;
		h.off = log->last_off;
		memcpy(h.mac, log->mac, AUDIT_MAC_LEN);
		(void)pthread_mutex_unlock(&log->mu);
		e = fdatasync(log->fd) != 0 ? errno : 0;
		(void)pthread_mutex_lock(&log->mu);
		/* The head write is a short pwrite: done under the mutex. */
		rc = 0;
		if (e == 0) {
			audit_head_format(slot, &h, log->k->head);
			rc = head_advance(log, slot, h.seq,
			    log->k->head, err);
		}
		log->syncing = 0;
		if (e != 0 || rc != 0)
			log->failed = 1;
		else if (h.seq > log->synced)
			log->synced = h.seq;
		(void)pthread_cond_broadcast(&log->cv);
		if (e != 0)
			return al_err_set(err, AL_EIO, "cannot sync the audit "
			    "log %s: %s", log->path, strerror(e));
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
audit_append(struct audit_log *log, const struct audit_event *ev,
    uint64_t *seq, struct al_err *err)
{
	uint64_t mine = 0;
	int rc;

	if (seq != NULL)
		*seq = 0;
	(void)pthread_mutex_lock(&log->mu);
	if ((rc = append_locked(log, ev, 0, &mine, err)) == 0)
		rc = sync_to(log, mine, err);
	(void)pthread_mutex_unlock(&log->mu);
	if (rc == 0 && seq != NULL)
		*seq = mine;
	return rc;
}

int
audit_append_nosync(struct audit_log *log, const struct audit_event *ev,
    uint64_t *seq, struct al_err *err)
{
	int rc;

	if (seq != NULL)
		*seq = 0;
	(void)pthread_mutex_lock(&log->mu);
	rc = append_locked(log, ev, 1, seq, err);
	(void)pthread_mutex_unlock(&log->mu);
	return rc;
}

int
audit_sync(struct audit_log *log, uint64_t *durable, struct al_err *err)
{
	int rc;

	if (durable != NULL)
		*durable = 0;
	(void)pthread_mutex_lock(&log->mu);
	rc = sync_to(log, log->seq, err);
	if (rc == 0 && durable != NULL)
		*durable = log->synced;
	(void)pthread_mutex_unlock(&log->mu);
	return rc;
}

void
audit_flush(struct audit_log *log)
{
	(void)pthread_mutex_lock(&log->mu);
	end_batch(log);
	(void)pthread_mutex_unlock(&log->mu);
}

uint64_t
audit_last_seq(struct audit_log *log)
{
	uint64_t seq;

	(void)pthread_mutex_lock(&log->mu);
	seq = log->seq;
	(void)pthread_mutex_unlock(&log->mu);
	return seq;
}

int
audit_fingerprint(struct audit_log *log, struct al_secret *value,
    char out[AUDIT_FP_HEX])
{
	(void)pthread_mutex_lock(&log->mu);
	audit_fp_bytes(log->k->fp, al_secret_open(value),
	    al_secret_len(value), out);
	al_secret_close(value);
	(void)pthread_mutex_unlock(&log->mu);
	return 0;
}

/*
 * airlock base: buffers, guarded secret memory, parsing of numbers, durations
 * and times, file helpers that refuse unsafe permissions, process hardening,
 * and messages that cannot print control characters.
 *
 * Nothing here keeps global state.
 */
#ifndef AIRLOCK_BASE_H
#define AIRLOCK_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "airlock/error.h"

/* ---- growable buffer --------------------------------------------------- */

#define AL_BUF_SENSITIVE 0x1	/* guarded memory, wiped on growth and release */

/*
 * A byte buffer with a mandatory maximum size.  data is always NUL terminated
 * (one byte past len) once anything has been appended, so text can be used
 * as a C string.  A zeroed struct is not valid: call al_buf_init.
 */
struct al_buf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
	int		 flags;
};

/* Borrowed bytes. */
struct al_view {
	const unsigned char	*p;
	size_t			 len;
};

void	al_buf_init(struct al_buf *b, size_t max, int flags);
/* Free the storage (wiping it first if sensitive); b may be reused after init. */
void	al_buf_release(struct al_buf *b);
/* len = 0, wiping the old contents if sensitive; keeps the storage. */
void	al_buf_reset(struct al_buf *b);
/* Ensure room for n more bytes (plus the NUL). AL_ETOOBIG past max. */
int	al_buf_reserve(struct al_buf *b, size_t n) AL_WUR;
int	al_buf_append(struct al_buf *b, const void *p, size_t n) AL_WUR;
int	al_buf_puts(struct al_buf *b, const char *s) AL_WUR;
int	al_buf_putc(struct al_buf *b, int c) AL_WUR;
int	al_buf_printf(struct al_buf *b, const char *fmt, ...) AL_PRINTF(2, 3)
	    AL_WUR;
int	al_buf_vprintf(struct al_buf *b, const char *fmt, va_list ap) AL_WUR;
/*
 * Append everything fd holds until end of file, at most max bytes in all
 * (and within b's own maximum).  path names the source in errors: AL_EIO
 * "cannot read PATH: ...", AL_ETOOBIG "PATH is larger than MAX bytes".
 * Not for secret values (see al_secret_read_fd).
 */
int	al_buf_read_fd(struct al_buf *b, int fd, size_t max, const char *path,
	    struct al_err *err) AL_WUR;
/* The contents as a C string ("" when empty). */
const char *al_buf_str(const struct al_buf *b);
/*
 * Append s with control characters, backslashes and non-UTF-8 bytes escaped
 * (\n, \t, \xNN), so text from outside cannot forge lines in a log or a
 * terminal.
 */
int	al_buf_append_escaped(struct al_buf *b, const void *p, size_t n) AL_WUR;
/*
 * Append path percent-encoded as a URI path: unreserved bytes and '/'
 * kept, every other byte as %XX.
 */
int	al_buf_put_uri_path(struct al_buf *b, const char *path) AL_WUR;

/* ---- guarded secret memory -------------------------------------------- */

/*
 * A secret value in libsodium guarded memory (mlocked, guard pages, canary).
 * It is inaccessible (PROT_NONE) except between al_secret_open and
 * al_secret_close.  Freed memory is wiped by sodium_free.
 */
struct al_secret;

/* Allocate a secret of capacity cap bytes, length 0, left open. */
int	al_secret_new(size_t cap, struct al_secret **out) AL_WUR;
void	al_secret_free(struct al_secret *s);
/* Make the bytes readable and writable; returns them. */
unsigned char *al_secret_open(struct al_secret *s);
/* Make the bytes inaccessible again. */
void	al_secret_close(struct al_secret *s);
size_t	al_secret_len(const struct al_secret *s);
size_t	al_secret_cap(const struct al_secret *s);
/* Set the length (<= cap) after writing through al_secret_open. */
void	al_secret_set_len(struct al_secret *s, size_t len);
/* Copy n bytes into a new closed secret. */
int	al_secret_from(const void *p, size_t n, struct al_secret **out) AL_WUR;
/*
 * Read at most max bytes from fd into a new closed secret.  More than max
 * bytes is AL_ETOOBIG (the excess is drained so a pipe writer is not blocked).
 */
int	al_secret_read_fd(int fd, size_t max, struct al_secret **out,
	    struct al_err *err) AL_WUR;

/*
 * A pool of guarded blocks of one size, for short-lived values on a hot path.
 * A secret taken from it is in guarded memory like any other, but stays
 * readable until freed (open and close do nothing) and al_secret_free wipes
 * its block and keeps it (up to keep idle blocks) instead of unmapping it.
 * A request larger than the block gets an ordinary secret.  Threads may
 * share a pool (its own mutex guards it).  al_secret_pool_free may run while secrets are still
 * lent; the pool goes when the last one comes back.
 */
struct al_secret_pool;

int	al_secret_pool_new(size_t block, size_t keep,
	    struct al_secret_pool **out) AL_WUR;
void	al_secret_pool_free(struct al_secret_pool *pool);
/* A new open secret of capacity cap, length 0; pool may be NULL. */
int	al_secret_pool_take(struct al_secret_pool *pool, size_t cap,
	    struct al_secret **out) AL_WUR;

/* ---- parsing ----------------------------------------------------------- */

/* Parse a decimal integer in [min, max]; field names the input in errors. */
int	al_parse_int(const char *s, long long min, long long max,
	    const char *field, long long *out, struct al_err *err) AL_WUR;
/*
 * Parse a duration such as "90s", "15m", "2h", "7d", "1w", "1h30m" into
 * seconds, between 1 second and 100 years.  A bare number is seconds.
 */
int	al_parse_duration(const char *s, const char *field, int64_t *out,
	    struct al_err *err) AL_WUR;
/* The same in milliseconds, also accepting "250ms". */
int	al_parse_duration_ms(const char *s, const char *field, int64_t *out,
	    struct al_err *err) AL_WUR;
/*
 * Parse a point in time: an RFC 3339 / ISO 8601 UTC date or time
 * ("2027-01-31", "2027-01-31T12:00:00Z") or a duration from now.
 */
int	al_parse_time(const char *s, int64_t now, const char *field,
	    int64_t *out, struct al_err *err) AL_WUR;
/* Format t as "2027-01-31T12:00:00Z" into out (at least 21 bytes). */
void	al_format_time(int64_t t, char out[static 21]);
/* Format seconds as the shortest duration string ("1h30m"), out >= 32. */
void	al_format_duration(int64_t secs, char out[static 32]);
/*
 * Write code point cp (at most 0x10FFFF) as UTF-8 into out; returns how
 * many bytes, 1 to 4.
 */
size_t	al_utf8_put(uint32_t cp, unsigned char out[static 4]);

/* ---- clock ------------------------------------------------------------- */

/* An injectable clock: tests pass their own, everyone else al_clock_system. */
struct al_clock {
	int64_t	(*now)(void *arg);	/* seconds since the epoch */
	int64_t	(*now_ms)(void *arg);	/* milliseconds, monotonic not required */
	void	 *arg;
};

const struct al_clock *al_clock_system(void);
/* Milliseconds on the monotonic clock, for intervals and deadlines. */
int64_t	al_mono_ms(void);

/* ---- files ------------------------------------------------------------- */

/*
 * What stat(2) says of a file, to tell whether it changed since: another
 * inode, size, mtime or ctime.  present is 0 when it could not be stat'ed.
 */
struct al_file_stamp {
	int		present;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
};

void	al_file_stamp_take(const char *path, struct al_file_stamp *st);
int	al_file_stamp_same(const struct al_file_stamp *a,
	    const struct al_file_stamp *b);

/*
 * Check that path is owned by the effective user and that neither group nor
 * others can read or write it (as ssh does for keys).  want_dir selects a
 * directory or a regular file; symlinks are refused.  AL_ENOENT if missing,
 * AL_EPERM (message naming the path and mode) if unsafe.
 */
int	al_fs_check_private(const char *path, int want_dir,
	    struct al_err *err) AL_WUR;
/* Create directory path (and its parents) mode 0700 if missing, then check it. */
int	al_fs_mkdir_private(const char *path, struct al_err *err) AL_WUR;
/*
 * Create path with O_EXCL|O_NOFOLLOW, mode 0600, write n bytes, fsync the
 * file and its directory.  On failure nothing is left behind.
 */
int	al_fs_write_new(const char *path, const void *p, size_t n,
	    struct al_err *err) AL_WUR;
/*
 * fsync the directory that holds path, so a file created or renamed there
 * survives a crash.  0, or -1 with errno set.
 */
int	al_fs_sync_dir_of(const char *path);
/* Join dir and name into out (PATH_MAX); AL_ETOOBIG if too long. */
int	al_path_join(char *out, size_t outsz, const char *dir,
	    const char *name) AL_WUR;
/*
 * The state directory: $AIRLOCK_HOME, else $XDG_DATA_HOME/airlock, else
 * $HOME/.local/share/airlock.
 */
int	al_state_dir(char *out, size_t outsz, struct al_err *err) AL_WUR;

/* ---- processes --------------------------------------------------------- */

/*
 * Harden the calling process: no core dumps (RLIMIT_CORE 0), not dumpable
 * (no ptrace by same-uid processes, no /proc/PID/mem), umask 077, and every
 * descriptor above stderr closed.  Call first thing in main.
 */
int	al_process_harden(struct al_err *err) AL_WUR;

/*
 * n decimal digits (1 to 20, nothing else) at s into *out: 0, or -1 when
 * empty, not all digits or past UINT64_MAX.  For fields the kernel writes.
 */
int	al_parse_digits(const char *s, size_t n, uint64_t *out);

/* What /proc/PID/stat says of a process (the fields airlock reads). */
struct al_proc_stat {
	char		state;		/* field 3: R, S, Z... */
	pid_t		ppid;		/* field 4 */
	pid_t		pgrp;		/* field 5 */
	pid_t		session;	/* field 6: 0 outside our namespace */
	int		tty;		/* field 7: 0 no controlling terminal */
	uint64_t	start;		/* field 22: clock ticks after boot */
};
/*
 * Parse the text of a stat file (the command name may hold anything,
 * parentheses too): 0, or -EINVAL.
 */
int	al_proc_stat_parse(const char *text, struct al_proc_stat *st);
/*
 * Read and parse "stat" under dirfd, a descriptor of /proc/PID (reads
 * through it fail once that process is gone, whoever takes its pid), or
 * /proc/PID/stat: 0, or -errno.
 */
int	al_proc_stat_at(int dirfd, struct al_proc_stat *st);
/*
 * A small file under dirfd (a descriptor of /proc/PID) into buf, at most
 * cap - 1 bytes, NUL-terminated: 0, or -errno.
 */
int	al_proc_read_at(int dirfd, const char *name, char *buf, size_t cap);
int	al_proc_stat(pid_t pid, struct al_proc_stat *st);

/* ---- messages ---------------------------------------------------------- */

/*
 * Write "airlock: <prefix>: <message>\n" to stream with control characters
 * escaped.  The one way airlock writes diagnostics.
 */
void	al_msg(FILE *stream, const char *prefix, const char *fmt, ...)
	    AL_PRINTF(3, 4);
/* Whether colour may be used on fd: a TTY and NO_COLOR unset. */
int	al_use_color(int fd);

/* ---- encoding ---------------------------------------------------------- */

/* ---- libraries loaded at run time --------------------------------------- */

/*
 * Load file and look up n functions, names[i] into *slots[i] (function
 * pointers stored through void **, as POSIX allows).  On failure nothing
 * stays loaded, *handle and every slot are NULL and err is AL_ESYS
 * "<needs> (<file>): <why>", e.g. needs = "airlock serve needs
 * libmicrohttpd".
 */
int	al_dl_load(const char *file, const char *needs,
	    const char *const names[], void **const slots[], size_t n,
	    void **handle, struct al_err *err) AL_WUR;
/* A macro's expansion as a string (for versioned symbol names). */
#define AL_STR_(x)	#x
#define AL_STR(x)	AL_STR_(x)

/* ---- wake-ups ---------------------------------------------------------- */

/*
 * An eventfd between threads: post adds 1; take reads and so clears the
 * count (waiting for it when fd blocks).  0, or -1 with errno set (EAGAIN:
 * nothing posted on a non-blocking fd).  EINTR is retried.
 */
int	al_event_post(int fd);
int	al_event_take(int fd);

/*
 * Whole transfers on a socket, EINTR retried (send without SIGPIPE): 0, or
 * -1 when the peer is gone or the socket failed.
 */
int	al_send_all(int fd, const void *p, size_t n);
int	al_recv_full(int fd, void *p, size_t n);
/*
 * Send one byte carrying n (1..AL_SEND_FDS_MAX) descriptors on a Unix
 * socket (SCM_RIGHTS): 0, or -1.  Only system calls: safe between a clone
 * and an exec.
 */
#define AL_SEND_FDS_MAX	4
int	al_send_fds(int sock, const int *fds, size_t n);

/*
 * A frame: a type byte, a 4-byte big-endian payload length, the payload.
 * al_frame_send sends one whole (0 or -1); al_frame_len reads the length
 * from a received head.
 */
#define AL_FRAME_HEAD	5
int	al_frame_send(int fd, char type, const void *p, size_t n);
size_t	al_frame_len(const unsigned char head[AL_FRAME_HEAD]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void	al_hex(const void *p, size_t n, char *out);

#endif

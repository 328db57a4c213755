/*
 * airlock audit: an append-only, hash-chained log of JSON lines.
 *
 * Every grant, denial, approval, use, revocation, expiry and secret change
 * is one line of $AIRLOCK_HOME/audit.log (mode 0600):
 *
 *   {"time":"2027-01-31T12:00:00.123Z","seq":42,"event":"grant",
 *    "outcome":"ok","caller":{...},"secret":"deploy-token","lease":"…",
 *    "task":"T-1","intent":"deploy","reason":"rule 3","mac":"<64 hex>"}
 *
 * Members appear in that order and only when set; "detail" (an object the
 * caller supplies) comes before "mac", which is always last.  The mac of a
 * line is HMAC-SHA-256 over (the previous line's 32-byte mac, or 32 zero
 * bytes for seq 1) || (the line's bytes up to the mac member, closed with
 * "}").  The HMAC key is derived from the 32-byte audit key the caller
 * supplies (kept in the vault: vault_aux_key(v, "audit", ...)), so nobody
 * without that key can change, drop, reorder or add a line unnoticed.
 *
 * Secret values never appear.  Where a value must be identified, log
 * audit_value_fingerprint(): a keyed hash that cannot be reversed or
 * checked against a guess without the audit key.
 *
 * Next to the log, <log>.head keeps (seq, offset, mac) of the last line
 * known to be durable, tagged with a key derived from the audit key, so
 * cutting lines off the end of the log is detected.  See docs/audit.md for
 * what verification proves and what it cannot.
 *
 * Durability: audit_append returns only once its line is on disk
 * (fdatasync).  Concurrent callers share one fdatasync (group commit); an
 * event loop can instead queue lines with audit_append_nosync and make them
 * durable together with audit_sync before it releases any value.
 *
 * Several processes may append to the same log: each append takes an
 * exclusive flock(2) on the log and first catches up with lines written by
 * others.
 */
#ifndef AIRLOCK_AUDIT_H
#define AIRLOCK_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "airlock/base.h"

#define AUDIT_LOG_FILE		"audit.log"
#define AUDIT_HEAD_SUFFIX	".head"
#define AUDIT_KEY_LEN		32
#define AUDIT_MAC_HEX		65	/* 64 hex digits and a NUL */
#define AUDIT_FP_HEX		65	/* fingerprint: 64 hex digits and a NUL */
#define AUDIT_TIME_LEN		25	/* "2027-01-31T12:00:00.123Z" and a NUL */
#define AUDIT_LINE_MAX		(64 * 1024)	/* bytes, newline included */
#define AUDIT_TEXT_MAX		1024	/* longer strings are cut, see below */
#define AUDIT_EVENT_MAX		32

/*
 * One event to record.  Only event is required.  Strings are borrowed; any
 * may be NULL (member omitted).  A string that is not valid UTF-8 is logged
 * with the offending bytes escaped as \xNN; one longer than AUDIT_TEXT_MAX
 * bytes is cut at a character boundary and ends with "...".  jansson escapes
 * control characters, so no logged text can forge a line.
 *
 * Event names in use: request, grant, deny, approval_pending, approve,
 * deny_approval, use, revoke, expire, secret_add, secret_rotate,
 * secret_edit, secret_rm, policy_reload, exposed, redact, approver_pin, and recover (written by
 * this library after it repaired a crash; see audit_open).  Any
 * [a-z_]{1,32} name is accepted.
 */
struct audit_event {
	const char	*event;
	const char	*outcome;	/* "ok", "denied", "pending", "error"... */
	const json_t	*caller;	/* identity summary (ident_to_json) */
	const char	*secret;	/* secret name, never its value */
	const char	*lease;		/* lease id */
	const char	*task;
	const char	*intent;
	const char	*reason;
	const char	*value_fp;	/* audit_value_fingerprint() */
	const json_t	*detail;	/* any other members, as an object */
};

struct audit_log;

/*
 * Open (creating if missing, mode 0600, O_APPEND|O_NOFOLLOW|O_CLOEXEC) the
 * log at path and its head at path + ".head".  key is AUDIT_KEY_LEN bytes;
 * it is borrowed for the call only (subkeys are derived into the log's own
 * guarded memory).
 *
 * Opening checks the tail of the log, not the whole chain (that is
 * audit_verify): the line the head names must be where the head says, and
 * every line after it must extend the chain.  What follows the last good
 * line (a line torn by a crash, or unsynced lines the kernel lost) is cut
 * off, saved to path + ".cut.<seq>", and a "recover" event recording its
 * offset, length and keyed fingerprint is appended in its place, so
 * audit_verify accepts the log and reports the repair.  Nothing durable is
 * ever cut: lines are released to callers only after fdatasync, and a
 * synced line is part of the good prefix.  A complete final line that only
 * lacks its newline is kept and terminated.
 *
 * Errors: AL_EPERM when the log or head is a symlink, not ours, or group/
 * others can access it; AL_ECORRUPT when the log was truncated below the
 * head, the head is missing or damaged while the log is not empty, or the
 * log is missing while the head records lines (the message says which and
 * what to do); AL_EINVAL for a key of the wrong length; AL_ESYS, AL_ENOMEM.
 */
int	audit_open(const char *path, struct al_secret *key,
	    const struct al_clock *clock, struct audit_log **out,
	    struct al_err *err) AL_WUR;

/*
 * Open the log at its path again after a failure (a write or sync error,
 * or the file replaced under us), with the checks and tail repair of
 * audit_open: what the file holds beyond the last durable line is kept if
 * it extends the chain, and made durable.  On success appends work again;
 * on error the log stays failed and err says why (as audit_open's).
 * Waits for a sync under way on another thread.
 */
int	audit_reopen(struct audit_log *log, struct al_err *err) AL_WUR;

/* Close the log (no sync: call audit_sync first if lines are queued). */
void	audit_close(struct audit_log *log);

/*
 * Append ev and fdatasync before returning: when this returns 0 the line is
 * durable.  Thread-safe; callers that append at the same time share one
 * fdatasync.  *seq (may be NULL) receives the line's sequence number.
 * AL_EINVAL for a bad event name or a detail that is not an object or
 * whose line would pass AUDIT_LINE_MAX; AL_EIO when a write or sync failed:
 * the log then refuses every further append (a failed fsync cannot be
 * retried safely) until it is reopened (audit_reopen); AL_ECORRUPT when
 * another file was put at the log's path (an editor, `sed -i`, rotation)
 * or the log shrank: also refused until it is reopened.
 */
int	audit_append(struct audit_log *log, const struct audit_event *ev,
	    uint64_t *seq, struct al_err *err) AL_WUR;

/*
 * Append ev without waiting for the disk: the line is written (visible to
 * readers) but not yet durable.  The log stays locked against other
 * processes' appends until the next audit_flush, audit_sync, audit_append
 * or audit_close, so that a burst of lines pays for the lock once: an
 * event loop flushes at the end of each turn.  Thread-safe.
 */
int	audit_append_nosync(struct audit_log *log, const struct audit_event *ev,
	    uint64_t *seq, struct al_err *err) AL_WUR;

/*
 * Make every line appended so far durable (one fdatasync for all of them,
 * shared with concurrent callers) and advance the head.  *durable (may be
 * NULL) receives the last durable sequence number.  It does not end a burst
 * of audit_append_nosync (audit_flush does), so a second thread may sync
 * while the first goes on appending.
 */
int	audit_sync(struct audit_log *log, uint64_t *durable,
	    struct al_err *err) AL_WUR;

/*
 * End a burst of audit_append_nosync: let other processes append again,
 * without waiting for the disk (the lines are safe from a crash of this
 * process, not yet from a power loss).
 */
void	audit_flush(struct audit_log *log);

/* Sequence number of the last line this log knows of (0: empty). */
uint64_t audit_last_seq(struct audit_log *log);

/*
 * A keyed fingerprint of a value: hex of HMAC-SHA-256 under a subkey of the
 * audit key.  Equal values give equal fingerprints under one audit key, so
 * a log can show that the same value was used twice, or that a leaked
 * string is a given secret, without ever holding it.  key and value are
 * borrowed and left closed.
 */
int	audit_value_fingerprint(struct al_secret *key, struct al_secret *value,
	    char out[AUDIT_FP_HEX]) AL_WUR;
/* The same with the key of an open log. */
int	audit_fingerprint(struct audit_log *log, struct al_secret *value,
	    char out[AUDIT_FP_HEX]) AL_WUR;

/* ---- verification -------------------------------------------------------- */

enum audit_problem {
	AUDIT_INTACT = 0,
	AUDIT_CHANGED,		/* a line's mac does not match its content */
	AUDIT_MALFORMED,	/* not a JSON object, or a member missing */
	AUDIT_TOO_LONG,		/* longer than AUDIT_LINE_MAX */
	AUDIT_REMOVED,		/* seq jumps ahead: lines were removed */
	AUDIT_REORDERED,	/* seq goes back, or a later line holds the
				 * missing seq: lines were moved */
	AUDIT_TORN,		/* the last line is incomplete (a crash during a
				 * write, not yet repaired by audit_open) */
	AUDIT_TRUNCATED,	/* the log is shorter than its head records */
	AUDIT_HEAD_BAD,		/* head missing, damaged, or not matching */
};

struct audit_report {
	enum audit_problem	 problem;
	uint64_t		 line;		/* first bad line, 1-based; 0 if
						 * none or not a line's fault */
	uint64_t		 lines;		/* lines verified before it */
	uint64_t		 last_seq;	/* seq of the last good line */
	uint64_t		 head_seq;	/* what the head records */
	int			 head_checked;	/* head found and matched */
	uint64_t		 recoveries;	/* "recover" events seen */
	uint64_t		 recovery_line;	/* line of the first one */
	char			 first_time[AUDIT_TIME_LEN];
	char			 last_time[AUDIT_TIME_LEN];
	char			 message[512];	/* one sentence for people */
};

/* "intact", "changed", "malformed", ... */
const char *audit_problem_name(enum audit_problem p);

/*
 * Verify the whole log at path against key (and path + ".head").  Returns 0
 * when verification ran: report->problem says whether the log is intact and
 * report->line names the first line that was changed, removed, reordered,
 * malformed or torn.  An incomplete last line is read again after a short
 * pause, so a line being written right now is not mistaken for a torn one.
 * Returns AL_ENOENT when there is no log and no head, AL_ESYS when the log
 * cannot be read, AL_EINVAL for a key of the wrong length.
 */
int	audit_verify(const char *path, struct al_secret *key,
	    struct audit_report *report, struct al_err *err) AL_WUR;

/*
 * Verify a log held in memory; head (may be NULL: tail truncation is then
 * not checked and head_checked stays 0) is the content of the head file.
 */
int	audit_verify_mem(const void *log, size_t n, const void *head,
	    size_t headn, struct al_secret *key, struct audit_report *report,
	    struct al_err *err) AL_WUR;

/* ---- reading -------------------------------------------------------------- */

/* Which lines audit_read passes on; zero/NULL members match everything. */
struct audit_filter {
	int64_t		 since_ms;	/* time >= since_ms */
	const char	*task;		/* exact task */
	const char	*secret;	/* exact secret name */
	const char	*lease;		/* exact lease id */
	const char	*events;	/* comma-separated event names */
};

/* One parsed line, borrowed from obj; valid during the callback only. */
struct audit_entry {
	uint64_t	 line;		/* 1-based line number */
	uint64_t	 seq;
	int64_t		 time_ms;
	const char	*time;
	const char	*event;
	const char	*outcome;	/* NULL when absent, like the rest */
	const char	*secret;
	const char	*lease;
	const char	*task;
	const char	*intent;
	const char	*reason;
	const json_t	*caller;
	const json_t	*obj;		/* the whole line */
};

struct audit_read_stats {
	uint64_t	lines;		/* complete lines read */
	uint64_t	matched;	/* passed to the callback */
	uint64_t	malformed;	/* skipped: not a valid audit line */
	int		torn;		/* the last line is incomplete */
};

/*
 * Call cb for each line of the log at path that passes filter (NULL: all),
 * in order.  Reading needs no key and checks no mac (use audit_verify for
 * that); malformed lines are counted and skipped.  cb returns 0 to go on,
 * anything else to stop: audit_read then returns that value.  AL_ENOENT
 * when the log does not exist.
 */
int	audit_read(const char *path, const struct audit_filter *filter,
	    int (*cb)(void *arg, const struct audit_entry *e), void *arg,
	    struct audit_read_stats *stats, struct al_err *err) AL_WUR;

/*
 * Parse one line (without its newline) into e, taking a new reference in
 * *obj that the caller must json_decref.  AL_EINVAL when it is not an audit
 * line (err gives the byte position).  Checks the shape only, not the mac.
 */
int	audit_parse_line(const void *p, size_t n, json_t **obj,
	    struct audit_entry *e, struct al_err *err) AL_WUR;

/* Format ms since the epoch as RFC 3339 UTC with milliseconds. */
void	audit_format_time(int64_t ms, char out[AUDIT_TIME_LEN]);
/* Parse what audit_format_time writes; AL_EINVAL otherwise. */
int	audit_parse_time(const char *s, int64_t *ms) AL_WUR;

/* Whether airlock records events of that name (see docs/audit.md). */
int	audit_event_known(const char *name);

#endif

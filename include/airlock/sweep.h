/*
 * airlock sweep: find known secret values, and scanner rule hits, in the
 * text that agents and shells leave behind (transcripts, histories, .env
 * files), report them, and rewrite the files in place with the masks.
 *
 * A struct sweep runs over a compiled redactor (airlock/redact.h: the known
 * values in every encoding it knows, plus the scanner's rules when the
 * caller installed them).  Each file is read twice through one descriptor,
 * in guarded memory: once through a redaction stream that reports where
 * its masks fall, then, when there were any, to turn their offsets into
 * lines and columns and (with SWEEP_FIX) to write the new version.
 *
 * WHAT IS REPORTED
 * A hit is a path, a line and column, and a name: the secret's name for a
 * known value, the rule's id for a rule hit.  Never any byte of a known
 * value; a rule hit carries scan's preview (the first 4 and the last 2
 * characters of what was masked, or nothing when that is under 10 bytes).
 *
 * REWRITING (SWEEP_FIX)
 * The new version is the old one, byte for byte, with each masked span
 * replaced by "[REDACTED:<name>]".  It is written to a temporary file in
 * the same directory (mode 0600 while written, then the old file's owner
 * and mode), synced, checked against the old file once more (same inode,
 * size and modification time, else it is left alone: the file changed
 * during the sweep), renamed over it and the directory synced.  Killed at
 * any point, each file is either its old or its new version; a stray
 * temporary file (".NAME.airlock-sweep.XXXXXX", masked bytes only) may be
 * left beside it, and the next sweep of that directory removes it.
 * In a JSON Lines file (".jsonl") a mask that would start just after the
 * backslash of an escape sequence takes the backslash in too, and every
 * line that was valid JSON must still be valid JSON after masking, or the
 * file is left alone and reported.  Binary files (a NUL byte in the first
 * 8 KiB) and files that are not regular are reported, never rewritten.
 * No copy of the old bytes is kept anywhere.
 */
#ifndef AIRLOCK_SWEEP_H
#define AIRLOCK_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "airlock/base.h"

struct redact;

#define SWEEP_FIX	0x1	/* rewrite files with the masks */

enum sweep_hit_kind {
	SWEEP_HIT_VALUE = 1,	/* a known value (or an encoding of it) */
	SWEEP_HIT_RULE = 2,	/* a scanner rule hit */
};

struct sweep_hit {
	const char	*path;		/* owned by the sweep */
	char		 name[65];	/* secret name or rule id */
	int		 kind;		/* enum sweep_hit_kind */
	uint32_t	 line, col;	/* 1-based, of the mask's first byte */
	char		 preview[80];	/* rule hits only; "" otherwise */
	int		 fixed;		/* the file was rewritten */
};

/* A place the sweep could not search or a file it could not rewrite. */
struct sweep_problem {
	const char	*path;		/* owned by the sweep */
	char		*what;		/* what went wrong and what to do */
	int		 error;		/* 1: unreadable (exit 2); 0: a note */
};

struct sweep;

/*
 * A sweep over r (compiled; it must outlive the sweep).  flags: SWEEP_FIX.
 * AL_ENOMEM.
 */
int	sweep_new(const struct redact *r, int flags, struct sweep **out,
	    struct al_err *err) AL_WUR;
void	sweep_free(struct sweep *s);

/*
 * Search path: a file, or a directory walked recursively (.git and
 * node_modules are skipped).  path itself may be a symbolic link: its
 * target is searched and rewritten; links inside a directory are not
 * followed.  A path that does not
 * exist is a problem (error) when must_exist, else silently nothing.  An
 * unreadable file or directory is recorded as a problem (error) and the
 * sweep goes on; the return value is nonzero only for what stops the whole
 * sweep (AL_ENOMEM, a redaction failure).
 */
int	sweep_path(struct sweep *s, const char *path, int must_exist,
	    struct al_err *err) AL_WUR;

/*
 * Search a stream that cannot be rewritten, `git log -p` output on fd, for
 * known values (rule hits in history come from the scanner's own history
 * source, with lines and allowlists).  Each hit is reported as "label@<commit, 12 hex>:<file>" (from the
 * stream's "commit " and "+++ b/" lines; line and column 0) and listed as
 * a problem with what to do.  Errors as for sweep_path.
 */
int	sweep_stream(struct sweep *s, int fd, const char *label,
	    struct al_err *err) AL_WUR;

/*
 * Search the lines a unified diff on fd adds (`git diff --cached -U0`: the
 * "+" lines of each hunk, contiguous, so a value wrapped over added lines
 * is one match) for known values only.  Each hit is reported at the new
 * file's path (from its "+++ b/" line) and the line and column it starts
 * at there; nothing is rewritten and no problem is listed.  Removed and
 * context lines are not searched.  Errors as for sweep_path.
 */
int	sweep_diff(struct sweep *s, int fd, const char *label,
	    struct al_err *err) AL_WUR;

/*
 * Record a hit found by the caller (the scanner's history source: a place
 * that cannot be rewritten).  h is copied, h->path too.
 */
int	sweep_add_hit(struct sweep *s, const struct sweep_hit *h,
	    struct al_err *err) AL_WUR;

/* Record a problem found by the caller (an unreadable place). */
int	sweep_add_problem(struct sweep *s, const char *path, int error,
	    const char *what, struct al_err *err) AL_WUR;

/*
 * Call fn(arg, path) after each file with hits was searched and before its
 * new version is compared with it and renamed over it (with SWEEP_FIX).
 * For tests: a file changed there must be left alone.
 */
void	sweep_on_searched(struct sweep *s, void (*fn)(void *arg,
	    const char *path), void *arg);

/* Sort the hits by path, line and column (directories are walked in no
 * particular order); problems by path. */
void	sweep_sort(struct sweep *s);

/* Results so far: hits in the order found (or sorted), problems, counters. */
const struct sweep_hit *sweep_hits(const struct sweep *s, size_t *n);
const struct sweep_problem *sweep_problems(const struct sweep *s,
	    size_t *n);
uint64_t sweep_files(const struct sweep *s);	/* files searched */
uint64_t sweep_bytes(const struct sweep *s);	/* bytes searched */
uint64_t sweep_fixed(const struct sweep *s);	/* files rewritten */
int	sweep_errors(const struct sweep *s);	/* problems with error set */

/*
 * Reports: "path:line:col: name (known value)" or "path:line:col: rule
 * preview" lines; JSON {"version":1,"hits":[...],"problems":[...],
 * "summary":{...}}; SARIF 2.1.0 (known values under the rule
 * "airlock/known-value", rule hits under their rule's id).
 */
int	sweep_write_text(const struct sweep *s, FILE *out) AL_WUR;
int	sweep_write_json(const struct sweep *s, FILE *out) AL_WUR;
int	sweep_write_sarif(const struct sweep *s, FILE *out) AL_WUR;

/* ---- the usual places ---------------------------------------------------- */

struct sweep_place {
	const char	*kind;		/* "claude-code", "codex", "bash", ... */
	const char	*pattern;	/* as shown: "~/.claude/projects/..." */
	char		*path;		/* a file or a directory to walk */
	const char	*prefix;	/* in a directory: names starting so */
	const char	*suffix;	/* in a directory: names ending so */
};

/*
 * The usual places under home (the user's home directory) and, when repo
 * is not NULL, the .env files of the repository rooted there.  Each entry
 * is one place (a file or a directory), whether it exists or not.  *out is
 * freed with sweep_places_free.
 */
int	sweep_places(const char *home, const char *repo,
	    struct sweep_place **out, size_t *n, struct al_err *err) AL_WUR;
void	sweep_places_free(struct sweep_place *p, size_t n);

/*
 * Search one place: a file, or the files under a directory whose names
 * start with its prefix and end with its suffix.  A place that does not
 * exist is nothing to search; one that cannot be read is a problem.
 */
int	sweep_place(struct sweep *s, const struct sweep_place *p,
	    struct al_err *err) AL_WUR;

/*
 * Whether n bytes at p, one line without its newline, are valid JSON
 * (RFC 8259, one value with optional whitespace around it).  Used to keep
 * JSON Lines transcripts valid; exposed for tests.
 */
int	sweep_json_valid(const void *p, size_t n);

#endif

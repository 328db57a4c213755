/*
 * airlock redact: a streaming masker for known secret values, their
 * encodings, and (optionally) pattern-rule hits.
 *
 * A struct redact is built once from the live values (redact_add_value),
 * compiled (redact_compile) and is then immutable and read-only: any number
 * of streams, in any number of threads, may share it.  A struct
 * redact_stream masks one output stream (a child's stdout, say): bytes go in
 * with redact_stream_write in pieces of any size, masked bytes come out
 * through an emit callback, and redact_stream_finish releases the rest at
 * end of file.
 *
 * WHAT IS MASKED
 * For each value V (4 bytes to 64 KiB, any bytes) these patterns are
 * compiled, each masked wherever it occurs in the stream:
 *   - V itself; when V has line breaks, also V with every LF as CRLF (a pty
 *     converts them) and with every CRLF as LF, and each line of V (LF or
 *     CRLF) that is 8 bytes or longer on its own.  PEM armour lines
 *     ("-----BEGIN ...-----", "-----END ...-----") are not secret and are not
 *     masked on their own.
 *   - hex, lower and upper case.
 *   - base64, standard (+/) and URL-safe (-_) alphabets, padded or not, at
 *     each of the three byte alignments inside longer base64 text.  The
 *     guarantee: if a byte string X contains V at any offset, then in the
 *     base64 of X every character computed from bytes of V alone is masked,
 *     and so are the partial characters at either edge (they carry the top
 *     2 or 4 bits of V's first byte, or the low 2 or 4 bits of its last),
 *     and the "=" padding when V ends X.  Whatever X holds before or after V
 *     does not hide it.
 *   - hex and base64 (every form above) wrapped into lines, as xxd -p,
 *     basenc, base64(1), PEM and MIME print them: a line break (LF or
 *     CRLF) is skipped where the line before it ends with 16 or more hex or
 *     base64 characters ("=" aside), on lines of up to 4096 characters.
 *     The mask covers the whole run, line breaks included.
 *   - URL percent-encoding: RFC 3986 (unreserved kept) with upper- or
 *     lower-case hex, form encoding (space as "+"), JavaScript's
 *     encodeURIComponent, and every byte encoded (upper- or lower-case).
 *   - JSON string escaping (minimal, with "\/", Go's HTML-safe \u003c form,
 *     and ASCII-only \uXXXX, DEL included, in either case), C escaping
 *     (\xHH or octal, double- or single-quote style), Python's repr() of
 *     bytes and of a str (non-ASCII kept, quote chosen as Python does),
 *     XML/HTML escaping (text, and attributes with &quot; &apos; / &#x27;
 *     / &#34; &#39;), and shell quoting ('\'' and '"'"' inside single
 *     quotes, backslash escaping as printf %q does, bash's $'...' with \E
 *     for a value with a control character, double-quote escaping).
 * A variant identical to one already listed is compiled once.
 *
 * An occurrence becomes "[REDACTED:<name>]".  Masks are the union of all
 * occurrences: overlapping occurrences merge into one mask named after the
 * longest of them (the first added on a tie), so when one value is a prefix
 * of another, or a line of a PEM key completes while the whole key is still
 * arriving, the longest wins and nothing of either leaks.  Occurrences that
 * only touch are masked separately.
 *
 * HOLDING BACK
 * The patterns form one Aho-Corasick automaton (and the wrapped forms a
 * second one).  What a stream holds back never depends on the values, so
 * that its timing cannot tell whether the bytes held begin one:
 *   - after a write, a fixed number of last bytes are held, whatever they
 *     are (all of them while fewer have been written): the widest match
 *     there can be (wrapped ones included, and the base64 lead character),
 *     which depends on the values' lengths only.  With a rule matcher, the
 *     unfinished line is held too (see RULES), which depends on the text
 *     alone.
 *   - redact_stream_flush (call it when the writer has been idle) releases
 *     all but the last word (the bytes after the last space, control
 *     character or one of : ? > ] ) $, which prompts end with), extended
 *     back over line breaks that end a line of 16 or more base64 or hex
 *     characters when one follows (a wrapped encoding may go on), and an
 *     armored block ("-----BEGIN" without its "-----END" yet).  So a
 *     prompt shows, and a value written a piece at a time with pauses
 *     shows nothing until it is whole, unless a piece ends at one of those
 *     characters inside the value.
 *   - redact_stream_finish releases everything, masking whole occurrences
 *     only: the start of a value cut off at the end is shown.
 * Splits, 10 MB lines, NUL bytes and invalid UTF-8 make no difference:
 * matching is on bytes, and occurrences are found however the writes are
 * split.

 * RULES
 * An optional rule matcher (redact_set_rule_matcher; the scanner supplies
 * one) masks hits of pattern rules as "[REDACTED:<rule-id>]" in the same
 * union.  Because a regular expression cannot say whether a partial line
 * may still become a hit, a stream with rules also holds back the current
 * line (or an armored block, "-----BEGIN" to the end of its "-----END"
 * line, so that a multi-line rule sees a whole private key), up to the
 * matcher's max_len bytes, until its newline arrives, and shows it to the
 * matcher with each new chunk.  A pause releases it as above.

 * MEMORY
 * Values, encodings and the automaton (whose transitions spell the
 * patterns) live only in libsodium guarded memory, read-only after compile,
 * and are wiped when freed.  Held-back bytes of a stream live in guarded
 * memory and are wiped as they are released and on free.  Nothing here
 * logs, and no error message contains a value.
 */
#ifndef AIRLOCK_REDACT_H
#define AIRLOCK_REDACT_H

#include <stddef.h>

#include "airlock/base.h"

#define REDACT_VALUE_MIN	4		/* shorter values are refused */
#define REDACT_VALUE_MAX	(64 * 1024)
#define REDACT_NAME_MAX		64
#define REDACT_LINE_MIN		8		/* shorter lines are not masked alone */
#define REDACT_RULE_MAX		(64 * 1024)	/* largest rule max_len */

struct redact;
struct redact_stream;

/*
 * Receives output (emit must not be NULL): n bytes at p (never n == 0).  p is valid only during the
 * call.  Return 0 to go on; nonzero aborts the write, which then returns
 * AL_EIO and leaves the stream failed (every later call returns AL_EIO).
 */
typedef int (*redact_emit_fn)(void *arg, const void *p, size_t n);

/*
 * A rule matcher reports, through hit(), each rule hit it finds in the
 * window p[0..n): off and len within the window, and the rule's id, a
 * string of 1-64 characters of A-Z a-z 0-9 . _ - : / that must stay valid
 * as long as the struct redact lives (the scanner's rule table).  It may
 * report the same hit again in a later window.  It returns 0, or a negative
 * AL_E code, which the write returns (the stream is then failed).
 */
typedef void (*redact_hit_fn)(void *hit_arg, size_t off, size_t len,
    const char *rule_id);
typedef int (*redact_rule_fn)(void *arg, const unsigned char *p, size_t n,
    redact_hit_fn hit, void *hit_arg);

/* A new empty set of values.  AL_ENOMEM. */
int	redact_new(struct redact **out, struct al_err *err) AL_WUR;

/*
 * Add a value to mask as "[REDACTED:<name>]".  The secret is opened, read
 * and closed again during the call; it is not kept (its patterns are copied
 * into guarded memory).  name: 1-64 characters of A-Z a-z 0-9 . _ - : /.
 * AL_EINVAL for a bad name, an empty value or one shorter than
 * REDACT_VALUE_MIN bytes (too short to mask without masking ordinary text),
 * or after compile; AL_ETOOBIG past REDACT_VALUE_MAX; AL_ENOMEM.
 */
int	redact_add_value(struct redact *r, const char *name,
	    struct al_secret *value, struct al_err *err) AL_WUR;

/*
 * Install a rule matcher (before compile).  max_len (1 to REDACT_RULE_MAX)
 * is the longest hit it can report; a stream holds up to that many bytes of
 * an unfinished line for it.  fn must be thread-safe: a stream may call it
 * from its own second thread, and streams of one set run side by side.
 * AL_EINVAL for a bad max_len or after compile.
 */
int	redact_set_rule_matcher(struct redact *r, redact_rule_fn fn, void *arg,
	    size_t max_len, struct al_err *err) AL_WUR;

/*
 * Mask the scanner's secret rules (the engine should be built with
 * SCAN_ENGINE_SECRETS_ONLY) as "[REDACTED:<rule-id>]": installs a rule
 * matcher over e, safe to share between streams in several threads.  e
 * must outlive r.  Before redact_compile.
 */
struct scan_engine;
int	redact_use_scan(struct redact *r, const struct scan_engine *e,
	    struct al_err *err) AL_WUR;

/*
 * As redact_use_scan, but the engine is built by load(arg, &engine, err)
 * only when a stream of r first has output to show the rules, so a command
 * that prints nothing never pays for loading them.  The engine then belongs
 * to r (freed by redact_free).  load runs at most once per set, under a
 * lock.  When it fails, the write that needed it fails with load's code
 * and emits nothing of its input; the stream is failed, and every later
 * write of any stream of r fails the same way: no output passes unscanned.
 * redact_rule_error then says why.  Before redact_compile.
 */
typedef int (*redact_scan_load_fn)(void *arg, struct scan_engine **out,
    struct al_err *err);
int	redact_use_scan_lazy(struct redact *r, redact_scan_load_fn load,
	    void *arg, struct al_err *err) AL_WUR;

/* Why the lazy rule loader failed, or NULL (it has not, or never ran). */
const char *redact_rule_error(const struct redact *r);

/*
 * Build the automaton and make the set immutable.  A set with no values is
 * valid (it passes everything through, masking rule hits only).
 * AL_ETOOBIG when the values together would need more than 8 million
 * automaton states; AL_ENOMEM.
 */
int	redact_compile(struct redact *r, struct al_err *err) AL_WUR;

/* Wipe and free everything.  NULL is a no-op.  Free the streams first. */
void	redact_free(struct redact *r);

/* Number of values added, and of distinct patterns compiled. */
size_t	redact_value_count(const struct redact *r);
size_t	redact_pattern_count(const struct redact *r);

/*
 * The most bytes a stream of r holds back after a write (see HOLDING
 * BACK): the widest match, wrapped or not, with its base64 lead character,
 * or the rule matcher's max_len if larger; 0 with no values and no
 * matcher.  Without a matcher, a write always leaves exactly this many
 * held (or all, if fewer were written).  Valid after compile.
 */
size_t	redact_max_held(const struct redact *r);

/*
 * A stream over the compiled r, which must outlive it.  AL_EINVAL if r is
 * not compiled; AL_ENOMEM.
 */
int	redact_stream_new(const struct redact *r, struct redact_stream **out)
	    AL_WUR;

/*
 * Feed n bytes (any n, including 0).  Everything but what HOLDING BACK
 * holds after a write is emitted before the call returns, masks
 * included.  AL_EIO if emit aborted, AL_ENOMEM, or the
 * matcher's error; AL_EINVAL after finish.
 */
int	redact_stream_write(struct redact_stream *s, const void *p, size_t n,
	    redact_emit_fn emit, void *arg) AL_WUR;

/*
 * As write, for a caller that has more bytes ready right away (its read
 * filled its buffer): with a rule matcher, the last chunk of a large write
 * may be left undecided, its rules still running on the stream's second
 * thread, so that they overlap the caller's next read.  Its bytes are
 * copied (guarded); p may be reused on return.  The next write, flush,
 * finish or redact_stream_complete decides it; call complete as soon as no
 * more bytes are ready, or they wait.  Errors of the deferred part are
 * reported by that call.
 */
int	redact_stream_write_more(struct redact_stream *s, const void *p,
	    size_t n, redact_emit_fn emit, void *arg) AL_WUR;

/* Decide what write_more left (emit it); a no-op if nothing.  As write. */
int	redact_stream_complete(struct redact_stream *s, redact_emit_fn emit,
	    void *arg) AL_WUR;

/*
 * The writer has paused: release all that HOLDING BACK says a pause
 * releases (a prompt shows; the last word, a run of wrapped base64 or hex
 * and an open armored block stay).  The matcher sees the held bytes first,
 * as at end of file.  Errors as for write.
 */
int	redact_stream_flush(struct redact_stream *s, redact_emit_fn emit,
	    void *arg) AL_WUR;

/*
 * End of input: release everything held, whole occurrences masked (the
 * start of a value cut off is not one).  After it only the counters,
 * redact_stream_held and redact_stream_free may be used.
 */
int	redact_stream_finish(struct redact_stream *s, redact_emit_fn emit,
	    void *arg) AL_WUR;

/*
 * Bytes held back right now (never more than redact_max_held, plus a chunk
 * left by write_more until it is completed).
 */
size_t	redact_stream_held(const struct redact_stream *s);

/* Bytes written into and emitted by the stream, and masks emitted. */
unsigned long long redact_stream_in(const struct redact_stream *s);
unsigned long long redact_stream_out(const struct redact_stream *s);
unsigned long long redact_stream_masks(const struct redact_stream *s);

/*
 * Tell fn of every mask of s as it is emitted, before its text: off and len
 * are the masked bytes' place in the stream's input (the count of bytes
 * written before them, and how many), so a caller can put masks into a copy
 * of its input that it keeps in another form.  value is the index of the
 * value (in the order added, see redact_value_label), or REDACT_SPAN_RULE
 * for a rule hit, whose id is rule (NULL otherwise).  fn must not call into
 * s.  Set it before the first write; NULL turns it off.
 */
#define REDACT_SPAN_RULE	0xffffffffu
typedef void (*redact_span_fn)(void *arg, unsigned long long off,
    unsigned long long len, unsigned int value, const char *rule);
void	redact_stream_set_span(struct redact_stream *s, redact_span_fn fn,
	    void *arg);

/*
 * The mask of value i (in the order added), "[REDACTED:<name>]", or NULL
 * past the last.
 */
const char *redact_value_label(const struct redact *r, unsigned int i);

/*
 * An observer of masks: called once for each mask, just before it is
 * emitted, with the input offsets it replaces ([start, end) counted from
 * the stream's first byte), the name it carries (a secret's name or a
 * rule's id, name_len bytes, not NUL-terminated, valid during the call)
 * and what it is.  Never any byte of the input.  For a caller that must
 * say where a value was (airlock sweep) or rewrite a file in place.
 */
enum redact_mask_kind {
	REDACT_MASK_VALUE = 1,	/* a known value or one of its encodings */
	REDACT_MASK_RULE = 2,	/* a rule hit */
};
typedef void (*redact_mask_fn)(void *arg, unsigned long long start,
    unsigned long long end, const char *name, size_t name_len, int kind);
/* Install (fn NULL: remove) the observer of s, before its first write. */
void	redact_stream_on_mask(struct redact_stream *s, redact_mask_fn fn,
	    void *arg);

/* Wipe held bytes and free.  NULL is a no-op. */
void	redact_stream_free(struct redact_stream *s);

/*
 * Mask the whole buffer p[0..n) (one write and finish) and append the
 * result to out, a buffer the caller initialised.  AL_ETOOBIG past out's
 * maximum; other errors as for write.
 */
int	redact_buffer(const struct redact *r, const void *p, size_t n,
	    struct al_buf *out, struct al_err *err) AL_WUR;

#endif

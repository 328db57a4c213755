/*
 * Private to src/redact: a stream's state, shared by stream.c (writing,
 * settling, rules) and wrap.c (wrapped encodings, pauses).
 */
#ifndef AIRLOCK_REDACT_STREAM_INT_H
#define AIRLOCK_REDACT_STREAM_INT_H

#include <stdint.h>

#include "redact_int.h"

/* A line break that the wrapped automaton skipped: bytes [off, off+len). */
struct wbrk {
	uint64_t	 off;
	uint32_t	 len;
};

struct ival {
	uint64_t	 s, e;
	uint64_t	 ws;		/* start of the occurrence that names it */
	uint32_t	 weight;	/* length of the occurrence */
	uint32_t	 value;		/* RX_NONE: a rule hit */
	const char	*rule;
};

struct redact_stream {
	const struct redact	*r;
	const struct rx_ac	*ac;
	uint32_t		 t;		/* state, premultiplied */
	int			 failed;
	int			 finished;
	uint64_t		 pos;		/* bytes in */
	uint64_t		 released;	/* bytes decided and emitted */
	uint64_t		 buf_base;	/* offset of hold[0] */
	unsigned char		*hold;		/* guarded */
	size_t			 hold_len, hold_cap;
	struct ival		*pend;
	size_t			 npend, cappend;
	uint32_t		 ev[2 * RX_EVMAX];
	struct rx_lanes		 lanes;		/* scratch of rx_scan */
	/*
	 * Rules: the matcher is shown the bytes from rule_lo on (and not
	 * before what is kept): the unfinished line, from line_start, or an
	 * armored block ("-----BEGIN", as in PEM, OpenSSH and PGP keys) that
	 * no "-----END" has closed yet, from block (else UINT64_MAX), up to
	 * the matcher's max_len, so that a multi-line rule sees the whole
	 * block, however it was written.  Whole lines before it were shown
	 * already.
	 */
	uint64_t		 line_start;
	uint64_t		 block;
	uint64_t		 rule_lo;
	/*
	 * The wrapped automaton (r->wac): on while its state reaches back
	 * over a line break; w_id its state, w_brk_end the end of the last
	 * break, w_line the characters since, w_cr a CR that must be
	 * followed by LF.  The breaks it skipped are in the ring wb (enough
	 * for the widest match), to map its matches back onto the bytes.
	 */
	int			 w_on;
	int			 w_cr;
	uint32_t		 w_id;
	uint64_t		 w_brk_end;
	size_t			 w_line;
	struct wbrk		*wb;
	size_t			 wb_cap, wb_head, wb_n;
	/*
	 * LFs the first automaton reported in the chunk, and how many
	 * characters before each a wrapped match may start: no more than its
	 * state's string holds.
	 */
	struct {
		uint64_t	 lf;
		uint32_t	 back;
	}			 joint[2 * RX_EVMAX];
	size_t			 njoint;
	unsigned char		*win;		/* rules: guarded window */
	size_t			 win_cap;
	struct rule_worker	*worker;	/* rules: second thread */
	int			 worker_failed;	/* could not start one */
	int			 rules_done;	/* chunk's hits came from it */
	/*
	 * write_more left the chunk [c0, c0 + cn) unsettled, its rules still
	 * running; cp points at the worker's copy of it.
	 */
	int			 deferred;
	/*
	 * The automaton's events filled up in a chunk (output dense with
	 * values): the rules run inline until a chunk is scanned whole, so
	 * the worker does not scan a megabyte for each few kilobytes.
	 */
	int			 dense;
	unsigned long long	 nout;
	unsigned long long	 nmask;
	/* The chunk being settled: bytes [c0, c0 + cn) at cp. */
	const unsigned char	*cp;
	uint64_t		 c0;
	size_t			 cn;
	redact_emit_fn		 emit;
	void			*arg;
	int			 rc;		/* first error while settling */
	redact_span_fn		 span;		/* told of each mask, or NULL */
	void			*span_arg;
	redact_mask_fn		 on_mask;	/* observer, or NULL */
	void			*on_mask_arg;
};

/* The byte at offset off, from the chunk or the hold buffer. */
static inline unsigned char
byte_at(const struct redact_stream *s, uint64_t off)
{
	return off >= s->c0 ? s->cp[off - s->c0] : s->hold[off - s->buf_base];
}

/* Add an occurrence to the union of pending masks (stream.c). */
void	rx_add_ival(struct redact_stream *s, struct ival iv);

/*
 * Wrapped encodings (wrap.c): note the line breaks an automaton event at e
 * with state id reports, then run the second automaton over the chunk up
 * to end.
 */
void	rx_wrap_note(struct redact_stream *s, uint64_t e, uint32_t id);
void	rx_wrap_pass(struct redact_stream *s, uint64_t end);

/* At a pause: where what stays held starts, held bytes [lo, pos). */
uint64_t rx_flush_from(struct redact_stream *s, uint64_t lo);

#endif

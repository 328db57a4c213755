/*
 * Private to src/redact: the pattern list, the compiled automaton and the
 * guarded growable arrays they are built in.
 */
#ifndef AIRLOCK_REDACT_INT_H
#define AIRLOCK_REDACT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/redact.h"

#define RX_NONE		UINT32_MAX
#define RX_MAX_STATES	(8u * 1024 * 1024)

/*
 * A growable array in libsodium guarded memory.  It never reallocs: growth
 * copies into a new region and sodium_free wipes the old one, so no stale
 * copy of secret bytes is left in the heap.
 */
struct gvec {
	unsigned char	*p;
	size_t		 len;	/* bytes in use */
	size_t		 cap;
};

int	gvec_reserve(struct gvec *v, size_t add) AL_WUR;
int	gvec_append(struct gvec *v, const void *p, size_t n) AL_WUR;
void	gvec_release(struct gvec *v);

/*
 * One pattern: bytes at arena[off..off+len).  lead_mask/lead_val describe
 * the partial base64 character that may precede a base64 core: a base64
 * character c before the match is masked too when
 * (value(c) & lead_mask) == lead_val.  lead_mask 0: no such character.
 */
struct rx_pat {
	uint32_t	off;
	uint32_t	len;
	uint32_t	value;		/* index of the value (its label) */
	uint32_t	same;		/* next pattern with the same bytes */
	uint8_t		lead_mask;
	uint8_t		lead_val;
	uint8_t		dup;		/* same bytes, value and lead as another */
	uint8_t		wrap;		/* hex or base64 */
};

/*
 * The compiled automaton, one guarded region.  States are numbered
 *   [0, nhot)        dense rows, no output  (the fast path)
 *   [nhot, ndense)   dense rows, with output
 *   [ndense, nstate) sparse: children in the edge arrays, else fail link
 * and a state is carried around premultiplied by ncls, the row width, so a
 * dense step is one load: t = dense[t + cls[byte]].
 */
struct rx_ac {
	uint32_t	 nstate, ndense, nhot, ncls;
	uint32_t	 hot_limit;	/* nhot * ncls */
	uint32_t	 dense_limit;	/* ndense * ncls */
	uint32_t	 npat;
	uint32_t	 maxlen;	/* longest pattern */
	int		 has_lead;	/* some pattern has a lead character */
	uint16_t	 cls[256];	/* byte -> column */
	uint8_t		 b64val[256];	/* base64 value of a byte, 0xff: none */
	uint8_t		 lead_ok[256];	/* may be the lead of some pattern */
	uint32_t	*dense;		/* ndense * ncls premultiplied targets */
	uint32_t	*fail;		/* per state: fail link (state id) */
	uint32_t	*depth;		/* per state: length of its string */
	uint32_t	*out;		/* per state: first pattern, RX_NONE */
	uint32_t	*dict;		/* per state: next state with output */
	uint32_t	*rep;		/* per state: value of a pattern through it */
	uint32_t	*eoff;		/* sparse state s: edges [eoff[s-ndense], +1) */
	uint16_t	*ecls;
	uint32_t	*eto;
	uint8_t		*trig;		/* per state: RX_TRIG_* */
	/*
	 * The skip filter (scan.c): skip is set when every string of two
	 * bytes that begins a path of the automaton passes skip_tab (rows:
	 * the first byte's low and high nibble, the second's), up to eight
	 * groups as bits, few other pairs do, and the processor has AVX2.
	 */
	int		 skip;
	uint8_t		 skip_tab[4][16];
	const struct rx_pat *pat;	/* r->pats, read-only after compile */
	size_t		 size;		/* bytes of the whole region */
};

struct redact {
	int		 compiled;
	size_t		 nvalue;
	char		**label;	/* "[REDACTED:name]" per value */
	size_t		*label_len;
	struct gvec	 arena;		/* pattern bytes (guarded) */
	struct gvec	 pats;		/* struct rx_pat (guarded) */
	struct rx_ac	*ac;		/* after compile */
	/*
	 * The hex and base64 patterns again, in their own automaton, which a
	 * stream runs only across line breaks inside a run of those
	 * characters (see stream.c), from a line break the first automaton
	 * reports (RX_TRIG_*).
	 */
	struct gvec	 wpats;
	struct rx_ac	*wac;
	size_t		 wspan;		/* widest wrapped match */
	redact_rule_fn	 rule_fn;
	void		*rule_arg;
	size_t		 rule_max;
	/* Set by redact_use_scan: its adapter, freed with the set. */
	void		*rule_owned;
	void		(*rule_owned_free)(void *);
	const char	*rule_error;	/* a lazy load's failure, or "" */
	size_t		 max_held;
	size_t		 hold_values;	/* held after a write */
};

/* Add one pattern for value (copies the bytes).  encode.c helpers use it. */
int	rx_pat_add(struct redact *r, const unsigned char *p, size_t n,
	    uint32_t value, uint8_t lead_mask, uint8_t lead_val) AL_WUR;
/* The same for hex and base64, which are also matched wrapped into lines. */
int	rx_pat_add_wrap(struct redact *r, const unsigned char *p, size_t n,
	    uint32_t value, uint8_t lead_mask, uint8_t lead_val) AL_WUR;

/*
 * Wrapped encodings: a line break (LF or CRLF) joins two runs of hex or
 * base64 characters when the line before it ends with at least
 * RX_WRAP_MIN of them ("=" padding aside); the patterns of wpats are
 * matched across such breaks.
 */
#define RX_WRAP_MIN	16
/* Generate every pattern of value v[0..n) (encode.c). */
int	rx_gen_patterns(struct redact *r, uint32_t value,
	    const unsigned char *v, size_t n) AL_WUR;

/*
 * Build an automaton over the patterns in pats (automaton.c); with
 * triggers, its states also report the line breaks that a wrapped pattern
 * may cross (RX_TRIG_LF: the LF just read; RX_TRIG_LF2: the LF three bytes
 * back), as events like a match's.  Triggers are set up for the first
 * RX_TRIG_DEPTH characters of each pattern: lines up to that long.
 */
#define RX_TRIG_LF	1
#define RX_TRIG_LF2	2
#define RX_TRIG_DEPTH	4096
int	rx_ac_build(const struct redact *r, struct gvec *pats, int triggers,
	    struct rx_ac **out, struct al_err *err) AL_WUR;
void	rx_ac_free(struct rx_ac *ac);

/* One automaton step from state id on column c, for sparse states. */
uint32_t rx_ac_step(const struct rx_ac *ac, uint32_t id, uint16_t c);

/*
 * The rule matcher on a second thread (rule_worker.c): post a window
 * a[0..na) + b[0..nb) (both must stay unchanged until the job's copy is
 * made, or until the wait when it is not), do other work, then wait: the
 * matcher's result, and its hits (offsets in the window) passed to hit, or
 * dropped when hit is NULL.  One job at a time.  With keep, the worker
 * always copies the window into its own guarded buffer, which
 * rule_worker_copied returns (NULL if the copy failed) and which stays
 * valid until the next post.
 */
/*
 * Armored blocks (PEM, OpenSSH, PGP keys) for the rules (rule_worker.c):
 * 1 when the last "-----BEGIN" in p[0..n) is still open (*off: its
 * offset), -1 when the last marker is an "-----END" whose line has ended,
 * 0 when there is no marker.  RX_ARMOR_SEAM: longest marker prefix that
 * matters across two pieces.
 */
#define RX_ARMOR_SEAM	16
int	rx_armor(const unsigned char *p, size_t n, size_t *off);

struct rule_worker;
int	rule_worker_new(const struct redact *r, struct rule_worker **out)
	    AL_WUR;
void	rule_worker_post(struct rule_worker *w, const unsigned char *a,
	    size_t na, const unsigned char *b, size_t nb, int keep);
const unsigned char *rule_worker_copied(struct rule_worker *w);
int	rule_worker_wait(struct rule_worker *w, redact_hit_fn hit,
	    void *hit_arg) AL_WUR;
/* Wipe the kept copy of the last window (after the wait). */
void	rule_worker_wipe(struct rule_worker *w);
void	rule_worker_free(struct rule_worker *w);

#define RX_EVMAX	1024		/* events recorded per scan */
#define RX_LANES	8

/* Scratch for the interleaved scan (events of each lane). */
struct rx_lanes {
	uint32_t	ev[RX_LANES][2 * RX_EVMAX];
};

/*
 * Set up the skip filter of a built automaton (scan.c), or leave it off:
 * when a state of one byte has output, when other pairs pass the filter
 * too often (more than 1 in 256 random pairs), or without AVX2.
 */
void	rx_skip_build(struct rx_ac *ac);

/*
 * Run the automaton over p[0..n) from state *tp (premultiplied), recording
 * in ev the end offset (1-based, within p) and state id of every state with
 * output, at most RX_EVMAX.  Returns the bytes consumed: n, or fewer when
 * the events filled up (scan.c).
 */
size_t	rx_scan(const struct rx_ac *ac, uint32_t *tp, const unsigned char *p,
	    size_t n, uint32_t *ev, size_t *nev, struct rx_lanes *lanes);

/*
 * For tests: call fn for every distinct compiled pattern in pattern order
 * (the order masks are added in on a tie).  The bytes are secret material.
 */
typedef void (*rx_pat_fn)(void *arg, const unsigned char *p, size_t n,
    uint32_t value, uint8_t lead_mask, uint8_t lead_val);
void	rx_patterns(const struct redact *r, rx_pat_fn fn, void *arg);
/* The same for the patterns also matched wrapped (hex and base64). */
void	rx_patterns_wrapped(const struct redact *r, rx_pat_fn fn,
	    void *arg);
const char *rx_label(const struct redact *r, uint32_t value);

#endif

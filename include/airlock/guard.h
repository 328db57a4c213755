/*
 * airlock guard: a local reverse proxy in front of a model provider's API
 * that masks every known secret value, and every scanner rule hit, in the
 * bodies of the requests an agent sends, before they leave the machine.
 *
 * THE BODY
 * A request body is walked as JSON (strict RFC 8259; any depth).  Every
 * string, keys included, is decoded (escapes, \uXXXX and surrogate pairs)
 * and passed through a redactor; where a mask is needed, the bytes of the
 * string that spelled the masked text are replaced by the mask,
 * "[REDACTED:<name>]".  Nothing else changes: the body is never
 * re-serialised, so every byte outside the masked ranges is the byte the
 * agent sent, and the same body always gives the same result.  A body that
 * is not JSON is masked as text.
 *
 * After masking, the whole body is searched once more for known values
 * (and their encodings), outside strings too.  A value still present (in a
 * number, across two strings) means the body cannot be masked: it is
 * refused, never sent.  So is a body with a known value inside a
 * "thinking" or "redacted_thinking" block, whose signature the provider
 * checks byte for byte; a rule hit there is left as it is (the provider's
 * model wrote that text).
 *
 * VALUES
 * The guard never fetches a value itself: its owner supplies the
 * redactors through a load callback, called at start and then every
 * refresh period, so new and rotated secrets are picked up without a
 * restart.  While the last load failed, every request is refused (503).
 *
 * MEMORY
 * Request bodies, decoded strings and values live in guarded memory and
 * are wiped when freed.  Nothing here logs a body or a value.
 */
#ifndef AIRLOCK_GUARD_H
#define AIRLOCK_GUARD_H

#include <stddef.h>

#include "airlock/base.h"

struct redact;

#define GUARD_BODY_MAX_DEFAULT	(32u * 1024 * 1024)
#define GUARD_HITS_MAX		64	/* distinct names in one report */

/*
 * The redactors of one moment: mask (values and rules) masks strings;
 * check (values only, no rules) is the final search of the whole body.
 * Both compiled.  The guard owns them once load returns them.
 */
struct guard_sets {
	struct redact	*mask;
	struct redact	*check;
};

/* One name that was masked: a secret's name or a rule's id. */
struct guard_hit {
	char		 name[65];
	int		 rule;		/* 1: a scanner rule, 0: a secret */
	unsigned	 count;
};

/* What masking one body found. */
struct guard_findings {
	struct guard_hit hits[GUARD_HITS_MAX];
	size_t		 nhits;
	unsigned	 masks;		/* masks spliced in */
	int		 json;		/* 1: walked as JSON, 0: masked as text */
	int		 thinking;	/* a value is inside a thinking block */
	int		 residue;	/* a value remained after masking */
};

/*
 * Mask body[0..n) with sets (see THE BODY) into out, which the caller
 * initialised (sensitive, with room for the masked body).  f receives the
 * findings.  Returns 0 also when f->thinking or f->residue is set: the
 * caller refuses such a body.  AL_ETOOBIG past out's maximum, AL_ENOMEM, or
 * a redactor's error; out then holds nothing to send.
 */
int	guard_body_mask(const struct guard_sets *sets, const void *body,
	    size_t n, struct al_buf *out, struct guard_findings *f,
	    struct al_err *err) AL_WUR;

/*
 * Load the current redactors into *out.  Return 0 with both set, 0 with
 * both NULL when nothing changed since the last call, or a negative AL_E
 * code with err set (the guard then refuses requests until a load works).
 */
typedef int (*guard_load_fn)(void *arg, struct guard_sets *out,
    struct al_err *err);

/*
 * Record a masked (or refused) request durably: endpoint is the request's
 * path, f what was found, refused whether it was refused rather than sent.
 * A nonzero return refuses the request (503): nothing unaudited is sent.
 * Called from one request at a time.
 */
typedef int (*guard_audit_fn)(void *arg, const char *endpoint,
    const struct guard_findings *f, int refused, struct al_err *err);

/*
 * What a guard answered, for /metrics: forwarded (sent as it came),
 * masked (sent with masks), blocked (--block refused it), refused (any
 * other refusal of the guard's: a secret it could not mask, too big,
 * compressed, values or audit unavailable), upstream_failed (502).
 */
enum guard_outcome {
	GUARD_FORWARDED = 0,
	GUARD_MASKED,
	GUARD_BLOCKED,
	GUARD_REFUSED,
	GUARD_UPSTREAM_FAILED,
	GUARD_NOUTCOMES
};

/* The names of enum guard_outcome, as /metrics labels them. */
extern const char *const guard_outcome_names[GUARD_NOUTCOMES];

/*
 * Counts since the last report: requests by outcome, and masks by name
 * (at most GUARD_HITS_MAX names; masks of further names are counted in
 * other_masks).  Never a value.
 */
struct guard_counts {
	unsigned long long	 requests[GUARD_NOUTCOMES];
	struct guard_hit	 masks[GUARD_HITS_MAX];
	size_t			 nmasks;
	unsigned long long	 other_masks;
};

/*
 * Hand counts to whoever keeps them (the broker's /metrics).  Called from
 * guard_run, after each refresh and when it stops, only when there is
 * something to report.  A nonzero return keeps the counts for the next
 * call: nothing is lost while the receiver is away.
 */
typedef int (*guard_report_fn)(void *arg, const struct guard_counts *c,
    struct al_err *err);

struct guard_config {
	const char	*upstream;	/* https://host[:port][/path] */
	const char	*listen;	/* "127.0.0.1:PORT" or NULL: a free port */
	const char	*ca_file;	/* extra CA bundle for the upstream, or NULL */
	int		 block;		/* refuse a request carrying a secret */
	size_t		 body_max;	/* 0: GUARD_BODY_MAX_DEFAULT */
	int		 refresh_ms;	/* 0: 5000 */
	guard_load_fn	 load;
	void		*load_arg;
	guard_audit_fn	 audit;
	void		*audit_arg;
	guard_report_fn	 report;	/* NULL: counts are not reported */
	void		*report_arg;
};

struct guard;

/*
 * Check the configuration, load the values (load must succeed once), load
 * libmicrohttpd and libcurl, and start listening.  AL_EINVAL naming the bad
 * option (an upstream that is not https, except http to a loopback host; a
 * listen address that is not a loopback IPv4 address and port); AL_ESYS
 * when the address cannot be bound or a library cannot be loaded; load's
 * error.
 */
int	guard_new(const struct guard_config *cfg, struct guard **out,
	    struct al_err *err) AL_WUR;

/* The address served, "127.0.0.1:PORT". */
const char *guard_address(const struct guard *g);

/*
 * Serve until stop_fd becomes readable (a signalfd, say), refreshing the
 * values every refresh period.  0, or AL_ESYS if waiting failed.
 */
int	guard_run(struct guard *g, int stop_fd, struct al_err *err) AL_WUR;

/* Stop serving, wipe and free.  NULL is a no-op. */
void	guard_free(struct guard *g);

#endif

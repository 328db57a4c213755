/*
 * airlock policy: who may lease which secret, for how long, for what.
 *
 * A policy is a YAML file ($AIRLOCK_HOME/policy.yaml, docs/policy.md) holding
 * an ordered list of rules.  Each rule matches requests by caller selectors,
 * secret name globs, secret labels, declared intent, task, repository and
 * time windows, and says allow (with max_ttl and max_uses), deny (with a
 * reason) or approval (allow once an approver named by selectors agrees).
 *
 * Evaluation: rules are tried top to bottom and the FIRST rule whose every
 * matcher matches decides; a request no rule matches is denied.  First match
 * (as in pf's `quick` rules or a firewall chain) was chosen over
 * deny-overrides because one rule, the one `airlock policy check` names,
 * explains every decision, and the file reads in the order it is evaluated.
 * To carve an exception out of a broad allow, put the deny above it; the
 * loader rejects a rule that can never match because an earlier rule matches
 * everything.
 *
 * The caller is presented as a set of selector strings "kind:key:value"
 * (unix:uid:1000, unix:ancestor-exe:/usr/local/bin/claude, spiffe:id:...)
 * produced elsewhere (identity); this component knows only their syntax.  A
 * pattern "kind:key:glob" matches when some caller selector has the same
 * kind:key and a value the glob matches (fnmatch(3), no flags: `*` also
 * matches `/`).  A pattern starting with `!` excludes: a list matches when
 * no exclusion matches and, if it has any plain pattern, one of those does.
 *
 * Matching has three outcomes: match, no match, unknown.  A request says
 * which selector keys it could not read (the executable of another user's
 * process, a cut chain of ancestors, the working directory's repository);
 * a pattern on such a key that no known selector matches is unknown.  An
 * exclusion that is unknown excludes; a rule that is unknown decides when
 * it denies and is passed over when it allows or asks for approval: what
 * cannot be evaluated always counts against the caller.
 *
 * A loaded policy is immutable: policy_decide may be called from any thread.
 */
#ifndef AIRLOCK_POLICY_H
#define AIRLOCK_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/base.h"

#define POLICY_FILE		"policy.yaml"
#define POLICY_TEXT_MAX		(1024 * 1024)	/* bytes of YAML */
#define POLICY_RULES_MAX	1000
#define POLICY_LIST_MAX		64	/* patterns in one list */
#define POLICY_PATTERN_MAX	256	/* bytes in one pattern */
#define POLICY_ID_MAX		64	/* [a-z0-9][a-z0-9._-]* */
#define POLICY_REASON_MAX	256
#define POLICY_APPROVERS_MAX	16
#define POLICY_DEPTH_MAX	16	/* YAML nesting */
#define POLICY_DIAG_MAX		100	/* errors collected by lint */
#define POLICY_MSG_MAX		256
#define POLICY_MAX_TTL_MAX	(24 * 3600)	/* a rule's max_ttl cap */
#define POLICY_DEFAULT_MAX_TTL	300	/* max_ttl when a rule omits it */
#define POLICY_MAX_USES_MAX	1000000

struct policy;

enum policy_effect {
	POLICY_DENY = 0,
	POLICY_ALLOW,
	POLICY_APPROVAL,	/* allow once an approver agrees */
};

/* "deny", "allow", "approval". */
const char *policy_effect_name(enum policy_effect e);

/*
 * One request, all borrowed.  selectors: the caller's identity.  labels:
 * the secret's labels as "key=value".  intent, task and repo may be NULL
 * (matched as the empty string).  repo is the git remote of the caller's
 * working directory in any form git accepts; it is normalized
 * (policy_repo_normalize) before matching.  now: seconds since the epoch.
 */
struct policy_request {
	const char *const	*selectors;
	size_t			 nselectors;
	const char		*secret;
	const char *const	*labels;
	size_t			 nlabels;
	const char		*intent;
	const char		*task;
	const char		*repo;
	int64_t			 now;
	/*
	 * "kind:key" of the caller's selectors whose values may be missing
	 * (unix:exe, unix:ancestor-exe, ...: ident.unknown), and whether the
	 * repository could not be read (repo is then ignored).
	 */
	const char *const	*unknown;
	size_t			 nunknown;
	int			 repo_unknown;
};

/*
 * The outcome, self-contained (it copies what it needs from the rule, so it
 * outlives a policy reload; the broker keeps it with a pending approval).
 */
#define POLICY_USE_PROXY		1
#define POLICY_USE_PROXY_ISOLATED	2

struct policy_decision {
	enum policy_effect	effect;
	char			rule[POLICY_ID_MAX + 1];  /* "" = default deny */
	int			line;		/* of the rule; 0 = default */
	int64_t			max_ttl;	/* seconds; allow and approval */
	int			max_uses;	/* 0 = unlimited within TTL */
	/*
	 * `use: proxy` (POLICY_USE_PROXY): the value goes only through the
	 * proxy, never raw; `use: proxy-isolated` (POLICY_USE_PROXY_ISOLATED):
	 * and only for a command isolated in its own network namespace.
	 */
	int			use_proxy;
	char			reason[POLICY_REASON_MAX];
	/*
	 * "" when everything the decision looked at was known; else what
	 * could not be evaluated and what it did: "rule 'x' (line 3) matched
	 * because unix:exe could not be read", or "rule 'y' (line 9) was
	 * passed over: unix:exe could not be read".
	 */
	char			unknown[POLICY_MSG_MAX];
	size_t			napprovers;	/* approval only */
	char			approvers[POLICY_APPROVERS_MAX]
				    [POLICY_PATTERN_MAX];
};

/* One error found in a policy. */
struct policy_diag {
	int	line;			/* 1-based; 0 when not tied to a line */
	char	msg[POLICY_MSG_MAX];	/* without "file:line: " */
};

/*
 * Parse a policy from text (len bytes, at most POLICY_TEXT_MAX).  name is
 * used in messages ("policy.yaml:14: unknown key 'max_tll'").  On any error
 * returns AL_EINVAL with the first error in err, followed by how many more
 * there are; policy_lint_text lists them all.  AL_ENOMEM, AL_ETOOBIG.
 */
int	policy_load_text(const char *text, size_t len, const char *name,
	    struct policy **out, struct al_err *err) AL_WUR;

/*
 * Read and parse the policy the broker enforces.  The file must be a
 * regular file (symlinks refused), owned by the effective user or root and
 * not writable by group or others (AL_EPERM naming the path and mode):
 * whoever can write it decides who gets secrets.  AL_ENOENT if missing.
 */
int	policy_load_file(const char *path, struct policy **out,
	    struct al_err *err) AL_WUR;

/*
 * The policy in force when $AIRLOCK_HOME/policy.yaml does not exist: the
 * default written by `airlock init`, for uid (policy_default_render).
 */
int	policy_load_default(unsigned uid, struct policy **out,
	    struct al_err *err) AL_WUR;

/* Free p; NULL is a no-op. */
void	policy_free(struct policy *p);

/* Number of rules, and the name given at load. */
size_t	policy_nrules(const struct policy *p);
/*
 * Whether a rule of p names repositories (`repos:`): a caller's repository
 * is looked up only then.
 */
int	policy_needs_repo(const struct policy *p);
const char *policy_name(const struct policy *p);

/*
 * Decide r under p: the first rule that matches, or the default deny
 * (rule "", line 0, reason "no rule matched (default deny)").  d is always
 * filled.  AL_EINVAL only when r lacks a secret name.
 */
int	policy_decide(const struct policy *p, const struct policy_request *r,
	    struct policy_decision *d) AL_WUR;

/*
 * Whether a caller with the n selectors may approve a request decided as
 * d (an approval decision): 1 yes, 0 no (also for any other effect, and
 * when an approver pattern is unknown for the caller: the nunknown keys
 * of unknown).  The broker should also refuse the requesting process
 * itself.
 */
int	policy_approver_allowed(const struct policy_decision *d,
	    const char *const *selectors, size_t n,
	    const char *const *unknown, size_t nunknown);

/*
 * Notes on p for a broker that cannot read the selector keys listed in
 * unreadable ("unix:exe", "unix:ancestor-exe", ..., and "repos" for the
 * working directory) for the callers described by who ("processes of
 * other users"): one per pattern that uses them, saying what its rule
 * does then (a deny matches, an allow never does, an exclusion excludes).
 * 0 and a malloc'ed array (free(3)) of *n notes in line order, or
 * AL_ENOMEM.
 */
int	policy_unevaluable(const struct policy *p,
	    const char *const *unreadable, size_t nunreadable, const char *who,
	    struct policy_diag **out, size_t *n) AL_WUR;

/*
 * Check text as a policy and collect every error found, in line order (at
 * most POLICY_DIAG_MAX; a YAML syntax error stops the scan).  Returns 0 and
 * an array in *out of *n diagnostics (n == 0: clean; free with free(3)),
 * or AL_ENOMEM / AL_ETOOBIG.
 */
int	policy_lint_text(const char *text, size_t len,
	    struct policy_diag **out, size_t *n, struct al_err *err) AL_WUR;

/*
 * Read a policy file for lint, check or show: at most POLICY_TEXT_MAX bytes,
 * no ownership check (a candidate policy may live anywhere).  out must be
 * initialised (al_buf_init) with max >= POLICY_TEXT_MAX.
 */
int	policy_read_file(const char *path, struct al_buf *out,
	    struct al_err *err) AL_WUR;

/*
 * Append the commented default policy for uid to out: uid may lease any
 * secret for at most 15 minutes; secrets labelled approval=required need
 * approval by uid first.
 */
int	policy_default_render(unsigned uid, struct al_buf *out) AL_WUR;

/*
 * Normalize a git remote to host/path: "git@github.com:acme/api.git",
 * "https://user@GitHub.com/acme/api/" and "ssh://git@github.com:22/acme/api"
 * all become "github.com/acme/api".  A string that is not a remote is
 * copied as is.  AL_ETOOBIG if out (outsz bytes, not overlapping in) is
 * too small.
 */
int	policy_repo_normalize(const char *in, char *out, size_t outsz) AL_WUR;

#endif

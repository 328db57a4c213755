/* Private to src/policy: the YAML tree, the compiled rules, diagnostics. */
#ifndef AIRLOCK_POLICY_INT_H
#define AIRLOCK_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/policy.h"

/* ---- diagnostics -------------------------------------------------------- */

struct pdiags {
	struct policy_diag	*v;
	size_t			 n;
	size_t			 cap;
	int			 nomem;		/* an allocation failed */
	int			 librc;		/* a library did not load */
	struct al_err		 liberr;	/* which and why */
	size_t			 dropped;	/* past POLICY_DIAG_MAX */
};

void	pdiag_add(struct pdiags *d, int line, const char *fmt, ...)
	    AL_PRINTF(3, 4);
void	pdiag_sort(struct pdiags *d);

/* ---- YAML tree ---------------------------------------------------------- */

enum pnode_type { PN_SCALAR, PN_SEQ, PN_MAP };

/*
 * A node of the one YAML document, built from libyaml's event stream so
 * that anchors, aliases, tags, duplicate keys and excessive nesting are
 * refused with their line numbers.  A mapping's kids alternate key, value.
 */
struct pnode {
	enum pnode_type	  type;
	int		  line;
	char		 *str;		/* scalar, NUL terminated */
	size_t		  len;
	int		  plain;	/* scalar was not quoted */
	struct pnode	**kids;
	size_t		  nkids;
	size_t		  capkids;
};

/*
 * Parse text into *root.  Errors go to d; returns 0 (a tree, possibly with
 * errors recorded in d), 1 when no usable tree was built (the syntax error
 * is in d), or AL_ENOMEM.
 */
int	ptree_parse(const char *text, size_t len, struct pnode **root,
	    struct pdiags *d);
void	ptree_free(struct pnode *n);

/* ---- compiled policy ---------------------------------------------------- */

/* A selector pattern "kind:key:glob", or its exclusion "!kind:key:glob". */
struct psel {
	char	*pattern;	/* as written, without '!' */
	size_t	 kindlen;	/* bytes of "kind:key" */
	int	 neg;
};

struct psels {
	struct psel	*v;
	size_t		 n;
	size_t		 npos;	/* non-excluding patterns */
};

struct pglobs {
	char	**v;
	size_t	  n;
};

struct plabel {
	char	*key;
	char	*glob;
};

struct pwindow {
	unsigned	 days;		/* bit 0 Sunday .. bit 6 Saturday */
	int		 start;		/* minutes after midnight */
	int		 end;		/* exclusive; <= start wraps midnight */
	char		*tz;		/* IANA zone; NULL = UTC */
};

struct prule {
	char		 id[POLICY_ID_MAX + 1];
	int		 line;
	int		 bad;		/* had an error (lint only) */
	enum policy_effect effect;
	int		 has_callers, has_secrets, has_labels, has_intents;
	int		 has_tasks, has_repos, has_when;
	struct psels	 callers;
	struct pglobs	 secrets;
	struct plabel	*labels;
	size_t		 nlabels;
	struct pglobs	 intents;
	struct pglobs	 tasks;
	struct pglobs	 repos;
	struct pwindow	*when;
	size_t		 nwhen;
	int64_t		 max_ttl;
	int		 max_uses;
	int		 use_proxy;	/* `use: proxy` */
	char		*reason;
	struct psels	 approvers;
};

struct icu_dl;

struct policy {
	char		*name;
	struct prule	*rules;
	size_t		 nrules;
	struct icu_dl	*icu;		/* loaded by the first time window */
};

/* Compile a tree into p (rules appended); errors go to d. */
int	pcompile(const struct pnode *root, struct policy *p,
	    struct pdiags *d);
void	prule_release(struct prule *r);

/* ---- matching helpers (match.c, glob.c, timewin.c) ---------------------- */

/* NULL when p is a well-formed glob, else why not. */
const char *pglob_check(const char *p);
/* Three-valued outcome of a matcher. */
enum pmatch { PM_NO = 0, PM_UNKNOWN, PM_MATCH };

/*
 * Whether the selector list matches the caller's selectors, given the
 * "kind:key"s whose values may be missing (unknown).  When the outcome is
 * PM_UNKNOWN and why is not NULL, the first unknown key is copied there.
 */
enum pmatch psels_match(const struct psels *s, const char *const *sel,
	    size_t n, const char *const *unknown, size_t nunknown,
	    char *why, size_t whysz);
/*
 * Check a selector pattern "kind:key:glob" (without its '!'): 0 and the
 * length of "kind:key" in *kindlen, or -1 with why (whysz bytes) filled.
 */
int	psel_check(const char *pattern, size_t *kindlen, char *why,
	    size_t whysz);

/*
 * Whether name is a time zone the policy can use ("UTC" or an IANA zone
 * known to ICU).
 */
int	ptz_valid(const struct icu_dl *icu, const char *tz);
/*
 * Whether now falls within w; -1 when the zone failed at run time (or icu
 * is NULL).
 */
int	pwindow_match(const struct icu_dl *icu, const struct pwindow *w,
	    int64_t now);

#endif

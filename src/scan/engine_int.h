/* The compiled engine's layout, shared by engine.c and match.c. */
#ifndef AIRLOCK_SCAN_ENGINE_INT_H
#define AIRLOCK_SCAN_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "scan_int.h"

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <hs/hs.h>
#include <pcre2.h>

/* How far around a candidate a multi-line rule (a PEM key) may reach. */
#define SCAN_MULTILINE_SPAN (64 * 1024)

/* A rule's patterns to match with: JIT-compiled copies, or the originals. */
struct eng_codes {
	pcre2_code		 *re;
	pcre2_code		 *requires;	/* or NULL */
	pcre2_code		**allow;	/* nallow of them */
	pcre2_code		**paths;	/* npaths of them */
};

struct eng_rule {
	const struct scan_rule	 *def;
	struct eng_codes	  c;		/* compiled, never JIT: shared */
	size_t			  nallow;
	size_t			  npaths;
	size_t			  path_twin;	/* first rule with these paths */
	unsigned		  max_width;	/* UINT_MAX: unbounded */
	uint32_t		  group;
	int			  keyword_mode;
	size_t			  twin;		/* first rule with this regex,
						   or SIZE_MAX: none shares it */
	int			  follower;	/* twin is another rule */
	_Atomic unsigned	  uses;		/* candidates seen, all threads */
	struct eng_codes *_Atomic jit;	/* published once, or NULL */
};

struct scan_engine {
	struct scan_rules	 *rules;	/* private copy, enabled only */
	struct eng_rule		 *r;
	size_t			  n;
	pcre2_code		**allow;	/* global secret allowlist */
	size_t			  nallow;
	hs_database_t		 *db;
	/*
	 * The rules that apply to every path, without those limited to some
	 * (configuration files, Dockerfiles, CI workflows): what a buffer
	 * none of those apply to is scanned with.  NULL: db for all.
	 */
	hs_database_t		 *db_base;
	size_t			 *limited;	/* a rule of each path group */
	size_t			  nlimited;
	hs_scratch_t		 *proto;
	uint32_t		  max_groups;
	const char		 *cache_dir;	/* during scan_engine_new */
};

/*
 * The vectorscan expression for a rule without keywords: re with its tail
 * weakened (prefilter.c).  malloc'd; NULL when out of memory.
 */
char	*scan_prefilter_expr(const char *re);

/*
 * The patterns to match rule r with, counting a use: interpreted until r
 * has had SCAN_JIT_AFTER candidates, then JIT-compiled copies.
 */
#define SCAN_JIT_AFTER 32
const struct eng_codes *scan_rule_codes(struct eng_rule *r);

/*
 * One PCRE2 match of a rule's regex in a window: where it starts and ends
 * and where its secret group lies (gs == ge: no group).
 */
struct eng_hit {
	size_t			  m0, m1, gs, ge;
};

/*
 * The raw matches of a regex over the last window it was run on, kept per
 * group of rules sharing that regex (indexed by eng_rule.twin), so the
 * second rule of a group (a strict and a weak variant) reuses them.
 */
struct eng_window {
	uint64_t		  gen;		/* buffer it belongs to */
	size_t			  ws, we, last_end;
	struct eng_hit		 *hit;
	size_t			  n, cap;
};

struct scan_scratch {
	const struct scan_engine *e;
	hs_scratch_t		 *hs;
	pcre2_match_data	 *md;
	pcre2_match_data	 *md_small;
	pcre2_match_context	 *mctx;
	pcre2_jit_stack		 *jit;
	/*
	 * Per rule, what it knows of the buffer being scanned, valid when its
	 * stamp is gen (set at the rule's first candidate there): a buffer
	 * costs nothing for the rules that have no candidate in it.
	 */
	uint64_t		 *stamp;
	size_t			 *covered;	/* per rule: confirmed up to */
	size_t			 *last_end;	/* per rule: last match end */
	unsigned char		 *active;	/* per rule: applies to path */
	uint64_t		 *path_stamp;	/* per path_twin: path_ok valid */
	unsigned char		 *path_ok;	/* per path_twin: paths match */
	const char		 *path;		/* of the buffer, or NULL */
	signed char		 *req;		/* per rule: requires met? */
	struct scan_match	 *m;		/* matches of this buffer */
	size_t			  nm, capm;
	/* The buffer being scanned. */
	const unsigned char	 *buf;
	size_t			  len;
	uint64_t		  gen;		/* counts buffers scanned */
	struct eng_window	 *win;		/* per rule, for twin groups */
	int			  rc;
};

/* The compiled-database cache (dbcache.c). */
void	scan_db_key(const char *const *exprs, const unsigned *flags,
	    const unsigned *ids, size_t n, unsigned char key[32]);
/* A cached database and the n rules' widest matches, or NULL. */
hs_database_t *scan_db_cache_load(const char *dir, const unsigned char key[32],
	    unsigned *widths, size_t n);
void	scan_db_cache_store(const char *dir, const unsigned char key[32],
	    const unsigned *widths, size_t n, const hs_database_t *db);

#endif

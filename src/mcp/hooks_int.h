/* Private to the agent hooks (hooks.c, hooks_guard.c). */
#ifndef AIRLOCK_MCP_HOOKS_INT_H
#define AIRLOCK_MCP_HOOKS_INT_H

#include <jansson.h>

#include "airlock/mcp.h"

#define HOOK_NAMES_MAX	256

struct redact;
struct scan_engine;

/* What a hook looks for: known values and rule hits, in one redactor. */
struct hook_guard {
	struct redact		*r;
	char			*names[HOOK_NAMES_MAX];	/* secrets masked */
	size_t			 nnames;
	struct scan_engine	*engine;		/* secret rules */
	struct mcp_hook_answer	*a;	/* where findings are recorded */
	unsigned long long	 masks;	/* over every check so far */
};

/*
 * Fetch every value policy grants with intent `hook` (denials skipped),
 * build the redactor with them and the built-in secret rules, revoke the
 * leases.  Findings are recorded in a.
 */
int	guard_open(const struct mcp_hook_config *cfg, struct hook_guard *g,
	    struct mcp_hook_answer *a, struct al_err *err);
void	guard_close(struct hook_guard *g);
/*
 * A copy of j with every string (at any depth) redacted; *hits counts the
 * masks made.  Secret names and rule ids found go into the answer.
 */
int	guard_json(struct hook_guard *g, json_t *j, json_t **out,
	    unsigned long long *hits, struct al_err *err);

#endif

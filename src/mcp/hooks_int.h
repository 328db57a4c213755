/* Private to the agent hooks (hooks.c, hooks_guard.c). */
#ifndef AIRLOCK_MCP_HOOKS_INT_H
#define AIRLOCK_MCP_HOOKS_INT_H

#include <jansson.h>

#include "airlock/mcp.h"

struct redact;
struct scan_engine;

struct client;

/*
 * What a hook looks for: known values (masked by the broker) and rule hits
 * (masked here).
 */
struct hook_guard {
	struct client		*cl;		/* the broker */
	struct redact		*r;		/* the rules, no values */
	struct scan_engine	*engine;		/* secret rules */
	struct mcp_hook_answer	*a;	/* where findings are recorded */
	unsigned long long	 masks;	/* over every check so far */
};

/*
 * Build the redactor of the built-in secret rules and connect to the
 * broker, which masks the known values.  Findings are recorded in a.
 */
int	guard_open(const struct mcp_hook_config *cfg, struct hook_guard *g,
	    struct mcp_hook_answer *a, struct al_err *err);
void	guard_close(struct hook_guard *g);
/*
 * A copy of j with every string (at any depth) redacted: known values by
 * the broker in one request (intent `hook`), then the rules; *hits counts
 * the masks made.  Secrets whose whole value was found and rule ids go
 * into the answer.
 */
int	guard_json(struct hook_guard *g, json_t *j, json_t **out,
	    unsigned long long *hits, struct al_err *err);

#endif

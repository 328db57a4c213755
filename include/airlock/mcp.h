/*
 * airlock mcp: a Model Context Protocol server on stdio.
 *
 * Wire format: JSON-RPC 2.0, one message per line (newline-delimited JSON,
 * no embedded newlines), nothing but MCP messages on the output descriptor;
 * diagnostics go to the configured log stream (stderr).
 *
 * Protocol revisions served (docs/mcp.md has the full matrix):
 *   - the initialize-handshake era: 2025-03-26, 2025-06-18, 2025-11-25
 *     (version negotiation in `initialize`, `notifications/initialized`,
 *     `ping`, JSON-RPC batches for 2025-03-26);
 *   - the stateless era: 2026-07-28, selected per request by
 *     `_meta["io.modelcontextprotocol/protocolVersion"]` (with the client's
 *     capabilities in `_meta["io.modelcontextprotocol/clientCapabilities"]`),
 *     `server/discover`, `resultType` on every result, `ttlMs`/`cacheScope`
 *     on list results, -32022 for an unsupported revision.
 *
 * Tools are listed in a fixed order and only when the component behind them
 * is built in.  No tool ever returns a secret value: tool output passes
 * through the redactor inside the server before a byte is written.
 *
 * Nothing here keeps global state: everything hangs off struct mcp_server.
 */
#ifndef AIRLOCK_MCP_H
#define AIRLOCK_MCP_H

#include <stddef.h>
#include <stdio.h>

#include "airlock/base.h"

/* Protocol revisions, newest first within each era. */
#define MCP_MODERN_VERSION	"2026-07-28"
#define MCP_LATEST_LEGACY	"2025-11-25"

/* JSON-RPC and MCP error codes used on the wire. */
#define MCP_PARSE_ERROR		(-32700)
#define MCP_INVALID_REQUEST	(-32600)
#define MCP_METHOD_NOT_FOUND	(-32601)
#define MCP_INVALID_PARAMS	(-32602)
#define MCP_INTERNAL_ERROR	(-32603)
#define MCP_UNSUPPORTED_VERSION	(-32022)

/* Largest message accepted on the wire (a longer line is a parse error). */
#define MCP_MAX_MESSAGE		(4u * 1024 * 1024)

struct mcp_server;

struct mcp_config {
	const char		*home;	/* $AIRLOCK_HOME (borrowed) */
	const char		*socket_path;	/* NULL: home/airlockd.sock */
	/* Start a broker when none answers (`<airlock_bin> serve`); NULL: no. */
	const char		*airlock_bin;
	const struct al_clock	*clock;	/* NULL: the system clock */
	FILE			*log;	/* diagnostics; NULL: none */
	int			 verbose; /* log every message's method */
	/* Compiled rules kept here between runs (see scan.h); NULL: none. */
	const char		*cache_dir;
};

/* Create a server. cfg is copied; the strings it points to are borrowed. */
int	mcp_server_new(const struct mcp_config *cfg, struct mcp_server **out)
	    AL_WUR;
void	mcp_server_free(struct mcp_server *s);

/*
 * The transport-free dispatcher: handle one message (len bytes of JSON, not
 * necessarily NUL terminated) and set *resp to the reply as one line of JSON
 * without the newline (malloc'd, the caller frees it), or NULL when the
 * message calls for no reply (a notification, a response, a cancelled
 * request).  Tool calls run to completion inline; progress notifications are
 * not produced here.  Never fails on malformed input (that is a JSON-RPC
 * error reply); returns AL_ENOMEM only.
 */
int	mcp_handle(struct mcp_server *s, const char *msg, size_t len,
	    char **resp) AL_WUR;

/*
 * Serve on in_fd/out_fd until in_fd reaches end of file: read one message
 * per line, answer each, run slow tool calls (`run`, `scan` of a path) on
 * their own threads so `notifications/cancelled` and `ping` are served
 * meanwhile, send `notifications/progress` for calls that carry a
 * progressToken.  At end of input every running call is cancelled and
 * waited for.  Returns 0 on end of input, AL_EIO when out_fd fails.
 */
int	mcp_serve(struct mcp_server *s, int in_fd, int out_fd,
	    struct al_err *err) AL_WUR;

/* ---- agent hooks (`airlock hook claude|codex|cursor`) -------------------- */

/*
 * One hook invocation of a coding agent: its JSON input (as the agent
 * documents it) in, the answer out.  What is looked for, in every string
 * of the tool input, the tool output or the prompt:
 *   - the whole live value of any secret the policy would let the caller
 *     lease with intent `hook`, and every encoding of it the redactor
 *     knows: masked by the broker (POST /v1/redact), so no value, lease or
 *     approval request is ever made here; a string ending in part of a
 *     value is not a finding;
 *   - a hit of one of the scanner's built-in secret rules.
 * What is done (docs/agents.md has the table):
 *   before a tool runs (PreToolUse, beforeShellExecution, beforeMCPExecution,
 *   beforeReadFile): deny, pointing to `airlock run`;
 *   after a tool ran (PostToolUse): replace its output with the redacted
 *   output (Claude Code: hookSpecificOutput.updatedToolOutput; Codex: block
 *   with the redacted output as the reason; Cursor's afterShellExecution
 *   cannot change the output and is only recorded);
 *   a prompt (UserPromptSubmit, beforeSubmitPrompt): block it, telling the
 *   user to `airlock secret add` the secret.
 * A known value that reached the agent (in its tool input, a tool's output
 * or a prompt) is reported in exposed[] so the caller marks the secret
 * exposed and audits it.  Fails closed: when anything goes wrong the answer
 * blocks (or withholds the output) and says why.
 */
enum mcp_hook_agent {
	MCP_HOOK_CLAUDE = 1,
	MCP_HOOK_CODEX,
	MCP_HOOK_CURSOR,
};

struct mcp_hook_config {
	const char	*home;		/* $AIRLOCK_HOME */
	const char	*socket_path;	/* NULL: home/airlockd.sock */
	const char	*airlock_bin;	/* for broker autostart; NULL: none */
	/* Compiled rules kept here between runs (see scan.h); NULL: none. */
	const char	*cache_dir;
};

#define MCP_HOOK_EXPOSED_MAX	64

struct mcp_hook_answer {
	int	 exit_code;	/* what the hook command exits with */
	char	*out;		/* stdout: one JSON line, or NULL for none */
	char	*err;		/* stderr: one line, or NULL */
	char	 event[48];	/* the event handled ("" if unknown) */
	char	 tool[128];	/* the tool named in the input, or "" */
	char	 action[16];	/* allow, deny, redact, block, record, fail */
	/* Known secrets whose value reached the agent: mark them exposed. */
	char	*exposed[MCP_HOOK_EXPOSED_MAX];
	/* The broker's proof that this process saw each value, or NULL. */
	char	*exposed_proof[MCP_HOOK_EXPOSED_MAX];
	size_t	 nexposed;
	/* Rules that hit (their ids), for messages and the audit record. */
	char	 rules[16][65];
	size_t	 nrules;
};

/*
 * Answer one hook input (len bytes of JSON).  Always fills a: on an
 * internal error too (then a->action is "fail" and the answer blocks).
 * AL_ENOMEM only when not even that could be built.
 */
int	mcp_hook_answer(const struct mcp_hook_config *cfg,
	    enum mcp_hook_agent agent, const char *input, size_t len,
	    struct mcp_hook_answer *a) AL_WUR;
void	mcp_hook_answer_release(struct mcp_hook_answer *a);
int	mcp_hook_agent_parse(const char *name, enum mcp_hook_agent *out);

/*
 * The names of the tools this build offers, in tools/list order, as a
 * NULL-terminated static array.
 */
const char *const *mcp_tool_names(void);

#endif

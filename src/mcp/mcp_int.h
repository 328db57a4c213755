/* Private declarations of the MCP server (src/mcp only). */
#ifndef AIRLOCK_MCP_INT_H
#define AIRLOCK_MCP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "airlock/mcp.h"

#define MCP_SERVER_NAME		"airlock"
#define MCP_MAX_ACTIVE		16	/* concurrent slow tool calls */
#define MCP_EOF_GRACE_MS	5000	/* for running calls at end of input */

/* Meta keys of the 2026-07-28 per-request envelope. */
#define MCP_META_VERSION	"io.modelcontextprotocol/protocolVersion"
#define MCP_META_CLIENT_CAPS	"io.modelcontextprotocol/clientCapabilities"
#define MCP_META_CLIENT_INFO	"io.modelcontextprotocol/clientInfo"
#define MCP_META_LOG_LEVEL	"io.modelcontextprotocol/logLevel"
#define MCP_META_SERVER_INFO	"io.modelcontextprotocol/serverInfo"

/* Which rules a request is answered under. */
enum mcp_era {
	MCP_ERA_LEGACY,		/* initialize handshake, 2025-xx-xx */
	MCP_ERA_MODERN,		/* stateless, 2026-07-28 */
};

struct mcp_sink;
struct scan_engine;

/* One tools/call in progress. */
struct mcp_call {
	struct mcp_server	*srv;
	struct mcp_sink		*sink;		/* NULL under mcp_handle */
	json_t			*id;		/* request id (owned) */
	json_t			*progress_token; /* or NULL (owned) */
	enum mcp_era		 era;
	int			 old_rev;	/* 2025-03-26: no structured output */
	atomic_int		 cancelled;
	int			 cancel_fd;	/* eventfd, readable once cancelled */
	double			 progress;	/* last value sent (increasing) */
	struct mcp_call		*next;		/* in the server's active list */
};

/* What a tool produced. */
struct mcp_result {
	json_t	*structured;	/* object matching outputSchema, or NULL */
	char	*text;		/* text content; NULL: structured as JSON */
	int	 is_error;
	int	 bad_args;	/* text explains: reply -32602, not a result */
};

struct mcp_tool {
	const char	*name;
	const char	*title;
	const char	*description;
	const char	*input_schema;	/* JSON text */
	const char	*output_schema;	/* JSON text */
	int		 read_only;	/* annotations */
	int		 destructive;
	int		 idempotent;
	int		 open_world;
	int		 slow;		/* own thread under mcp_serve */
	/*
	 * Run the tool.  args was validated against input_schema.  Return 0
	 * with r filled (r->is_error for a failure the model should see), or
	 * a negative AL_E code with err set for an internal failure.
	 */
	int		(*call)(struct mcp_call *c, json_t *args,
			    struct mcp_result *r, struct al_err *err);
};

struct mcp_server {
	struct mcp_config	 cfg;
	const struct mcp_tool	*const *tools;
	size_t			 ntools;
	json_t			*tool_list;	/* the tools array, built once */
	/* Legacy session state (touched by the reading thread only). */
	int			 initialized;
	char			 version[16];
	/* Slow calls in flight, guarded by lock. */
	pthread_mutex_t		 lock;
	struct mcp_call		*active;
	size_t			 nactive;
	/*
	 * One `run` at a time: a running command's task is every new child
	 * of this process (see exec.h), so two would take each other's.
	 */
	pthread_mutex_t		 run_lock;
	/* The lack of a PID namespace was logged once (run_lock). */
	int			 isolation_noted;
	/* The scanner's compiled rules, built on first use (scan_lock). */
	pthread_mutex_t		 scan_lock;
	struct scan_engine	*scan;
	/* The secret rules `run` masks in its output (scan_lock). */
	struct scan_engine	*redact_rules;
};

/* Where replies and notifications go under mcp_serve. */
struct mcp_sink {
	int		 fd;
	pthread_mutex_t	 lock;		/* one writer at a time */
	int		 failed;	/* a write failed: stop serving */
	pthread_cond_t	 idle;		/* signalled when a worker ends */
};

/* dispatch.c */
json_t	*mcp_dispatch(struct mcp_server *s, json_t *msg, struct mcp_sink *sink);
json_t	*mcp_error(json_t *id, int code, const char *msg, json_t *data);
char	*mcp_dump(json_t *j);
void	 mcp_log(struct mcp_server *s, const char *fmt, ...) AL_PRINTF(2, 3);
/* Finish a tools/call result for the era (resultType, serverInfo). */
json_t	*mcp_result_envelope(struct mcp_server *s, enum mcp_era era,
	    json_t *result);

/* The tools, one file each. */
extern const struct mcp_tool mcp_tool_list_secrets;
extern const struct mcp_tool mcp_tool_request_access;
extern const struct mcp_tool mcp_tool_run;
extern const struct mcp_tool mcp_tool_revoke;
extern const struct mcp_tool mcp_tool_scan;

struct client;
struct scan_scratch;
/* broker.c: a client connection for one call (closed with client_close). */
int	mcp_client_open(struct mcp_server *s, struct client **out,
	    struct al_err *err);
/* A tool result that is only an error message for the model. */
int	mcp_result_error(struct mcp_result *r, const char *fmt, ...)
	    AL_PRINTF(2, 3);
/* tools_scan.c: the secret rules for redaction, shared (read-only). */
int	mcp_redact_rules(struct mcp_server *s, const struct scan_engine **out,
	    struct al_err *err);
/* tools_scan.c: the compiled built-in rules, shared (read-only). */
int	mcp_scan_engine(struct mcp_server *s, const struct scan_engine **out,
	    struct al_err *err);
/* Free what the tools cached in s. */
void	mcp_tools_release(struct mcp_server *s);

/* tools.c */
extern const struct mcp_tool *const mcp_tools[];
extern const size_t mcp_ntools;
json_t	*mcp_tools_json(struct mcp_server *s);
const struct mcp_tool *mcp_tool_find(struct mcp_server *s, const char *name);
/* Run c's tool and build the CallToolResult (or a JSON-RPC error). */
json_t	*mcp_tool_invoke(struct mcp_server *s, const struct mcp_tool *t,
	    struct mcp_call *c, json_t *args);

/* schema.c: validate v against a JSON Schema subset; the message names the
 * offending parameter ("arguments.env.TOKEN: expected a string"). */
int	mcp_schema_check(json_t *schema, json_t *v, const char *path,
	    char *msg, size_t msgsz);

/* serve.c */
void	mcp_call_progress(struct mcp_call *c, double progress, double total,
	    const char *message);
int	mcp_call_is_cancelled(struct mcp_call *c);
int	mcp_sink_write(struct mcp_sink *k, json_t *msg);
/* Start c on its own thread; 0, or AL_EBUSY when too many are running. */
int	mcp_call_spawn(struct mcp_server *s, const struct mcp_tool *t,
	    struct mcp_call *c, json_t *args);
void	mcp_call_free(struct mcp_call *c);
struct mcp_call *mcp_call_new(struct mcp_server *s, struct mcp_sink *sink,
	    json_t *id, enum mcp_era era, json_t *progress_token);
void	mcp_cancel(struct mcp_server *s, json_t *request_id);

#endif

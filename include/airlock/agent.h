/*
 * airlock agent: wire airlock into a coding agent's own configuration files
 * (the MCP server entry and the hook commands), and report what is wired.
 *
 *   agent    scope    MCP server entry            hooks
 *   claude   project  ./.mcp.json                 ./.claude/settings.json
 *   claude   user     ~/.claude.json              ~/.claude/settings.json
 *   codex    project  ./.codex/config.toml        ./.codex/hooks.json
 *   codex    user     ~/.codex/config.toml        ~/.codex/hooks.json
 *   cursor   project  ./.cursor/mcp.json          ./.cursor/hooks.json
 *   cursor   user     ~/.cursor/mcp.json          ~/.cursor/hooks.json
 *
 * Editing is a merge: other servers, other hooks and every unrelated key are
 * kept (JSON files are re-indented, their content is unchanged); only the
 * "airlock" server entry and hook commands that run `airlock hook` are
 * added or replaced.  Each file is written atomically (a temporary file in
 * the same directory, fsync, rename) and keeps its mode; a symlinked file
 * is written through to its target.
 */
#ifndef AIRLOCK_AGENT_H
#define AIRLOCK_AGENT_H

#include <limits.h>
#include <stddef.h>

#include "airlock/base.h"

enum agent_kind {
	AGENT_CLAUDE,
	AGENT_CODEX,
	AGENT_CURSOR,
};

enum agent_scope {
	AGENT_SCOPE_PROJECT,
	AGENT_SCOPE_USER,
};

/* The MCP entry, the hooks, and (Codex) the user config trusting them. */
#define AGENT_MAX_FILES	3

/* What to write. */
struct agent_setup {
	enum agent_kind	 kind;
	enum agent_scope scope;
	const char	*project_dir;	/* where project files go */
	const char	*home_dir;	/* $HOME, for user files */
	const char	*command;	/* how to start airlock ("airlock" or a path) */
	const char	*airlock_home;	/* $AIRLOCK_HOME to pass on, or NULL */
	int		 with_hooks;	/* also wire `airlock hook AGENT` */
	/*
	 * Claude only: set the settings file's env.ANTHROPIC_BASE_URL to
	 * guard_url ("http://127.0.0.1:PORT", an `airlock guard`), or with
	 * unguard remove it when it names a loopback address (ours); another
	 * value is left alone.
	 */
	const char	*guard_url;
	int		 unguard;
	/*
	 * Also run `airlock sweep --fix` when a session ends (Claude Code's
	 * SessionEnd, Cursor's stop); Codex has no such event (AL_EINVAL).
	 */
	int		 with_sweep;
};

/* One file's planned change. */
struct agent_change {
	char	 path[PATH_MAX];
	char	*old_text;	/* NULL when the file does not exist */
	char	*new_text;
	int	 changed;	/* new_text differs from old_text */
	int	 user_file;	/* lives under $HOME (created mode 0600) */
};

struct agent_plan {
	struct agent_change	files[AGENT_MAX_FILES];
	size_t			nfiles;
};

/* Parse "claude", "codex", "cursor". AL_EINVAL otherwise. */
int	agent_kind_parse(const char *s, enum agent_kind *out) AL_WUR;
const char *agent_kind_name(enum agent_kind k);

/*
 * Read the agent's files and compute their new contents (the hooks file
 * only with setup->with_hooks).  Nothing is written.  AL_EINVAL (message naming the file and position) when a file
 * exists but cannot be parsed or holds the airlock entry in a form that
 * cannot be edited safely.
 */
int	agent_plan_make(const struct agent_setup *setup, struct agent_plan *plan,
	    struct al_err *err) AL_WUR;
/* Write every changed file of plan, atomically. */
int	agent_plan_apply(struct agent_plan *plan, struct al_err *err) AL_WUR;
void	agent_plan_release(struct agent_plan *plan);

/*
 * Append a unified diff ("--- PATH", "+++ PATH", hunks with three lines
 * of context) of change to out.  Nothing is appended when unchanged.
 */
int	agent_diff(const struct agent_change *change, struct al_buf *out)
	    AL_WUR;

/* What one agent has wired in one scope. */
struct agent_wiring {
	enum agent_kind	 kind;
	enum agent_scope scope;
	char		 mcp_path[PATH_MAX];
	char		 hooks_path[PATH_MAX];
	int		 mcp_present;	/* the "airlock" server entry exists */
	char		 mcp_command[512];	/* its command, "" if none */
	char		 hooks[256];	/* events running `airlock hook`, comma separated */
	/* Codex: airlock's hooks, and how many its user config trusts. */
	size_t		 trust_hooks;
	size_t		 trust_ok;
	int		 error;		/* a file exists but cannot be read */
};

/* Inspect one agent/scope; never fails on unparsable files (error set). */
void	agent_inspect(enum agent_kind kind, enum agent_scope scope,
	    const char *project_dir, const char *home_dir,
	    struct agent_wiring *out);

#endif

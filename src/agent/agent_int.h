/* Private declarations of the agent configuration component. */
#ifndef AIRLOCK_AGENT_INT_H
#define AIRLOCK_AGENT_INT_H

#include <jansson.h>

#include "airlock/agent.h"

#define AGENT_SERVER_NAME	"airlock"

/* fileio.c */
/* Read a whole text file; *out NULL (and 0) when it does not exist. */
int	agent_file_read(const char *path, char **out, struct al_err *err);
int	agent_file_replace(const char *path, const char *text, int user_file,
	    struct al_err *err);

/* How an agent lays out its hooks file. */
enum agent_hook_style {
	AGENT_HOOKS_NESTED,	/* Claude Code, Codex: event -> [{matcher, hooks: [...]}] */
	AGENT_HOOKS_FLAT,	/* Cursor: {version: 1, hooks: {event: [{command}]}} */
};

struct agent_hook_event {
	const char	*event;
	const char	*matcher;	/* NULL: no matcher (all) */
};

/* jsonedit.c */
int	agent_json_load(const char *path, const char *text, json_t **out,
	    struct al_err *err);
char	*agent_json_dump(json_t *root);
int	agent_json_set_server(json_t *root, const char *path, json_t *entry,
	    struct al_err *err);
int	agent_json_set_hooks(json_t *root, const char *path,
	    enum agent_hook_style style, const struct agent_hook_event *events,
	    const char *command, struct al_err *err);
/*
 * Set env.NAME of a settings object to value, or (value NULL) remove it when
 * it is a loopback http:// URL.  AL_EINVAL naming path when "env" or its
 * member is not what it should be (guardenv.c).
 */
int	agent_json_set_env_url(json_t *root, const char *path, const char *name,
	    const char *value, struct al_err *err);

/* Whether command runs `airlock hook AGENT` (ours, from any install). */
int	agent_hook_is_ours(const char *command);
/* Events of root whose hooks run airlock, comma separated into out. */
void	agent_json_hooks_wired(json_t *root, enum agent_hook_style style,
	    char *out, size_t outsz);

/* codextrust.c */
/*
 * Trust airlock's hooks in hooks_text (the hooks.json at hooks_path) in
 * Codex's user config: *cfg_new is cfg_old with [hooks.state."KEY"]
 * trusted_hash set for each.  AL_EINVAL when the config names one of them
 * in a form it does not edit.
 */
int	agent_codex_trust(const char *hooks_path, const char *hooks_text,
	    const char *cfg_path, const char *cfg_old, char **cfg_new,
	    struct al_err *err);
/* How many of airlock's hooks in hooks_text cfg_text trusts as they are. */
void	agent_codex_trust_status(const char *hooks_path,
	    const char *hooks_text, const char *cfg_text, size_t *ours,
	    size_t *trusted);

/* tomledit.c */
int	agent_toml_set_server(const char *path, const char *old,
	    const char *command, const char *airlock_home, char **out,
	    struct al_err *err);
/*
 * Send Codex's requests through `airlock guard` at url ("http://ADDR/v1"):
 * a top-level model_provider = "airlock-guard" line (first in the file)
 * and a [model_providers.airlock-guard] table (replaced, or appended).
 * url NULL removes exactly those, and the blank line put before the table.
 * AL_EINVAL naming the line when model_provider selects another provider.
 */
int	agent_toml_set_guard(const char *path, const char *old,
	    const char *url, char **out, struct al_err *err);
/* The command of [mcp_servers.airlock] into out; 1 found, 0 not, -1 error. */
int	agent_toml_get_server(const char *text, char *out, size_t outsz);

#endif

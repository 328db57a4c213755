/*
 * Which files each agent reads, what airlock puts in them, and the plan /
 * apply / inspect entry points.  Formats, as each agent documents them:
 *   Claude Code  .mcp.json / ~/.claude.json "mcpServers"; hooks in
 *                settings.json: event -> [{matcher, hooks: [{type:
 *                "command", command}]}].
 *   Codex        config.toml [mcp_servers.NAME] command/args/env; hooks in
 *                hooks.json next to it, same nesting as Claude Code.
 *   Cursor       mcp.json "mcpServers"; hooks.json {version: 1, hooks:
 *                {event: [{command}]}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"

static const struct agent_hook_event claude_events[] = {
	/* Every tool that can carry a value out: shell, file writes, MCP. */
	{ "PreToolUse", "Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*" },
	{ "PostToolUse", "*" },
	/* A tool that failed (Bash exiting non-zero): its output, as error. */
	{ "PostToolUseFailure", "*" },
	{ "UserPromptSubmit", NULL },
	{ NULL, NULL },
};

static const struct agent_hook_event codex_events[] = {
	{ "PreToolUse", NULL },
	{ "PostToolUse", NULL },
	{ "UserPromptSubmit", NULL },
	{ NULL, NULL },
};

static const struct agent_hook_event cursor_events[] = {
	{ "beforeShellExecution", NULL },
	{ "afterShellExecution", NULL },
	{ "beforeMCPExecution", NULL },
	{ "beforeReadFile", NULL },
	{ "beforeSubmitPrompt", NULL },
	{ NULL, NULL },
};

/* When a session ends: where `airlock sweep --fix` runs. */
static const struct agent_hook_event claude_end_events[] = {
	{ "SessionEnd", NULL },
	{ NULL, NULL },
};

static const struct agent_hook_event cursor_end_events[] = {
	{ "stop", NULL },
	{ NULL, NULL },
};

int
agent_kind_parse(const char *s, enum agent_kind *out)
{
	if (strcmp(s, "claude") == 0)
		*out = AGENT_CLAUDE;
	else if (strcmp(s, "codex") == 0)
		*out = AGENT_CODEX;
	else if (strcmp(s, "cursor") == 0)
		*out = AGENT_CURSOR;
	else
		return AL_EINVAL;
	return 0;
}

const char *
agent_kind_name(enum agent_kind k)
{
	switch (k) {
	case AGENT_CLAUDE:
		return "claude";
	case AGENT_CODEX:
		return "codex";
	case AGENT_CURSOR:
		return "cursor";
	}
	return "?";
}

/* The two files of an agent in a scope. */
static int
paths(enum agent_kind kind, enum agent_scope scope, const char *project,
    const char *home, char *mcp, char *hooks, size_t sz)
{
	const char *base = scope == AGENT_SCOPE_USER ? home : project;
	const char *m = NULL, *h = NULL;

	switch (kind) {
	case AGENT_CLAUDE:
		m = scope == AGENT_SCOPE_USER ? ".claude.json" : ".mcp.json";
		h = ".claude/settings.json";
		break;
	case AGENT_CODEX:
		m = ".codex/config.toml";
		h = ".codex/hooks.json";
		break;
	case AGENT_CURSOR:
		m = ".cursor/mcp.json";
		h = ".cursor/hooks.json";
		break;
	}
	if (base == NULL || al_path_join(mcp, sz, base, m) != 0 ||
	    al_path_join(hooks, sz, base, h) != 0)
		return AL_ETOOBIG;
	return 0;
}

/* Quote s for a POSIX shell when it holds anything special. */
static int
shell_word(struct al_buf *b, const char *s)
{
	const char *p;
	int rc;

	if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:,@%=") == strlen(s))
		return al_buf_puts(b, s);
	if ((rc = al_buf_putc(b, '\'')) != 0)
		return rc;
	for (p = s; *p != '\0'; p++) {
		rc = *p == '\'' ? al_buf_puts(b, "'\\''") : al_buf_putc(b, *p);
		if (rc != 0)
			return rc;
	}
	return al_buf_putc(b, '\'');
}

/* airlock itself, as the agent's shell runs it: [AIRLOCK_HOME=H ]CMD */
static int
airlock_word(const struct agent_setup *st, struct al_buf *b)
{
	int rc;

	if (st->airlock_home != NULL &&
	    ((rc = al_buf_puts(b, "AIRLOCK_HOME=")) != 0 ||
	    (rc = shell_word(b, st->airlock_home)) != 0 ||
	    (rc = al_buf_putc(b, ' ')) != 0))
		return rc;
	return shell_word(b, st->command);
}

static int
hook_command(const struct agent_setup *st, struct al_buf *b)
{
	int rc;

	if ((rc = airlock_word(st, b)) != 0)
		return rc;
	return al_buf_printf(b, " hook %s", agent_kind_name(st->kind));
}

/* The sweep at the end of a session (its output goes to the agent's log). */
static int
sweep_command(const struct agent_setup *st, struct al_buf *b)
{
	int rc;

	if ((rc = airlock_word(st, b)) != 0)
		return rc;
	return al_buf_puts(b, " sweep --fix");
}

static json_t *
server_entry(const struct agent_setup *st)
{
	json_t *e;

	if (st->kind == AGENT_CLAUDE)
		e = json_pack("{s:s, s:s, s:[s]}", "type", "stdio", "command",
		    st->command, "args", "mcp");
	else
		e = json_pack("{s:s, s:[s]}", "command", st->command, "args",
		    "mcp");
	if (e != NULL && st->airlock_home != NULL)
		json_object_set_new(e, "env", json_pack("{s:s}",
		    "AIRLOCK_HOME", st->airlock_home));
	return e;
}

/*
 * Claude Code attaches an @-mentioned file to the prompt without a tool
 * call, so no hook sees it; its permission rules do apply to those reads.
 * Secret files are denied in settings.json (entries added, never removed).
 */
static const char *const claude_deny[] = {
	"Read(./.env)", "Read(./.env.*)", "Read(./**/.env)",
	"Read(./**/.env.*)", "Read(./**/*.pem)", "Read(./**/*.key)",
	"Read(./**/id_rsa*)", "Read(./**/id_ed25519*)", "Read(./**/id_ecdsa*)",
	"Read(./**/credentials*)", "Read(./**/.netrc)", NULL,
};

static int
claude_permissions(json_t *root)
{
	json_t *perm, *deny, *v;
	size_t i, j;
	int have;

	if ((perm = json_object_get(root, "permissions")) == NULL) {
		if ((perm = json_object()) == NULL ||
		    json_object_set_new(root, "permissions", perm) != 0)
			return AL_ENOMEM;
	}
	if (!json_is_object(perm))
		return AL_EINVAL;
	if ((deny = json_object_get(perm, "deny")) == NULL) {
		if ((deny = json_array()) == NULL ||
		    json_object_set_new(perm, "deny", deny) != 0)
			return AL_ENOMEM;
	}
	if (!json_is_array(deny))
		return AL_EINVAL;
	for (i = 0; claude_deny[i] != NULL; i++) {
		have = 0;
		json_array_foreach(deny, j, v)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), claude_deny[i]) == 0)
				have = 1;
		if (!have && json_array_append_new(deny,
		    json_string(claude_deny[i])) != 0)
			return AL_ENOMEM;
	}
	return 0;
}

/* Finish change c: new_text decided; unchanged when equal. */
static int
settle(struct agent_change *c, char *new_text)
{
	if (new_text == NULL)
		return AL_ENOMEM;
	c->new_text = new_text;
	c->changed = c->old_text == NULL ||
	    strcmp(c->old_text, c->new_text) != 0;
	return 0;
}

/* Edit a JSON file: fn sets our entries into root. */
static int
plan_json(struct agent_change *c, const struct agent_setup *st, int hooks,
    struct al_err *err)
{
	json_t *root = NULL, *orig = NULL, *entry = NULL;
	struct al_buf cmd;
	int rc;

	al_buf_init(&cmd, 8192, 0);
	if ((rc = agent_json_load(c->path, c->old_text, &root, err)) != 0)
		goto out;
	if ((orig = json_deep_copy(root)) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	if (hooks) {
		if ((rc = hook_command(st, &cmd)) != 0)
			goto out;
		rc = agent_json_set_hooks(root, c->path, st->kind ==
		    AGENT_CURSOR ? AGENT_HOOKS_FLAT : AGENT_HOOKS_NESTED,
		    st->kind == AGENT_CLAUDE ? claude_events : st->kind ==
		    AGENT_CODEX ? codex_events : cursor_events, al_buf_str(&cmd),
		    err);
		if (rc == 0 && st->kind == AGENT_CLAUDE && (st->guard_url !=
		    NULL || st->unguard))
			rc = agent_json_set_env_url(root, c->path,
			    "ANTHROPIC_BASE_URL", st->guard_url, err);
		if (rc == 0 && st->kind == AGENT_CLAUDE &&
		    (rc = claude_permissions(root)) == AL_EINVAL)
			rc = al_err_set(err, rc, "%s: \"permissions\" (or its "
			    "\"deny\") is not what Claude Code expects; fix it "
			    "by hand", c->path);
		if (rc == 0 && st->with_sweep) {
			al_buf_reset(&cmd);
			if ((rc = sweep_command(st, &cmd)) != 0)
				goto out;
			rc = agent_json_set_hooks(root, c->path, st->kind ==
			    AGENT_CURSOR ? AGENT_HOOKS_FLAT : AGENT_HOOKS_NESTED,
			    st->kind == AGENT_CLAUDE ? claude_end_events :
			    cursor_end_events, al_buf_str(&cmd), err);
		}
	} else {
		if ((entry = server_entry(st)) == NULL) {
			rc = AL_ENOMEM;
			goto out;
		}
		rc = agent_json_set_server(root, c->path, entry, err);
	}
	if (rc != 0)
		goto out;
	/* Same content: keep the file byte for byte (no re-indentation). */
	if (c->old_text != NULL && json_equal(orig, root))
		rc = settle(c, strdup(c->old_text));
	else
		rc = settle(c, agent_json_dump(root));
out:
	json_decref(root);
	json_decref(orig);
	json_decref(entry);
	al_buf_release(&cmd);
	return rc;
}

/*
 * Codex skips hooks its user has not trusted: trust ours in the user's
 * config.toml (the --user MCP file itself, else a third change).
 */
static int
plan_codex_trust(struct agent_plan *plan, const struct agent_setup *st,
    struct al_err *err)
{
	struct agent_change *h = &plan->files[1], *c;
	char *text = NULL;
	int rc;

	if (st->home_dir == NULL || st->home_dir[0] != '/')
		return 0;	/* no user config: status says so */
	if (st->scope == AGENT_SCOPE_USER) {
		c = &plan->files[0];
	} else {
		c = &plan->files[plan->nfiles++];
		if (al_path_join(c->path, sizeof(c->path), st->home_dir,
		    ".codex/config.toml") != 0)
			return al_err_set(err, AL_ETOOBIG, "configuration path "
			    "too long");
		c->user_file = 1;
		if ((rc = agent_file_read(c->path, &c->old_text, err)) != 0)
			return rc;
	}
	if ((rc = agent_codex_trust(h->path, h->new_text, c->path,
	    c->new_text ? c->new_text : c->old_text, &text, err)) != 0)
		return rc;
	free(c->new_text);
	c->new_text = NULL;
	return settle(c, text);
}

int
agent_plan_make(const struct agent_setup *st, struct agent_plan *plan,
    struct al_err *err)
{
	struct agent_change *m, *h;
	char *text = NULL;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (st->with_sweep && (st->kind == AGENT_CODEX || !st->with_hooks))
		return al_err_set(err, AL_EINVAL, "%s has no hook that runs "
		    "when a session ends: run `airlock sweep --fix` yourself",
		    agent_kind_name(st->kind));
	m = &plan->files[0];
	h = &plan->files[1];
	plan->nfiles = st->with_hooks ? 2 : 1;
	if (paths(st->kind, st->scope, st->project_dir, st->home_dir, m->path,
	    h->path, sizeof(m->path)) != 0) {
		rc = al_err_set(err, AL_ETOOBIG, "configuration path too long");
		goto out;
	}
	m->user_file = h->user_file = st->scope == AGENT_SCOPE_USER;
	if ((rc = agent_file_read(m->path, &m->old_text, err)) != 0 ||
	    (st->with_hooks &&
	    (rc = agent_file_read(h->path, &h->old_text, err)) != 0))
		goto out;
	if (st->kind == AGENT_CODEX) {
		if ((rc = agent_toml_set_server(m->path, m->old_text,
		    st->command, st->airlock_home, &text, err)) != 0)
			goto out;
		if (st->guard_url != NULL || st->unguard) {
			char *t2 = NULL, url[160];

			if (st->guard_url != NULL && snprintf(url, sizeof(url),
			    "%s/v1", st->guard_url) >= (int)sizeof(url)) {
				free(text);
				rc = al_err_set(err, AL_EINVAL, "--guard: too "
				    "long");
				goto out;
			}
			rc = agent_toml_set_guard(m->path, text,
			    st->guard_url != NULL ? url : NULL, &t2, err);
			free(text);
			text = t2;
			if (rc != 0)
				goto out;
		}
		if ((rc = settle(m, text)) != 0)
			goto out;
	} else if ((rc = plan_json(m, st, 0, err)) != 0) {
		goto out;
	}
	if (st->with_hooks)
		rc = plan_json(h, st, 1, err);
	if (rc == 0 && st->with_hooks && st->kind == AGENT_CODEX)
		rc = plan_codex_trust(plan, st, err);
out:
	if (rc != 0) {
		if (rc == AL_ENOMEM && err != NULL && err->code == 0)
			al_err_set(err, rc, "out of memory");
		agent_plan_release(plan);
	}
	return rc;
}

int
agent_plan_apply(struct agent_plan *plan, struct al_err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < plan->nfiles; i++) {
		if (!plan->files[i].changed)
			continue;
		if ((rc = agent_file_replace(plan->files[i].path,
		    plan->files[i].new_text, plan->files[i].user_file,
		    err)) != 0)
			return rc;
	}
	return 0;
}

void
agent_plan_release(struct agent_plan *plan)
{
	size_t i;

	for (i = 0; i < AGENT_MAX_FILES; i++) {
		free(plan->files[i].old_text);
		free(plan->files[i].new_text);
		plan->files[i].old_text = plan->files[i].new_text = NULL;
	}
	plan->nfiles = 0;
}

void
agent_inspect(enum agent_kind kind, enum agent_scope scope,
    const char *project, const char *home, struct agent_wiring *w)
{
	char *text = NULL;
	json_t *root = NULL, *e;
	int found;

	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->scope = scope;
	if (paths(kind, scope, project, home, w->mcp_path, w->hooks_path,
	    sizeof(w->mcp_path)) != 0) {
		w->error = 1;
		return;
	}
	if (agent_file_read(w->mcp_path, &text, NULL) != 0) {
		w->error = 1;
	} else if (kind == AGENT_CODEX) {
		found = agent_toml_get_server(text, w->mcp_command,
		    sizeof(w->mcp_command));
		w->mcp_present = found == 1;
		w->error |= found < 0;
	} else if (text != NULL) {
		if (agent_json_load(w->mcp_path, text, &root, NULL) != 0) {
			w->error = 1;
		} else {
			e = json_object_get(json_object_get(root,
			    "mcpServers"), AGENT_SERVER_NAME);
			w->mcp_present = json_is_object(e);
			(void)snprintf(w->mcp_command, sizeof(w->mcp_command),
			    "%s", json_string_value(json_object_get(e,
			    "command")) ? json_string_value(json_object_get(e,
			    "command")) : "");
		}
		json_decref(root);
		root = NULL;
	}
	free(text);
	text = NULL;
	if (agent_file_read(w->hooks_path, &text, NULL) != 0) {
		w->error = 1;
	} else if (text != NULL) {
		if (agent_json_load(w->hooks_path, text, &root, NULL) != 0)
			w->error = 1;
		else
			agent_json_hooks_wired(root, kind == AGENT_CURSOR ?
			    AGENT_HOOKS_FLAT : AGENT_HOOKS_NESTED, w->hooks,
			    sizeof(w->hooks));
		json_decref(root);
	}
	if (kind == AGENT_CODEX && text != NULL && home != NULL) {
		char cfg[PATH_MAX], *ctext = NULL;

		if (al_path_join(cfg, sizeof(cfg), home,
		    ".codex/config.toml") == 0 &&
		    agent_file_read(cfg, &ctext, NULL) == 0)
			agent_codex_trust_status(w->hooks_path, text, ctext,
			    &w->trust_hooks, &w->trust_ok);
		free(ctext);
	}
	free(text);
}

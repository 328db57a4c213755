/*
 * `airlock hook claude|codex|cursor`: each agent's hook input in, its
 * answer out, in the formats the agents document:
 *
 *   Claude Code and Codex (same schema): hook_event_name PreToolUse
 *   (tool_name, tool_input), PostToolUse (+ tool_response),
 *   UserPromptSubmit (prompt).  Deny a tool call with hookSpecificOutput
 *   {hookEventName, permissionDecision: "deny", permissionDecisionReason};
 *   replace a tool's output with hookSpecificOutput.updatedToolOutput
 *   (Claude Code; Codex: decision "block" whose reason replaces the tool
 *   result); block a prompt with {decision: "block", reason}.
 *
 *   Cursor (.cursor/hooks.json): beforeShellExecution (command),
 *   beforeMCPExecution (tool_name, tool_input), beforeReadFile (file_path,
 *   content) answer {permission: "allow"|"deny", user_message,
 *   agent_message}; beforeSubmitPrompt (prompt) answers {continue,
 *   user_message}; afterShellExecution (command, output) cannot change
 *   anything and is only recorded.
 *
 * Messages name secrets and rules, never a value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks_int.h"
#include "mcp_int.h"

#define HOOK_INPUT_MAX	(64u * 1024 * 1024)

int
mcp_hook_agent_parse(const char *name, enum mcp_hook_agent *out)
{
	if (strcmp(name, "claude") == 0)
		*out = MCP_HOOK_CLAUDE;
	else if (strcmp(name, "codex") == 0)
		*out = MCP_HOOK_CODEX;
	else if (strcmp(name, "cursor") == 0)
		*out = MCP_HOOK_CURSOR;
	else
		return AL_EINVAL;
	return 0;
}

/* The secrets found so far are not exposed after all (or not trusted). */
static void
forget_exposed(struct mcp_hook_answer *a)
{
	size_t i;

	for (i = 0; i < a->nexposed; i++) {
		free(a->exposed[i]);
		free(a->exposed_proof[i]);
		a->exposed[i] = a->exposed_proof[i] = NULL;
	}
	a->nexposed = 0;
}

void
mcp_hook_answer_release(struct mcp_hook_answer *a)
{
	free(a->out);
	free(a->err);
	forget_exposed(a);
	memset(a, 0, sizeof(*a));
}

/* "secret 'a', 'b'" / "a github-pat token" for messages. */
static void
what_found(const struct mcp_hook_answer *a, char *out, size_t sz)
{
	size_t i, k = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < a->nexposed && k < sz; i++) {
		n = snprintf(out + k, sz - k, "%s'%s'", i ? ", " : "the live "
		    "value of secret ", a->exposed[i]);
		k += n > 0 ? (size_t)n : 0;
	}
	for (i = 0; i < a->nrules && k < sz; i++) {
		n = snprintf(out + k, sz - k, "%s%s", i == 0 ? (a->nexposed ?
		    " and a hardcoded secret (rule " : "a hardcoded secret "
		    "(rule ") : ", ", a->rules[i]);
		k += n > 0 ? (size_t)n : 0;
	}
	if (a->nrules > 0 && k < sz)
		(void)snprintf(out + k, sz - k, ")");
}

static int
set_out(struct mcp_hook_answer *a, json_t *j)
{
	if (j == NULL)
		return AL_ENOMEM;
	a->out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return a->out == NULL ? AL_ENOMEM : 0;
}

static void
set_err(struct mcp_hook_answer *a, const char *fmt, ...)
{
	va_list ap;

	free(a->err);
	va_start(ap, fmt);
	if (vasprintf(&a->err, fmt, ap) < 0)
		a->err = NULL;
	va_end(ap);
}

static const char *
str(json_t *in, const char *k)
{
	const char *s = json_string_value(json_object_get(in, k));

	return s != NULL ? s : "";
}

/* ---- the answers -------------------------------------------------------- */

static int
deny_tool(enum mcp_hook_agent ag, struct mcp_hook_answer *a,
    const char *why)
{
	char reason[1024];

	(void)snprintf(reason, sizeof(reason), "airlock: blocked: this %s "
	    "contains %s. Secrets never go into commands, files or tool "
	    "arguments: run the command with `airlock run -e VAR=SECRET -- "
	    "CMD` (or the airlock MCP tool `run`, env: {VAR: secret}) so it "
	    "gets the value without anyone seeing it.", a->tool[0] ? "tool "
	    "call" : "command", why);
	(void)snprintf(a->action, sizeof(a->action), "deny");
	if (ag == MCP_HOOK_CURSOR)
		return set_out(a, json_pack("{s:s, s:s, s:s}", "permission",
		    "deny", "user_message", reason, "agent_message", reason));
	return set_out(a, json_pack("{s:{s:s, s:s, s:s}}",
	    "hookSpecificOutput", "hookEventName", "PreToolUse",
	    "permissionDecision", "deny", "permissionDecisionReason", reason));
}

static int
deny_file(struct mcp_hook_answer *a, const char *why)
{
	char reason[1024];

	(void)snprintf(reason, sizeof(reason), "airlock: blocked: this file "
	    "contains %s, so it is not read into the conversation. Use the "
	    "secret through `airlock run` instead; `airlock scan FILE` shows "
	    "where it is.", why);
	(void)snprintf(a->action, sizeof(a->action), "deny");
	return set_out(a, json_pack("{s:s, s:s, s:s}", "permission", "deny",
	    "user_message", reason, "agent_message", reason));
}

static int
block_prompt(enum mcp_hook_agent ag, struct mcp_hook_answer *a,
    const char *why)
{
	char reason[1024];

	(void)snprintf(reason, sizeof(reason), "airlock: this prompt was not "
	    "sent: it contains %s. Keep secrets out of prompts: store it with "
	    "`airlock secret add NAME` and let the agent use it by name "
	    "(`airlock run -e VAR=NAME -- CMD`).%s", why, a->nexposed ?
	    " A stored secret that was in the prompt is now marked exposed: "
	    "rotate it." : "");
	(void)snprintf(a->action, sizeof(a->action), "block");
	if (ag == MCP_HOOK_CURSOR)
		return set_out(a, json_pack("{s:b, s:s}", "continue", 0,
		    "user_message", reason));
	return set_out(a, json_pack("{s:s, s:s}", "decision", "block",
	    "reason", reason));
}

static int
replace_output(enum mcp_hook_agent ag, struct mcp_hook_answer *a,
    const char *why, json_t *redacted)
{
	char note[1024];
	char *text = NULL;
	json_t *o;
	int rc;

	(void)snprintf(note, sizeof(note), "airlock masked %s in the output "
	    "of %s.%s", why, a->tool[0] ? a->tool : "the tool", a->nexposed ?
	    " The secret is now marked exposed and should be rotated." : "");
	(void)snprintf(a->action, sizeof(a->action), "redact");
	if (ag == MCP_HOOK_CODEX) {
		/* Codex: the reason of a block replaces the tool result. */
		text = json_is_string(redacted) ?
		    strdup(json_string_value(redacted)) :
		    json_dumps(redacted, JSON_COMPACT);
		if (text == NULL)
			return AL_ENOMEM;
		o = json_pack("{s:s, s:s+++, s:{s:s, s:s}}", "decision",
		    "block", "reason", note, " Redacted output:\n", text, "",
		    "hookSpecificOutput", "hookEventName", "PostToolUse",
		    "additionalContext", note);
		free(text);
		return set_out(a, o);
	}
	o = json_pack("{s:{s:s, s:O, s:s}}", "hookSpecificOutput",
	    "hookEventName", "PostToolUse", "updatedToolOutput", redacted,
	    "additionalContext", note);
	/* MCP tools: the field versions before 2.1.121 read. */
	if (o != NULL && strncmp(a->tool, "mcp__", 5) == 0)
		json_object_set(json_object_get(o, "hookSpecificOutput"),
		    "updatedMCPToolOutput", redacted);
	rc = set_out(a, o);
	return rc;
}

/* Fail closed: the answer that blocks, for what the event allows. */
#define WITHHELD	"[airlock: output withheld: the hook could not check it]"

/*
 * A tool output in the shape of the one withheld, every string in it
 * replaced by WITHHELD but a "type" member's (a tag such as Read's "text"):
 * Claude Code drops a replacement that does not fit the tool's output (a
 * string for Bash's {stdout, stderr, ...}) and passes the original on.
 */
static json_t *
withheld_like(json_t *j)
{
	json_t *c, *v, *nv;
	const char *k;
	size_t i;

	if (json_is_object(j)) {
		if ((c = json_object()) == NULL)
			return NULL;
		json_object_foreach(j, k, v) {
			nv = json_is_string(v) && strcmp(k, "type") == 0 ?
			    json_incref(v) : withheld_like(v);
			if (nv == NULL || json_object_set_new(c, k, nv) != 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	}
	if (json_is_array(j)) {
		if ((c = json_array()) == NULL)
			return NULL;
		json_array_foreach(j, i, v)
			if (json_array_append_new(c, withheld_like(v)) != 0) {
				json_decref(c);
				return NULL;
			}
		return c;
	}
	if (json_is_string(j))
		return json_string(WITHHELD);
	return json_incref(j);
}

/*
 * Claude Code's PostToolUse answer when the output could not be checked.
 * With the input at hand, the output's own shape; without it (an input
 * that cannot be loaded), Bash's shape when the tool is Bash, and the agent
 * is stopped ("continue": false) in case the shape was wrong.
 */
static int
withhold_claude(struct mcp_hook_answer *a, json_t *in, const char *reason)
{
	json_t *o, *out;

	if (in != NULL)
		out = withheld_like(json_object_get(in, "tool_response"));
	else if (strcmp(a->tool, "Bash") == 0)
		out = json_pack("{s:s, s:s, s:b, s:b}", "stdout", WITHHELD,
		    "stderr", "", "interrupted", 0, "isImage", 0);
	else
		out = json_string(WITHHELD);
	if (out == NULL)
		return AL_ENOMEM;
	o = json_pack("{s:{s:s, s:O, s:s}}", "hookSpecificOutput",
	    "hookEventName", "PostToolUse", "updatedToolOutput", out,
	    "additionalContext", reason);
	if (o != NULL && strncmp(a->tool, "mcp__", 5) == 0 &&
	    json_object_set(json_object_get(o, "hookSpecificOutput"),
	    "updatedMCPToolOutput", out) != 0) {
		json_decref(o);
		o = NULL;
	}
	if (o != NULL && in == NULL && (json_object_set_new(o, "continue",
	    json_false()) != 0 || json_object_set_new(o, "stopReason",
	    json_string(reason)) != 0)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(out);
	return set_out(a, o);
}

static int
fail_closed(enum mcp_hook_agent ag, struct mcp_hook_answer *a, json_t *in,
    const char *msg)
{
	char reason[768];

	(void)snprintf(reason, sizeof(reason), "airlock hook failed, so this "
	    "was blocked to be safe: %s", msg);
	free(a->out);
	a->out = NULL;
	set_err(a, "%s", reason);
	(void)snprintf(a->action, sizeof(a->action), "fail");
	a->exit_code = 2;
	if (strcmp(a->event, "PreToolUse") == 0)
		return set_out(a, json_pack("{s:{s:s, s:s, s:s}}",
		    "hookSpecificOutput", "hookEventName", "PreToolUse",
		    "permissionDecision", "deny", "permissionDecisionReason",
		    reason)) == 0 ? (a->exit_code = 0, 0) : AL_ENOMEM;
	if (strcmp(a->event, "PostToolUse") == 0 && ag == MCP_HOOK_CLAUDE)
		return withhold_claude(a, in, reason) == 0 ?
		    (a->exit_code = 0, 0) : AL_ENOMEM;
	/* Codex: a blocked PostToolUse's reason replaces the tool result. */
	if (strcmp(a->event, "PostToolUse") == 0 && ag == MCP_HOOK_CODEX)
		return set_out(a, json_pack("{s:s, s:s+}", "decision", "block",
		    "reason", WITHHELD " ", reason)) == 0 ? (a->exit_code = 0, 0) :
		    AL_ENOMEM;
	if (strcmp(a->event, "UserPromptSubmit") == 0)
		return set_out(a, json_pack("{s:s, s:s}", "decision", "block",
		    "reason", reason)) == 0 ? (a->exit_code = 0, 0) :
		    AL_ENOMEM;
	if (ag == MCP_HOOK_CURSOR && strcmp(a->event, "beforeSubmitPrompt") == 0)
		return set_out(a, json_pack("{s:b, s:s}", "continue", 0,
		    "user_message", reason));
	if (ag == MCP_HOOK_CURSOR && strncmp(a->event, "before", 6) == 0)
		return set_out(a, json_pack("{s:s, s:s, s:s}", "permission",
		    "deny", "user_message", reason, "agent_message", reason));
	/* Anything else: exit 2 and the message on stderr. */
	return 0;
}

/*
 * The hook_event_name (or tool_name) of an input that cannot be loaded (a NUL or a lone
 * surrogate escape in a tool's output, nesting deeper than the parser
 * goes, a size over the limit), so that the failure still answers in the
 * event's own terms: an exit status alone lets a PostToolUse output
 * through, since the tool already ran.  A lexer that only tracks strings
 * finds the last such key outside any string that is followed by ':' and
 * a string that is a name (a key's quotes inside a string are
 * escaped, so a tool's output cannot pose as it).
 */
static int
hook_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A name (letters, digits, "_-.") after ':' from p[j] on, into out. */
static void
event_value(const char *p, size_t n, size_t j, char *out, size_t outsz)
{
	size_t k, m;

	while (j < n && hook_ws(p[j]))
		j++;
	if (j >= n || p[j] != ':')
		return;
	for (j++; j < n && hook_ws(p[j]); j++)
		;
	if (j >= n || p[j] != '"')
		return;
	for (k = j + 1, m = 0; k < n && ((p[k] >= 'a' && p[k] <= 'z') ||
	    (p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= '0' && p[k] <= '9') ||
	    p[k] == '_' || p[k] == '-' || p[k] == '.'); k++)
		m++;
	if (k >= n || p[k] != '"' || m == 0 || m >= outsz)
		return;
	memcpy(out, p + j + 1, m);
	out[m] = '\0';
}

static void
sniff(const char *p, size_t n, const char *key, char *out, size_t outsz)
{
	size_t i = 0, j, e, kl = strlen(key);

	while (i < n) {
		if (p[i] != '"') {
			i++;
			continue;
		}
		for (j = i + 1; j < n && p[j] != '"'; j++)
			if (p[j] == '\\')
				j++;
		if (j >= n)
			return;
		e = j + 1;	/* past the string */
		if (e - i == kl + 2 && memcmp(p + i + 1, key, kl) == 0)
			event_value(p, n, e, out, outsz);
		i = e;
	}
}

/*
 * Claude Code's PostToolUseFailure (a tool that failed: Bash exiting
 * non-zero) takes no replacement output and cannot stop the agent: the
 * output has reached the agent.  What is left is to record it (the secret
 * is marked exposed, its leases revoked) and to say so.
 */
static int
record_failed(struct mcp_hook_answer *a, const char *why)
{
	char msg[1024];

	(void)snprintf(a->action, sizeof(a->action), "record");
	(void)snprintf(msg, sizeof(msg), "airlock: the output of the failed "
	    "%s contained %s; Claude Code cannot have a failed tool's output "
	    "replaced, so it reached the agent%s. Do not repeat or use it.",
	    a->tool[0] ? a->tool : "tool", why, a->nexposed ? ": the secret "
	    "is now marked exposed and its leases revoked; rotate it" : "");
	set_err(a, "%s", msg);
	return set_out(a, json_pack("{s:{s:s, s:s}, s:s}",
	    "hookSpecificOutput", "hookEventName", "PostToolUseFailure",
	    "additionalContext", msg, "systemMessage", msg));
}

/* ---- events ------------------------------------------------------------- */

enum ev_kind { EV_NONE, EV_BEFORE_TOOL, EV_AFTER_TOOL, EV_PROMPT,
	EV_AFTER_SHELL, EV_AFTER_FAIL };

struct ev_map {
	enum mcp_hook_agent	 agent;	/* 0: Claude Code and Codex */
	const char		*name;
	enum ev_kind		 kind;
	const char		*field;	/* what is checked */
};

static const struct ev_map events[] = {
	{ 0, "PreToolUse", EV_BEFORE_TOOL, "tool_input" },
	{ 0, "PostToolUse", EV_AFTER_TOOL, "tool_response" },
	{ 0, "PostToolUseFailure", EV_AFTER_FAIL, "error" },
	{ 0, "UserPromptSubmit", EV_PROMPT, "prompt" },
	{ MCP_HOOK_CURSOR, "beforeShellExecution", EV_BEFORE_TOOL, "command" },
	{ MCP_HOOK_CURSOR, "beforeMCPExecution", EV_BEFORE_TOOL, "tool_input" },
	{ MCP_HOOK_CURSOR, "beforeReadFile", EV_BEFORE_TOOL, "content" },
	{ MCP_HOOK_CURSOR, "afterShellExecution", EV_AFTER_SHELL, "output" },
	{ MCP_HOOK_CURSOR, "beforeSubmitPrompt", EV_PROMPT, "prompt" },
};

static const struct ev_map *
find_event(enum mcp_hook_agent ag, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if ((events[i].agent == MCP_HOOK_CURSOR) ==
		    (ag == MCP_HOOK_CURSOR) && strcmp(events[i].name, name) == 0)
			return &events[i];
	return NULL;
}

static int
allow(enum mcp_hook_agent ag, const struct ev_map *ev,
    struct mcp_hook_answer *a)
{
	(void)snprintf(a->action, sizeof(a->action), "allow");
	if (ag != MCP_HOOK_CURSOR || ev->kind == EV_AFTER_SHELL)
		return 0;	/* no output: go on as usual */
	if (ev->kind == EV_PROMPT)
		return set_out(a, json_pack("{s:b}", "continue", 1));
	return set_out(a, json_pack("{s:s}", "permission", "allow"));
}

static int
handle(const struct mcp_hook_config *cfg, enum mcp_hook_agent ag,
    json_t *in, struct mcp_hook_answer *a, struct al_err *err)
{
	const struct ev_map *ev;
	struct hook_guard g;
	json_t *subject, *redacted = NULL;
	unsigned long long hits = 0;
	char why[512];
	int rc, opened = 0;

	if ((ev = find_event(ag, a->event)) == NULL) {
		/* An event airlock does not guard: let it be. */
		(void)snprintf(a->action, sizeof(a->action), "allow");
		return 0;
	}
	subject = json_object_get(in, ev->field);
	if (subject == NULL || json_is_null(subject))
		return allow(ag, ev, a);
	if ((rc = guard_open(cfg, &g, a, err)) != 0)
		goto out;
	opened = 1;
	if ((rc = guard_json(&g, subject, &redacted, &hits, err)) != 0)
		goto out;
	if (hits == 0) {
		rc = allow(ag, ev, a);
		goto out;
	}
	if (strcmp(ev->name, "beforeReadFile") == 0) {
		/* The file's content is refused: it never reaches the agent. */
		what_found(a, why, sizeof(why));
		forget_exposed(a);
		rc = deny_file(a, why);
		goto out;
	}
	what_found(a, why, sizeof(why));
	switch (ev->kind) {
	case EV_BEFORE_TOOL:
		rc = deny_tool(ag, a, why);
		break;
	case EV_AFTER_TOOL:
		rc = replace_output(ag, a, why, redacted);
		break;
	case EV_PROMPT:
		rc = block_prompt(ag, a, why);
		break;
	case EV_AFTER_FAIL:
		rc = record_failed(a, why);
		break;
	default:
		/* Cursor cannot take the output back: record it. */
		(void)snprintf(a->action, sizeof(a->action), "record");
		set_err(a, "airlock: the output of a shell command contained "
		    "%s; it reached the agent (Cursor's afterShellExecution "
		    "cannot replace it)%s", why, a->nexposed ? ": the secret is "
		    "marked exposed, rotate it" : "");
		rc = 0;
		break;
	}
out:
	json_decref(redacted);
	if (opened)
		guard_close(&g);
	if (rc != 0 && err->msg[0] == '\0')
		(void)al_err_set(err, rc, "%s", al_strerror(rc));
	return rc;
}

int
mcp_hook_answer(const struct mcp_hook_config *cfg, enum mcp_hook_agent ag,
    const char *input, size_t len, struct mcp_hook_answer *a)
{
	json_error_t jerr;
	json_t *in = NULL;
	struct al_err err;
	const char *tool;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	al_err_clear(&err);
	if (len > HOOK_INPUT_MAX) {
		rc = al_err_set(&err, AL_ETOOBIG, "the hook input is over %u "
		    "bytes", HOOK_INPUT_MAX);
		goto unread;
	}
	/*
	 * A NUL is loaded as part of its string (a command's output may hold
	 * one): the strings are judged by their length, never as C strings.
	 */
	if ((in = json_loadb(input, len, JSON_ALLOW_NUL, &jerr)) == NULL ||
	    !json_is_object(in)) {
		rc = al_err_set(&err, AL_EINVAL, "the hook input is not a JSON "
		    "object (line %d, column %d: %s)", jerr.line, jerr.column,
		    in == NULL ? jerr.text : "not an object");
		json_decref(in);
		in = NULL;
		goto unread;
	}
	(void)snprintf(a->event, sizeof(a->event), "%s", str(in,
	    "hook_event_name"));
	tool = str(in, "tool_name");
	(void)snprintf(a->tool, sizeof(a->tool), "%s", tool);
	if (a->event[0] == '\0') {
		rc = al_err_set(&err, AL_EINVAL, "the hook input has no "
		    "hook_event_name");
		goto out;
	}
	rc = handle(cfg, ag, in, a, &err);
	goto out;
unread:
	sniff(input, len, "hook_event_name", a->event, sizeof(a->event));
	sniff(input, len, "tool_name", a->tool, sizeof(a->tool));
out:
	if (rc != 0) {
		/* Nothing found is trusted after a failure. */
		forget_exposed(a);
		a->nrules = 0;
		if (fail_closed(ag, a, in, err.msg) != 0) {
			json_decref(in);
			return AL_ENOMEM;
		}
	}
	json_decref(in);
	return 0;
}

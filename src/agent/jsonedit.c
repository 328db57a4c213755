/*
 * Merging airlock's entries into an agent's JSON configuration with
 * jansson: every key we do not own is kept as it was (jansson keeps object
 * order), only "mcpServers.airlock" and hook commands that run
 * `airlock hook` are added, replaced or removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"

int
agent_json_load(const char *path, const char *text, json_t **out,
    struct al_err *err)
{
	json_error_t jerr;
	json_t *root;
	size_t i;

	*out = NULL;
	for (i = 0; text != NULL && (text[i] == ' ' || text[i] == '\n' ||
	    text[i] == '\t' || text[i] == '\r'); i++)
		;
	if (text == NULL || text[i] == '\0') {
		/* A missing or empty file is an empty object. */
		if ((*out = json_object()) == NULL)
			return AL_ENOMEM;
		return 0;
	}
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return al_err_set(err, AL_EINVAL, "%s:%d:%d: not valid JSON "
		    "(%s); fix or move the file and run again", path, jerr.line,
		    jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return al_err_set(err, AL_EINVAL, "%s: the top level is not a "
		    "JSON object; fix or move the file and run again", path);
	}
	*out = root;
	return 0;
}

char *
agent_json_dump(json_t *root)
{
	char *s, *t;
	size_t n;

	if ((s = json_dumps(root, JSON_INDENT(2))) == NULL)
		return NULL;
	n = strlen(s);
	if ((t = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	return t;
}

/* root[key] as an object, created when missing. */
static json_t *
child_object(json_t *root, const char *key, const char *path,
    struct al_err *err)
{
	json_t *o = json_object_get(root, key);

	if (o == NULL) {
		o = json_object();
		if (o == NULL || json_object_set_new(root, key, o) != 0) {
			al_err_set(err, AL_ENOMEM, "out of memory");
			return NULL;
		}
		return o;
	}
	if (!json_is_object(o)) {
		al_err_set(err, AL_EINVAL, "%s: \"%s\" is not an object; fix "
		    "the file and run again", path, key);
		return NULL;
	}
	return o;
}

int
agent_json_set_server(json_t *root, const char *path, json_t *entry,
    struct al_err *err)
{
	json_t *servers;

	if ((servers = child_object(root, "mcpServers", path, err)) == NULL)
		return err != NULL ? err->code : AL_EINVAL;
	/* Replace in place, so the entry keeps its position among others. */
	if (json_object_set(servers, AGENT_SERVER_NAME, entry) != 0)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

int
agent_hook_is_ours(const char *command)
{
	static const char *const tails[] = {
		" hook claude", " hook codex", " hook cursor", " sweep --fix",
		NULL,
	};
	const char *const *t;
	size_t n, k;

	if (command == NULL || strstr(command, "airlock") == NULL)
		return 0;
	n = strlen(command);
	while (n > 0 && (command[n - 1] == ' ' || command[n - 1] == '\n'))
		n--;
	for (t = tails; *t != NULL; t++) {
		k = strlen(*t);
		if (n >= k && memcmp(command + n - k, *t, k) == 0)
			return 1;
	}
	return 0;
}

/* Whether group (nested style) is exactly our single hook. */
static int
nested_is_exactly(json_t *group, const char *matcher, const char *command)
{
	json_t *m = json_object_get(group, "matcher"), *hooks, *h;

	if (matcher == NULL ? m != NULL : (!json_is_string(m) ||
	    strcmp(json_string_value(m), matcher) != 0))
		return 0;
	hooks = json_object_get(group, "hooks");
	if (!json_is_array(hooks) || json_array_size(hooks) != 1)
		return 0;
	h = json_array_get(hooks, 0);
	return json_is_string(json_object_get(h, "command")) &&
	    strcmp(json_string_value(json_object_get(h, "command")),
	    command) == 0 &&
	    json_is_string(json_object_get(h, "type")) &&
	    strcmp(json_string_value(json_object_get(h, "type")),
	    "command") == 0;
}

/* Drop hook handlers of ours from list (nested: inside every group). */
static void
remove_ours(json_t *list, enum agent_hook_style style)
{
	size_t i, j;
	json_t *g, *hooks;

	for (i = json_array_size(list); i-- > 0;) {
		g = json_array_get(list, i);
		if (style == AGENT_HOOKS_FLAT) {
			if (agent_hook_is_ours(json_string_value(
			    json_object_get(g, "command"))))
				json_array_remove(list, i);
			continue;
		}
		hooks = json_object_get(g, "hooks");
		if (!json_is_array(hooks))
			continue;
		for (j = json_array_size(hooks); j-- > 0;)
			if (agent_hook_is_ours(json_string_value(
			    json_object_get(json_array_get(hooks, j),
			    "command"))))
				json_array_remove(hooks, j);
		if (json_array_size(hooks) == 0)
			json_array_remove(list, i);
	}
}

int
agent_json_set_hooks(json_t *root, const char *path,
    enum agent_hook_style style, const struct agent_hook_event *ev,
    const char *command, struct al_err *err)
{
	json_t *hooks, *list, *g;
	size_t i;
	int done;

	if (style == AGENT_HOOKS_FLAT && json_object_get(root, "version") ==
	    NULL)
		json_object_set_new(root, "version", json_integer(1));
	if ((hooks = child_object(root, "hooks", path, err)) == NULL)
		return err != NULL ? err->code : AL_EINVAL;
	for (; ev->event != NULL; ev++) {
		list = json_object_get(hooks, ev->event);
		if (list == NULL) {
			list = json_array();
			if (list == NULL || json_object_set_new(hooks,
			    ev->event, list) != 0)
				return al_err_set(err, AL_ENOMEM,
				    "out of memory");
		} else if (!json_is_array(list)) {
			return al_err_set(err, AL_EINVAL, "%s: hooks.%s is not "
			    "an array; fix the file and run again", path,
			    ev->event);
		}
		/* Already wired exactly as we would: leave it alone. */
		done = 0;
		json_array_foreach(list, i, g) {
			if (style == AGENT_HOOKS_NESTED ?
			    nested_is_exactly(g, ev->matcher, command) :
			    (json_is_string(json_object_get(g, "command")) &&
			    strcmp(json_string_value(json_object_get(g,
			    "command")), command) == 0 &&
			    json_object_size(g) == 1))
				done = 1;
		}
		if (done)
			continue;
		remove_ours(list, style);
		if (style == AGENT_HOOKS_FLAT)
			g = json_pack("{s:s}", "command", command);
		else if (ev->matcher != NULL)
			g = json_pack("{s:s, s:[{s:s, s:s}]}", "matcher",
			    ev->matcher, "hooks", "type", "command", "command",
			    command);
		else
			g = json_pack("{s:[{s:s, s:s}]}", "hooks", "type",
			    "command", "command", command);
		if (g == NULL || json_array_append_new(list, g) != 0)
			return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	return 0;
}

void
agent_json_hooks_wired(json_t *root, enum agent_hook_style style, char *out,
    size_t outsz)
{
	const char *event;
	json_t *list, *g, *h;
	size_t i, j, used = 0;
	int ours;

	out[0] = '\0';
	json_object_foreach(json_object_get(root, "hooks"), event, list) {
		ours = 0;
		json_array_foreach(list, i, g) {
			if (style == AGENT_HOOKS_FLAT) {
				ours |= agent_hook_is_ours(json_string_value(
				    json_object_get(g, "command")));
				continue;
			}
			json_array_foreach(json_object_get(g, "hooks"), j, h)
				ours |= agent_hook_is_ours(json_string_value(
				    json_object_get(h, "command")));
		}
		if (ours && used < outsz) {
			int n = snprintf(out + used, outsz - used, "%s%s",
			    used ? "," : "", event);

			used = n < 0 ? outsz : used + (size_t)n;
		}
	}
}

/*
 * Claude Code's settings "env" entry that sends its API requests through
 * `airlock guard` (ANTHROPIC_BASE_URL), set and removed.
 */
#include <string.h>

#include "agent_int.h"

/* An http:// URL to a loopback host: one `airlock guard` serves. */
static int
loopback_url(const char *s)
{
	return strncmp(s, "http://127.", 11) == 0 ||
	    strncmp(s, "http://localhost:", 17) == 0 ||
	    strncmp(s, "http://[::1]:", 13) == 0;
}

int
agent_json_set_env_url(json_t *root, const char *path, const char *name,
    const char *value, struct al_err *err)
{
	json_t *env = json_object_get(root, "env"), *cur;

	if (env != NULL && !json_is_object(env))
		return al_err_set(err, AL_EINVAL, "%s: \"env\" is not an object",
		    path);
	cur = env != NULL ? json_object_get(env, name) : NULL;
	if (cur != NULL && !json_is_string(cur))
		return al_err_set(err, AL_EINVAL, "%s: env.%s is not a string",
		    path, name);
	if (value == NULL) {
		/* Remove ours only: another gateway's URL is the user's. */
		if (cur != NULL && loopback_url(json_string_value(cur)))
			(void)json_object_del(env, name);
		if (env != NULL && json_object_size(env) == 0)
			(void)json_object_del(root, "env");
		return 0;
	}
	if (cur != NULL && !loopback_url(json_string_value(cur)))
		return al_err_set(err, AL_EINVAL, "%s: env.%s already sends "
		    "the agent's requests to '%s'; remove it first to put "
		    "airlock guard there", path, name, json_string_value(cur));
	if (env == NULL) {
		if ((env = json_object()) == NULL ||
		    json_object_set_new(root, "env", env) != 0)
			return AL_ENOMEM;
	}
	if (json_object_set_new(env, name, json_string(value)) != 0)
		return AL_ENOMEM;
	return 0;
}

/* Identities as JSON: a summary for audit lines, everything for whoami. */
#include <errno.h>
#include <string.h>

#include "identity_int.h"

const char *
ident_exe_error(int e)
{
	switch (e) {
	case 0:
		return "";
	case EACCES:
	case EPERM:
		return "not readable: the process is not dumpable or belongs "
		    "to another user (only root or CAP_SYS_PTRACE can see it)";
	case ENOENT:
		return "none: a kernel thread, or the process exited";
	default:
		return strerror(e);
	}
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
ident_to_json(const struct ident *id, int how)
{
	json_t *o = json_object(), *anc = json_array(), *sel = NULL, *a;
	size_t i;
	int bad = 0;

	if (o == NULL || anc == NULL)
		goto fail;
	bad |= json_object_set_new(o, "kind", json_string(id->kind ==
	    IDENT_KIND_UNIX ? "unix" : id->kind == IDENT_KIND_JWT ? "jwt" :
	    "spiffe"));
	bad |= json_object_set_new(o, "uid", json_integer(id->uid));
	bad |= json_object_set_new(o, "gid", json_integer(id->gid));
	bad |= json_object_set_new(o, "user", str_or_null(id->user));
	if (how == IDENT_JSON_FULL)
		bad |= json_object_set_new(o, "group", str_or_null(id->group));
	bad |= json_object_set_new(o, "pid", json_integer(id->pid));
	bad |= json_object_set_new(o, "exe", str_or_null(id->exe));
	if (how == IDENT_JSON_FULL) {
		if (id->exe == NULL)
			bad |= json_object_set_new(o, "exe_error",
			    json_string(ident_exe_error(id->exe_errno)));
		bad |= json_object_set_new(o, "sha256", id->sha256[0] ?
		    json_string(id->sha256) : json_null());
		bad |= json_object_set_new(o, "cgroup",
		    str_or_null(id->cgroup));
	}
	if (how == IDENT_JSON_FULL) {
		if ((a = json_array()) == NULL)
			goto fail;
		for (i = 0; i < id->ngroups; i++)
			bad |= json_array_append_new(a,
			    json_integer(id->groups[i]));
		bad |= json_object_set_new(o, "groups", a);
		bad |= json_object_set_new(o, "exe_untrusted",
		    id->exe_untrusted ? json_string(id->exe_untrusted_why) :
		    json_null());
	}
	for (i = 0; i < id->nancestors; i++) {
		if (how == IDENT_JSON_FULL)
			a = json_pack("{s:i, s:o}", "pid",
			    (int)id->ancestors[i].pid, "exe",
			    str_or_null(id->ancestors[i].exe));
		else
			a = str_or_null(id->ancestors[i].exe);
		bad |= json_array_append_new(anc, a);
	}
	bad |= json_object_set_new(o, "ancestors", anc);
	anc = NULL;
	if (how == IDENT_JSON_FULL) {
		bad |= json_object_set_new(o, "ancestors_cut",
		    json_boolean(id->ancestors_cut));
		bad |= json_object_set_new(o, "ancestry_unknown",
		    id->ancestry_unknown ? json_string(id->ancestry_why) :
		    json_null());
		if ((sel = json_array()) == NULL)
			goto fail;
		for (i = 0; i < id->nselectors; i++)
			bad |= json_array_append_new(sel,
			    json_string(id->selectors[i]));
		bad |= json_object_set_new(o, "selectors", sel);
	}
	/* What a policy had to count as unknown (audit lines too). */
	if (how == IDENT_JSON_FULL || id->nunknown > 0) {
		if ((a = json_array()) == NULL)
			goto fail;
		for (i = 0; i < id->nunknown; i++)
			bad |= json_array_append_new(a,
			    json_string(id->unknown[i]));
		bad |= json_object_set_new(o, "unknown", a);
	}
	if (bad)
		goto fail;
	return o;
fail:
	json_decref(anc);
	json_decref(o);
	return NULL;
}

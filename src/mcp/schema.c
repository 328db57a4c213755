/*
 * Validation of tool arguments against the tools' own inputSchema.
 *
 * No JSON Schema library for C is packaged in Debian, and the schemas are
 * ours and small, so this checks the subset they use: type (one or a list),
 * properties, required, additionalProperties (false or a schema), items,
 * enum, minLength, maxLength, minimum, maximum, minItems, maxItems,
 * minProperties, maxProperties and oneOf.  A keyword outside the subset is
 * ignored (and the unit tests make sure our schemas use none).  Messages
 * name the parameter by path and never quote its value.
 */
#include <stdio.h>
#include <string.h>

#include "mcp_int.h"

static int
fail(char *msg, size_t msgsz, const char *path, const char *what)
{
	(void)snprintf(msg, msgsz, "%s %s", path, what);	/* may truncate */
	return -1;
}

static int
type_is(const char *type, json_t *v)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v) || (json_is_real(v) &&
		    json_real_value(v) == (double)(long long)json_real_value(v));
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	return 0;
}

static int
check_type(json_t *type, json_t *v, const char *path, char *msg,
    size_t msgsz)
{
	char what[128];
	size_t i;
	json_t *t;

	if (json_is_string(type)) {
		if (type_is(json_string_value(type), v))
			return 0;
		(void)snprintf(what, sizeof(what), "must be %s %s",
		    strchr("aeiou", json_string_value(type)[0]) ? "an" : "a",
		    json_string_value(type));
		return fail(msg, msgsz, path, what);
	}
	if (json_is_array(type)) {
		json_array_foreach(type, i, t)
			if (json_is_string(t) && type_is(json_string_value(t), v))
				return 0;
		return fail(msg, msgsz, path, "has the wrong type");
	}
	return 0;
}

static int
check_object(json_t *schema, json_t *v, const char *path, char *msg,
    size_t msgsz)
{
	json_t *props, *req, *addl, *sub, *x;
	const char *key;
	char sub_path[256];
	size_t i;

	props = json_object_get(schema, "properties");
	req = json_object_get(schema, "required");
	addl = json_object_get(schema, "additionalProperties");
	json_array_foreach(req, i, x) {
		if (json_is_string(x) &&
		    json_object_get(v, json_string_value(x)) == NULL) {
			(void)snprintf(sub_path, sizeof(sub_path), "%s.%s",
			    path, json_string_value(x));
			return fail(msg, msgsz, sub_path, "is required");
		}
	}
	if ((x = json_object_get(schema, "minProperties")) != NULL &&
	    json_is_integer(x) &&
	    (json_int_t)json_object_size(v) < json_integer_value(x))
		return fail(msg, msgsz, path, "has too few entries");
	if ((x = json_object_get(schema, "maxProperties")) != NULL &&
	    json_is_integer(x) &&
	    (json_int_t)json_object_size(v) > json_integer_value(x))
		return fail(msg, msgsz, path, "has too many entries");
	json_object_foreach(v, key, x) {
		/* Keys are caller text: name them only when they are ours. */
		sub = json_object_get(props, key);
		if (sub != NULL) {
			(void)snprintf(sub_path, sizeof(sub_path), "%s.%s", path,
			    key);
		} else if (json_is_false(addl)) {
			(void)snprintf(sub_path, sizeof(sub_path), "%s", path);
			return fail(msg, msgsz, sub_path, "has an unknown "
			    "property (see the tool's inputSchema)");
		} else if (json_is_object(addl)) {
			sub = addl;
			(void)snprintf(sub_path, sizeof(sub_path), "%s[<key>]",
			    path);
		} else {
			continue;
		}
		if (mcp_schema_check(sub, x, sub_path, msg, msgsz) != 0)
			return -1;
	}
	return 0;
}

static int
check_array(json_t *schema, json_t *v, const char *path, char *msg,
    size_t msgsz)
{
	json_t *items, *x;
	char sub_path[256];
	size_t i;

	if ((x = json_object_get(schema, "minItems")) != NULL &&
	    json_is_integer(x) &&
	    (json_int_t)json_array_size(v) < json_integer_value(x))
		return fail(msg, msgsz, path, "has too few items");
	if ((x = json_object_get(schema, "maxItems")) != NULL &&
	    json_is_integer(x) &&
	    (json_int_t)json_array_size(v) > json_integer_value(x))
		return fail(msg, msgsz, path, "has too many items");
	items = json_object_get(schema, "items");
	if (!json_is_object(items))
		return 0;
	json_array_foreach(v, i, x) {
		(void)snprintf(sub_path, sizeof(sub_path), "%s[%zu]", path, i);
		if (mcp_schema_check(items, x, sub_path, msg, msgsz) != 0)
			return -1;
	}
	return 0;
}

static int
check_scalar(json_t *schema, json_t *v, const char *path, char *msg,
    size_t msgsz)
{
	json_t *x, *e;
	size_t i, n;
	int found;

	if ((x = json_object_get(schema, "enum")) != NULL && json_is_array(x)) {
		found = 0;
		json_array_foreach(x, i, e)
			if (json_equal(e, v))
				found = 1;
		if (!found)
			return fail(msg, msgsz, path, "is not one of the "
			    "allowed values");
	}
	if (json_is_string(v)) {
		n = json_string_length(v);
		if ((x = json_object_get(schema, "minLength")) != NULL &&
		    json_is_integer(x) && (json_int_t)n < json_integer_value(x))
			return fail(msg, msgsz, path, n == 0 ? "must not be "
			    "empty" : "is too short");
		if ((x = json_object_get(schema, "maxLength")) != NULL &&
		    json_is_integer(x) && (json_int_t)n > json_integer_value(x))
			return fail(msg, msgsz, path, "is too long");
	}
	if (json_is_number(v)) {
		double d = json_number_value(v);

		if ((x = json_object_get(schema, "minimum")) != NULL &&
		    json_is_number(x) && d < json_number_value(x))
			return fail(msg, msgsz, path, "is below the minimum");
		if ((x = json_object_get(schema, "maximum")) != NULL &&
		    json_is_number(x) && d > json_number_value(x))
			return fail(msg, msgsz, path, "is above the maximum");
	}
	return 0;
}

static const char *
alt_type(json_t *alt)
{
	const char *t = json_string_value(json_object_get(alt, "type"));

	return t != NULL ? t : "";
}

static int
check_one_of(json_t *alts, json_t *v, const char *path, char *msg,
    size_t msgsz)
{
	json_t *alt;
	size_t i, matched = 0;
	char tmp[8], what[160];
	int n;

	json_array_foreach(alts, i, alt)
		if (mcp_schema_check(alt, v, path, tmp, sizeof(tmp)) == 0)
			matched++;
	if (matched == 1)
		return 0;
	if (matched > 1)
		return fail(msg, msgsz, path, "matches more than one form");
	/* The form of the right type says best what is wrong inside it. */
	json_array_foreach(alts, i, alt)
		if (type_is(alt_type(alt), v))
			return mcp_schema_check(alt, v, path, msg, msgsz);
	n = snprintf(what, sizeof(what), "must be");
	json_array_foreach(alts, i, alt) {
		if (n < 0 || (size_t)n >= sizeof(what))
			break;
		n += snprintf(what + n, sizeof(what) - n, "%s %s %s",
		    i == 0 ? "" : " or", strchr("aeiou", alt_type(alt)[0]) ?
		    "an" : "a", alt_type(alt));
	}
	return fail(msg, msgsz, path, what);
}

int
mcp_schema_check(json_t *schema, json_t *v, const char *path, char *msg,
    size_t msgsz)
{
	json_t *x;

	if (!json_is_object(schema))
		return 0;
	if ((x = json_object_get(schema, "oneOf")) != NULL && json_is_array(x) &&
	    check_one_of(x, v, path, msg, msgsz) != 0)
		return -1;
	if ((x = json_object_get(schema, "type")) != NULL &&
	    check_type(x, v, path, msg, msgsz) != 0)
		return -1;
	if (json_is_object(v))
		return check_object(schema, v, path, msg, msgsz);
	if (json_is_array(v))
		return check_array(schema, v, path, msg, msgsz);
	return check_scalar(schema, v, path, msg, msgsz);
}

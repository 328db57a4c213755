/*
 * A thin layer over libyaml's document API: load text, walk nodes, report
 * errors as "name:line: ...".  Aliases are resolved by libyaml into shared
 * nodes, so a hostile file could make a walk revisit one node many times;
 * every node visit spends from a budget to keep that linear.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_int.h"

#define YAML_VISIT_BUDGET 2000000

int
scan_yaml_load(struct scan_yaml *y, const char *text, size_t len,
    const char *name, struct al_err *err)
{
	yaml_parser_t parser;
	int rc = 0;

	memset(y, 0, sizeof(*y));
	y->name = name;
	y->budget = YAML_VISIT_BUDGET;
	if (!yaml_parser_initialize(&parser))
		return al_err_set(err, AL_ENOMEM, "%s: cannot start the YAML "
		    "parser", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	if (!yaml_parser_load(&parser, &y->doc)) {
		rc = al_err_set(err, AL_EINVAL, "%s:%zu: %s%s%s", name,
		    parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "invalid YAML",
		    parser.context ? " " : "",
		    parser.context ? parser.context : "");
		goto out;
	}
	y->loaded = 1;
out:
	yaml_parser_delete(&parser);
	return rc;
}

void
scan_yaml_release(struct scan_yaml *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	y->loaded = 0;
}

yaml_node_t *
scan_yaml_node(struct scan_yaml *y, int id)
{
	if (y->budget == 0)
		return NULL;
	y->budget--;
	return yaml_document_get_node(&y->doc, id);
}

int
scan_yaml_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

int
scan_yaml_err(struct scan_yaml *y, const yaml_node_t *n, struct al_err *err,
    const char *fmt, ...)
{
	char msg[AL_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);	/* may truncate */
	va_end(ap);
	if (y->budget == 0)
		return al_err_set(err, AL_ETOOBIG, "%s: too many nodes (alias "
		    "loop?)", y->name);
	return al_err_set(err, AL_EINVAL, "%s:%d: %s", y->name,
	    scan_yaml_line(n), msg);
}

int
scan_yaml_str(struct scan_yaml *y, yaml_node_t *n, const char *field,
    const char **out, struct al_err *err)
{
	*out = NULL;
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return scan_yaml_err(y, n, err, "'%s' must be a string",
		    field);
	if (strlen((const char *)n->data.scalar.value) !=
	    n->data.scalar.length)
		return scan_yaml_err(y, n, err, "'%s' contains a NUL byte",
		    field);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

int
scan_yaml_strv(struct scan_yaml *y, yaml_node_t *n, const char *field,
    struct scan_strv *sv, struct al_err *err)
{
	yaml_node_item_t *it;
	yaml_node_t *c;
	const char *s;
	int rc;

	if (n != NULL && n->type == YAML_SCALAR_NODE) {
		if ((rc = scan_yaml_str(y, n, field, &s, err)) != 0)
			return rc;
		return scan_strv_push(sv, s) ? al_err_set(err, AL_ENOMEM,
		    "out of memory") : 0;
	}
	if (n == NULL || n->type != YAML_SEQUENCE_NODE)
		return scan_yaml_err(y, n, err, "'%s' must be a list of "
		    "strings", field);
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		c = scan_yaml_node(y, *it);
		if ((rc = scan_yaml_str(y, c, field, &s, err)) != 0)
			return rc;
		if (scan_strv_push(sv, s) != 0)
			return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	return 0;
}

int
scan_yaml_bool(struct scan_yaml *y, yaml_node_t *n, const char *field,
    int *out, struct al_err *err)
{
	const char *s;
	int rc;

	if ((rc = scan_yaml_str(y, n, field, &s, err)) != 0)
		return rc;
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
		*out = 0;
	else
		return scan_yaml_err(y, n, err, "'%s' must be true or false",
		    field);
	return 0;
}

int
scan_yaml_size(struct scan_yaml *y, yaml_node_t *n, const char *field,
    size_t *out, struct al_err *err)
{
	const char *s;
	char *end;
	unsigned long long v, mul = 1;
	int rc;

	if ((rc = scan_yaml_str(y, n, field, &s, err)) != 0)
		return rc;
	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end == 'K' || *end == 'k')
		mul = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1024ull * 1024 * 1024, end++;
	if (*end != '\0' || v == 0 || v > ((1ull << 32) - 1) / mul)
		goto bad;
	*out = (size_t)(v * mul);
	return 0;
bad:
	return scan_yaml_err(y, n, err, "'%s' must be a size from 1 to 4G "
	    "(e.g. 512K, 10M)", field);
}

/*
 * .airlock.yaml: a repository's additions to the built-in rules, disabled
 * rules, allowlisted paths and secrets, and the file size limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan_int.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

void
scan_config_free(struct scan_config *c)
{
	if (c == NULL)
		return;
	scan_rules_free(c->rules);
	scan_strv_free(&c->disable);
	scan_strv_free(&c->allow_paths);
	scan_strv_free(&c->allow_secrets);
	free(c);
}

static int
parse_allow(struct scan_yaml *y, yaml_node_t *n, struct scan_config *c,
    struct al_err *err)
{
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *key;
	int rc;

	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return scan_yaml_err(y, n, err, "'allow' must be a mapping with "
		    "'paths' and/or 'secrets'");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = scan_yaml_node(y, p->key);
		v = scan_yaml_node(y, p->value);
		if ((rc = scan_yaml_str(y, k, "key", &key, err)) != 0)
			return rc;
		if (strcmp(key, "paths") == 0)
			rc = scan_yaml_strv(y, v, "allow.paths",
			    &c->allow_paths, err);
		else if (strcmp(key, "secrets") == 0)
			rc = scan_yaml_strv(y, v, "allow.secrets",
			    &c->allow_secrets, err);
		else
			rc = scan_yaml_err(y, k, err, "unknown key 'allow.%s' "
			    "(expected paths, secrets)", key);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
scan_config_parse(const char *text, size_t len, const char *name,
    struct scan_config **out, struct al_err *err)
{
	struct scan_yaml y;
	struct scan_config *c = NULL;
	yaml_node_t *root, *k, *v;
	yaml_node_pair_t *p;
	const char *key;
	int rc;

	*out = NULL;
	if ((rc = scan_yaml_load(&y, text, len, name, err)) != 0)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->rules = scan_rules_alloc()) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	root = yaml_document_get_root_node(&y.doc);
	if (root == NULL)	/* an empty file configures nothing */
		goto done;
	if (root->type != YAML_MAPPING_NODE) {
		rc = scan_yaml_err(&y, root, err, "the configuration must be a "
		    "mapping (keys: rules, disable, allow, max_file_size)");
		goto out;
	}
	for (p = root->data.mapping.pairs.start;
	    p < root->data.mapping.pairs.top; p++) {
		k = scan_yaml_node(&y, p->key);
		v = scan_yaml_node(&y, p->value);
		if ((rc = scan_yaml_str(&y, k, "key", &key, err)) != 0)
			goto out;
		if (strcmp(key, "rules") == 0)
			rc = scan_rules_parse_seq(&y, v, c->rules, 0, err);
		else if (strcmp(key, "disable") == 0)
			rc = scan_yaml_strv(&y, v, "disable", &c->disable, err);
		else if (strcmp(key, "allow") == 0)
			rc = parse_allow(&y, v, c, err);
		else if (strcmp(key, "max_file_size") == 0)
			rc = scan_yaml_size(&y, v, "max_file_size",
			    &c->max_file_size, err);
		else
			rc = scan_yaml_err(&y, k, err, "unknown key '%s' "
			    "(expected rules, disable, allow, max_file_size)",
			    key);
		if (rc != 0)
			goto out;
	}
done:
	*out = c;
	c = NULL;
out:
	scan_config_free(c);
	scan_yaml_release(&y);
	return rc;
}

int
scan_config_locate(const char *dir, char **out, struct al_err *err)
{
	char *argv[] = { "git", "rev-parse", "--show-toplevel", NULL };
	struct al_buf top;
	char *nl;
	int n;

	*out = NULL;
	if (scan_git_maybe(dir) && scan_git_capture(dir, argv,
	    SCAN_CHILD_QUIET, 64 * 1024, &top, NULL) == 0 &&
	    top.len > 1) {
		if ((nl = memchr(top.data, '\n', top.len)) != NULL)
			*nl = '\0';
		n = asprintf(out, "%s/.airlock.yaml", (char *)top.data);
		al_buf_release(&top);
	} else
		n = asprintf(out, "%s/.airlock.yaml", dir);
	if (n < 0) {
		*out = NULL;
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	return 0;
}

int
scan_config_load(const char *path, struct scan_config **out,
    struct al_err *err)
{
	struct al_buf b;
	struct stat st;
	int fd = -1, rc = 0;

	*out = NULL;
	al_buf_init(&b, CONFIG_MAX_BYTES, 0);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			rc = AL_ENOENT;
		else
			rc = al_err_set(err, AL_EIO, "cannot open %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = al_err_set(err, AL_EINVAL, "%s is not a regular file",
		    path);
		goto out;
	}
	if ((rc = al_buf_read_fd(&b, fd, CONFIG_MAX_BYTES, path, err)) != 0)
		goto out;
	rc = scan_config_parse(b.len ? (const char *)b.data : "", b.len, path,
	    out, err);
out:
	if (fd != -1)
		(void)close(fd);
	al_buf_release(&b);
	return rc;
}

int
scan_rules_apply_config(struct scan_rules *r, const struct scan_config *c,
    struct al_err *err)
{
	struct scan_rule *nv;
	size_t i, j;
	int found;

	for (i = 0; i < c->disable.n; i++) {
		found = 0;
		for (j = 0; j < r->n; j++)
			if (strcmp(r->v[j].id, c->disable.v[i]) == 0) {
				r->v[j].enabled = 0;
				found = 1;
			}
		if (!found)
			return al_err_set(err, AL_EINVAL, "disable: no rule "
			    "named '%s' (see `airlock scan --list-rules`)",
			    c->disable.v[i]);
	}
	for (i = 0; i < c->rules->n; i++)
		for (j = 0; j < r->n; j++)
			if (strcmp(r->v[j].id, c->rules->v[i].id) == 0)
				return al_err_set(err, AL_EINVAL, "rule '%s' "
				    "(line %d) has the id of a built-in rule; "
				    "pick another id, or disable the built-in "
				    "one and name yours differently",
				    c->rules->v[i].id, c->rules->v[i].line);
	if (c->rules->n > 0) {
		if ((nv = realloc(r->v, (r->n + c->rules->n) *
		    sizeof(*nv))) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		r->v = nv;
		r->cap = r->n + c->rules->n;
		/*
		 * The config stays const (one config may configure several
		 * rule sets), so the added rules are copied.
		 */
		for (i = 0; i < c->rules->n; i++) {
			if (scan_rule_copy(&r->v[r->n], &c->rules->v[i]) != 0)
				return al_err_set(err, AL_ENOMEM,
				    "out of memory");
			r->n++;
		}
	}
	for (i = 0; i < c->allow_secrets.n; i++)
		if (scan_strv_push(&r->allow, c->allow_secrets.v[i]) != 0)
			return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

int
scan_config_path_allowed(const struct scan_config *c, const char *path)
{
	size_t i;

	if (c == NULL)
		return 0;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	for (i = 0; i < c->allow_paths.n; i++)
		if (fnmatch(c->allow_paths.v[i], path, 0) == 0)
			return 1;
	return 0;
}

size_t
scan_config_max_file_size(const struct scan_config *c)
{
	return c ? c->max_file_size : 0;
}

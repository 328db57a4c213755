/*
 * Rule sets: parsing the rule-file format (rules/default.yaml, the rules of
 * a .airlock.yaml) and describing rules for docs and reports.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_int.h"

#define RULE_ID_MAX 64

int
scan_strv_push(struct scan_strv *sv, const char *s)
{
	char **nv, *d;

	if ((d = strdup(s)) == NULL)
		return AL_ENOMEM;
	if ((nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv))) == NULL) {
		free(d);
		return AL_ENOMEM;
	}
	sv->v = nv;
	sv->v[sv->n++] = d;
	return 0;
}

void
scan_strv_free(struct scan_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

int
scan_strv_has(const struct scan_strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

void
scan_rule_release(struct scan_rule *r)
{
	free(r->id);
	free(r->description);
	free(r->regex);
	free(r->requires);
	free(r->example_path);
	scan_strv_free(&r->keywords);
	scan_strv_free(&r->allow);
	scan_strv_free(&r->paths);
	scan_strv_free(&r->positive);
	scan_strv_free(&r->negative);
}

static int
strv_copy(struct scan_strv *d, const struct scan_strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (scan_strv_push(d, s->v[i]) != 0)
			return AL_ENOMEM;
	return 0;
}

static int
dup_opt(char **d, const char *s)
{
	*d = NULL;
	if (s != NULL && (*d = strdup(s)) == NULL)
		return AL_ENOMEM;
	return 0;
}

int
scan_rule_copy(struct scan_rule *d, const struct scan_rule *s)
{
	int bad = 0;

	memset(d, 0, sizeof(*d));
	d->info = s->info;
	d->entropy = s->entropy;
	d->group = s->group;
	d->multiline = s->multiline;
	d->keywords_cased = s->keywords_cased;
	d->decode = s->decode;
	d->enabled = s->enabled;
	d->builtin = s->builtin;
	d->line = s->line;
	bad |= dup_opt(&d->id, s->id);
	bad |= dup_opt(&d->description, s->description);
	bad |= dup_opt(&d->regex, s->regex);
	bad |= dup_opt(&d->requires, s->requires);
	bad |= dup_opt(&d->example_path, s->example_path);
	bad |= strv_copy(&d->keywords, &s->keywords);
	bad |= strv_copy(&d->allow, &s->allow);
	bad |= strv_copy(&d->paths, &s->paths);
	bad |= strv_copy(&d->positive, &s->positive);
	bad |= strv_copy(&d->negative, &s->negative);
	d->info.id = d->id;
	d->info.description = d->description;
	if (bad) {
		scan_rule_release(d);
		return AL_ENOMEM;
	}
	return 0;
}

struct scan_rules *
scan_rules_alloc(void)
{
	return calloc(1, sizeof(struct scan_rules));
}

void
scan_rules_free(struct scan_rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		scan_rule_release(&r->v[i]);
	free(r->v);
	scan_strv_free(&r->allow);
	free(r);
}

size_t
scan_rules_count(const struct scan_rules *r)
{
	return r->n;
}

const struct scan_rule_info *
scan_rules_info(const struct scan_rules *r, size_t i)
{
	return i < r->n ? &r->v[i].info : NULL;
}

int
scan_rules_enabled(const struct scan_rules *r, size_t i)
{
	return i < r->n && r->v[i].enabled;
}

static int
valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RULE_ID_MAX || s[0] == '-')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int
parse_examples(struct scan_yaml *y, yaml_node_t *n, struct scan_rule *r,
    struct al_err *err)
{
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *key;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return scan_yaml_err(y, n, err, "rule '%s': 'examples' must be "
		    "a mapping with 'positive' and 'negative'", r->id);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = scan_yaml_node(y, p->key);
		v = scan_yaml_node(y, p->value);
		if ((rc = scan_yaml_str(y, k, "key", &key, err)) != 0)
			return rc;
		if (strcmp(key, "positive") == 0)
			rc = scan_yaml_strv(y, v, "positive", &r->positive,
			    err);
		else if (strcmp(key, "negative") == 0)
			rc = scan_yaml_strv(y, v, "negative", &r->negative,
			    err);
		else
			rc = scan_yaml_err(y, k, err, "rule '%s': unknown key "
			    "'examples.%s' (expected positive, negative)",
			    r->id, key);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
dupstr(struct scan_yaml *y, yaml_node_t *v, const char *field, char **out,
    struct al_err *err)
{
	const char *s;
	int rc;

	if ((rc = scan_yaml_str(y, v, field, &s, err)) != 0)
		return rc;
	free(*out);
	if ((*out = strdup(s)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

static int
parse_number(struct scan_yaml *y, yaml_node_t *v, const char *field,
    double min, double max, double *out, struct al_err *err)
{
	const char *s;
	char *end;
	double d;
	int rc;

	if ((rc = scan_yaml_str(y, v, field, &s, err)) != 0)
		return rc;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) ||
	    d < min || d > max)
		return scan_yaml_err(y, v, err, "'%s' must be a number from "
		    "%g to %g", field, min, max);
	*out = d;
	return 0;
}

/* One key of a rule mapping. */
static int
rule_key(struct scan_yaml *y, const char *key, yaml_node_t *k,
    yaml_node_t *v, struct scan_rule *r, struct al_err *err)
{
	const char *s;
	double d;
	int rc = 0;

	if (strcmp(key, "id") == 0)
		return dupstr(y, v, "id", &r->id, err);
	if (strcmp(key, "description") == 0)
		return dupstr(y, v, "description", &r->description, err);
	if (strcmp(key, "regex") == 0)
		return dupstr(y, v, "regex", &r->regex, err);
	if (strcmp(key, "requires") == 0)
		return dupstr(y, v, "requires", &r->requires, err);
	if (strcmp(key, "example_path") == 0)
		return dupstr(y, v, "example_path", &r->example_path, err);
	if (strcmp(key, "keywords") == 0)
		return scan_yaml_strv(y, v, "keywords", &r->keywords, err);
	if (strcmp(key, "allow") == 0)
		return scan_yaml_strv(y, v, "allow", &r->allow, err);
	if (strcmp(key, "paths") == 0)
		return scan_yaml_strv(y, v, "paths", &r->paths, err);
	if (strcmp(key, "examples") == 0)
		return parse_examples(y, v, r, err);
	if (strcmp(key, "multiline") == 0)
		return scan_yaml_bool(y, v, "multiline", &r->multiline, err);
	if (strcmp(key, "keywords_cased") == 0)
		return scan_yaml_bool(y, v, "keywords_cased",
		    &r->keywords_cased, err);
	if (strcmp(key, "generic") == 0)
		return scan_yaml_bool(y, v, "generic", &r->info.generic, err);
	if (strcmp(key, "decode") == 0) {
		if ((rc = scan_yaml_str(y, v, "decode", &s, err)) != 0)
			return rc;
		if (strcmp(s, "base64") != 0)
			return scan_yaml_err(y, v, err, "'decode' must be "
			    "base64");
		r->decode = SCAN_DECODE_BASE64;
		return 0;
	}
	if (strcmp(key, "entropy") == 0)
		return parse_number(y, v, "entropy", 0, 8, &r->entropy, err);
	if (strcmp(key, "group") == 0) {
		if ((rc = parse_number(y, v, "group", 0, 9, &d, err)) != 0)
			return rc;
		r->group = (int)d;
		return 0;
	}
	if (strcmp(key, "severity") == 0) {
		if ((rc = scan_yaml_str(y, v, "severity", &s, err)) != 0)
			return rc;
		if (strcmp(s, "error") == 0)
			r->info.severity = SCAN_SEV_ERROR;
		else if (strcmp(s, "warning") == 0)
			r->info.severity = SCAN_SEV_WARNING;
		else
			return scan_yaml_err(y, v, err, "'severity' must be "
			    "error or warning");
		return 0;
	}
	if (strcmp(key, "category") == 0) {
		if ((rc = scan_yaml_str(y, v, "category", &s, err)) != 0)
			return rc;
		if (strcmp(s, "secret") == 0)
			r->info.category = SCAN_CAT_SECRET;
		else if (strcmp(s, "unsafe") == 0)
			r->info.category = SCAN_CAT_UNSAFE;
		else
			return scan_yaml_err(y, v, err, "'category' must be "
			    "secret or unsafe");
		return 0;
	}
	return scan_yaml_err(y, k, err, "rule '%s': unknown key '%s'",
	    r->id ? r->id : "?", key);
}

static int
parse_rule(struct scan_yaml *y, yaml_node_t *n, struct scan_rules *rs,
    int builtin, struct al_err *err)
{
	struct scan_rule r, *nv;
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *key;
	size_t i;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.group = -1;
	r.enabled = 1;
	r.builtin = builtin;
	r.line = scan_yaml_line(n);
	if (n == NULL || n->type != YAML_MAPPING_NODE) {
		rc = scan_yaml_err(y, n, err, "a rule must be a mapping");
		goto out;
	}
	/* The id first, so every later error can name the rule. */
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = scan_yaml_node(y, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((char *)k->data.scalar.value, "id") == 0 &&
		    (rc = dupstr(y, scan_yaml_node(y, p->value), "id", &r.id,
		    err)) != 0)
			goto out;
	}
	if (r.id == NULL || !valid_id(r.id)) {
		rc = scan_yaml_err(y, n, err, "a rule needs an 'id' of 1-%d "
		    "characters a-z 0-9 -", RULE_ID_MAX);
		goto out;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = scan_yaml_node(y, p->key);
		v = scan_yaml_node(y, p->value);
		if ((rc = scan_yaml_str(y, k, "key", &key, err)) != 0)
			goto out;
		if (v == NULL) {
			rc = scan_yaml_err(y, k, err, "rule '%s': '%s' has no "
			    "value", r.id, key);
			goto out;
		}
		if (strcmp(key, "id") != 0 &&
		    (rc = rule_key(y, key, k, v, &r, err)) != 0)
			goto out;
	}
	if (r.regex == NULL || r.regex[0] == '\0') {
		rc = scan_yaml_err(y, n, err, "rule '%s': 'regex' is required",
		    r.id);
		goto out;
	}
	if (r.description == NULL && (r.description = strdup(r.id)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (r.info.category == 0)
		r.info.category = SCAN_CAT_SECRET;
	if (r.info.severity == 0)
		r.info.severity = r.info.category == SCAN_CAT_SECRET ?
		    SCAN_SEV_ERROR : SCAN_SEV_WARNING;
	for (i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].id, r.id) == 0) {
			rc = scan_yaml_err(y, n, err, "rule '%s' is defined "
			    "twice (first at line %d)", r.id, rs->v[i].line);
			goto out;
		}
	if (rs->n == rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 64;

		if ((nv = realloc(rs->v, ncap * sizeof(*nv))) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		rs->v = nv;
		rs->cap = ncap;
	}
	r.info.id = r.id;
	r.info.description = r.description;
	rs->v[rs->n++] = r;
	memset(&r, 0, sizeof(r));
out:
	scan_rule_release(&r);
	return rc;
}

int
scan_rules_parse_seq(struct scan_yaml *y, yaml_node_t *seq,
    struct scan_rules *r, int builtin, struct al_err *err)
{
	yaml_node_item_t *it;
	int rc;

	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
		return scan_yaml_err(y, seq, err, "'rules' must be a list of "
		    "rules");
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++)
		if ((rc = parse_rule(y, scan_yaml_node(y, *it), r, builtin,
		    err)) != 0)
			return rc;
	return 0;
}

static int
rules_parse(const char *text, size_t len, const char *name, int builtin,
    struct scan_rules **out, struct al_err *err)
{
	struct scan_yaml y;
	struct scan_rules *r = NULL;
	yaml_node_t *root, *k, *v;
	yaml_node_pair_t *p;
	const char *key;
	int rc;

	*out = NULL;
	if ((rc = scan_yaml_load(&y, text, len, name, err)) != 0)
		return rc;
	if ((r = scan_rules_alloc()) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	root = yaml_document_get_root_node(&y.doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		rc = scan_yaml_err(&y, root, err, "a rule file is a mapping "
		    "with 'rules' (and optionally 'allow')");
		goto out;
	}
	for (p = root->data.mapping.pairs.start;
	    p < root->data.mapping.pairs.top; p++) {
		k = scan_yaml_node(&y, p->key);
		v = scan_yaml_node(&y, p->value);
		if ((rc = scan_yaml_str(&y, k, "key", &key, err)) != 0)
			goto out;
		if (strcmp(key, "rules") == 0)
			rc = scan_rules_parse_seq(&y, v, r, builtin, err);
		else if (strcmp(key, "allow") == 0)
			rc = scan_yaml_strv(&y, v, "allow", &r->allow, err);
		else if (strcmp(key, "version") == 0)
			rc = 0;
		else
			rc = scan_yaml_err(&y, k, err, "unknown key '%s' "
			    "(expected rules, allow, version)", key);
		if (rc != 0)
			goto out;
	}
	*out = r;
	r = NULL;
out:
	scan_rules_free(r);
	scan_yaml_release(&y);
	return rc;
}

int
scan_rules_parse(const char *text, size_t len, const char *name,
    struct scan_rules **out, struct al_err *err)
{
	return rules_parse(text, len, name, 0, out, err);
}


static const char *
sev_name(int s)
{
	return s == SCAN_SEV_ERROR ? "error" : "warning";
}

/* Markdown table cells: escape the pipe and keep one line. */
static void
md_cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

int
scan_rules_write_markdown(const struct scan_rules *r, FILE *out)
{
	size_t i, nsecret = 0, nunsafe = 0;
	int cat;

	for (i = 0; i < r->n; i++) {
		if (r->v[i].info.category == SCAN_CAT_SECRET)
			nsecret++;
		else
			nunsafe++;
	}
	fprintf(out, "# Scanner rules\n\n"
	    "<!-- Generated by `airlock scan --list-rules --format markdown`"
	    "; a test keeps it in step with rules/default.yaml. -->\n\n"
	    "`airlock scan` ships %zu rules: %zu find hardcoded secrets "
	    "(severity error unless noted) and %zu find code that handles "
	    "secrets unsafely (severity warning).  Each rule's regex, "
	    "entropy threshold, allowlist and examples are in "
	    "`rules/default.yaml`; every positive and negative example is "
	    "checked by the test suite.  Disable a rule or add your own in "
	    "`.airlock.yaml` (see [commands/scan.md](commands/scan.md)).\n",
	    r->n, nsecret, nunsafe);
	for (cat = SCAN_CAT_SECRET; cat <= SCAN_CAT_UNSAFE; cat++) {
		fprintf(out, "\n## %s\n\n| id | description | severity |\n"
		    "|---|---|---|\n", cat == SCAN_CAT_SECRET ? "Secrets" :
		    "Unsafe secret handling");
		for (i = 0; i < r->n; i++) {
			if (r->v[i].info.category != cat)
				continue;
			fputs("| `", out);
			md_cell(out, r->v[i].id);
			fputs("` | ", out);
			md_cell(out, r->v[i].description);
			fprintf(out, " | %s |\n", sev_name(r->v[i].info.severity));
		}
	}
	return ferror(out) ? AL_EIO : 0;
}

int
scan_rules_write_table(const struct scan_rules *r, FILE *out)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		fprintf(out, "%-40s %-7s %-8s %s\n", r->v[i].id,
		    r->v[i].info.category == SCAN_CAT_SECRET ? "secret" :
		    "unsafe", sev_name(r->v[i].info.severity),
		    r->v[i].description);
	return ferror(out) ? AL_EIO : 0;
}

/* Sweep reports: text, JSON and SARIF 2.1.0.  Never a byte of a value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sweep_int.h"

#define KNOWN_RULE	"airlock/known-value"

static int
put(json_t *o, const char *k, json_t *v)
{
	return v == NULL || json_object_set_new(o, k, v) != 0;
}

int
sweep_write_text(const struct sweep *s, FILE *out)
{
	struct al_buf b;
	const struct sweep_hit *h;
	size_t i;
	int rc = 0;

	al_buf_init(&b, 64 * 1024, 0);
	for (i = 0; i < s->nhits && rc == 0; i++) {
		h = &s->hits[i];
		al_buf_reset(&b);
		if ((rc = al_buf_append_escaped(&b, h->path,
		    strlen(h->path))) != 0)
			break;
		if (h->kind == SWEEP_HIT_VALUE && h->line == 0)
			fprintf(out, "%s: %s (known value)\n",
			    al_buf_str(&b), h->name);
		else if (h->kind == SWEEP_HIT_VALUE)
			fprintf(out, "%s:%u:%u: %s (known value)%s\n",
			    al_buf_str(&b), h->line, h->col, h->name,
			    h->fixed ? ", masked" : "");
		else
			fprintf(out, "%s:%u:%u: %s %s%s\n", al_buf_str(&b),
			    h->line, h->col, h->name, h->preview,
			    h->fixed ? ", masked" : "");
	}
	al_buf_release(&b);
	return rc != 0 || ferror(out) ? AL_EIO : 0;
}

static json_t *
hits_json(const struct sweep *s)
{
	const struct sweep_hit *h;
	json_t *a = json_array(), *o;
	size_t i;
	int bad = a == NULL;

	for (i = 0; !bad && i < s->nhits; i++) {
		h = &s->hits[i];
		if ((o = json_object()) == NULL) {
			bad = 1;
			break;
		}
		bad |= put(o, "path", json_string(h->path));
		bad |= put(o, "line", json_integer(h->line));
		bad |= put(o, "column", json_integer(h->col));
		bad |= put(o, "kind", json_string(h->kind == SWEEP_HIT_VALUE ?
		    "value" : "rule"));
		bad |= put(o, h->kind == SWEEP_HIT_VALUE ? "secret" : "rule",
		    json_string(h->name));
		if (h->kind == SWEEP_HIT_RULE)
			bad |= put(o, "preview", json_string(h->preview));
		bad |= put(o, "masked", json_boolean(h->fixed));
		bad |= json_array_append_new(a, o) != 0;
	}
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *
problems_json(const struct sweep *s)
{
	json_t *a = json_array(), *o;
	size_t i;
	int bad = a == NULL;

	for (i = 0; !bad && i < s->nprobs; i++) {
		if ((o = json_object()) == NULL) {
			bad = 1;
			break;
		}
		bad |= put(o, "path", json_string(s->probs[i].path));
		bad |= put(o, "problem", json_string(s->probs[i].what));
		bad |= put(o, "error", json_boolean(s->probs[i].error));
		bad |= json_array_append_new(a, o) != 0;
	}
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static int
dump(json_t *root, FILE *out)
{
	int rc;

	rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', out);
	return rc != 0 || ferror(out) ? AL_EIO : 0;
}

int
sweep_write_json(const struct sweep *s, FILE *out)
{
	json_t *root;
	int rc;

	root = json_pack("{s:i, s:o*, s:o*, s:{s:I, s:I, s:I, s:I, s:i}}",
	    "version", 1, "hits", hits_json(s), "problems", problems_json(s),
	    "summary", "files", (json_int_t)s->files, "bytes",
	    (json_int_t)s->bytes, "hits", (json_int_t)s->nhits, "fixed",
	    (json_int_t)s->fixed, "errors", sweep_errors(s));
	if (root == NULL || json_object_get(root, "hits") == NULL ||
	    json_object_get(root, "problems") == NULL) {
		json_decref(root);
		return AL_ENOMEM;
	}
	rc = dump(root, out);
	json_decref(root);
	return rc;
}

/* The SARIF rule list: the known-value rule, then each rule id hit. */
static json_t *
sarif_rules(const struct sweep *s, int *bad)
{
	json_t *a = json_array(), *r;
	const char *id;
	size_t i, k;

	if (a == NULL)
		return *bad = 1, NULL;
	for (i = 0; i <= s->nhits && !*bad; i++) {
		id = i == 0 ? KNOWN_RULE : s->hits[i - 1].name;
		if (i > 0 && s->hits[i - 1].kind != SWEEP_HIT_RULE)
			continue;
		for (k = 0; k < json_array_size(a); k++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(a, k), "id")), id) == 0)
				break;
		if (k < json_array_size(a))
			continue;
		r = json_pack("{s:s, s:{s:s}, s:{s:s}}", "id", id,
		    "shortDescription", "text", i == 0 ? "a value stored in "
		    "the airlock vault, in one of the encodings it masks" :
		    "a scanner rule hit", "defaultConfiguration", "level",
		    "error");
		*bad |= r == NULL || json_array_append_new(a, r) != 0;
	}
	return a;
}

/* A path as a URI reference: percent-encoded, "file://" when absolute. */
static char *
uri_of(const char *path)
{
	struct al_buf b;
	char *s = NULL;

	al_buf_init(&b, 64 * 1024, 0);
	if ((path[0] != '/' || al_buf_puts(&b, "file://") == 0) &&
	    al_buf_put_uri_path(&b, path) == 0)
		s = strdup(al_buf_str(&b));
	al_buf_release(&b);
	return s;
}

static size_t
rule_index(json_t *rules, const char *id)
{
	size_t k;

	for (k = 0; k < json_array_size(rules); k++)
		if (strcmp(json_string_value(json_object_get(
		    json_array_get(rules, k), "id")), id) == 0)
			return k;
	return 0;
}

int
sweep_write_sarif(const struct sweep *s, FILE *out)
{
	const struct sweep_hit *h;
	json_t *root = NULL, *rules, *results = json_array(), *r;
	char msg[160], *uri;
	size_t i;
	int bad = results == NULL, rc;

	rules = sarif_rules(s, &bad);
	for (i = 0; !bad && i < s->nhits; i++) {
		h = &s->hits[i];
		if (h->kind == SWEEP_HIT_VALUE)
			(void)snprintf(msg, sizeof(msg), "the value of secret "
			    "'%s'", h->name);
		else
			(void)snprintf(msg, sizeof(msg), "%s %s", h->name,
			    h->preview);
		if ((uri = uri_of(h->path)) == NULL) {
			bad = 1;
			break;
		}
		r = json_pack("{s:s, s:I, s:s, s:{s:s}, s:[{s:{s:{s:s}, "
		    "s:{s:i, s:i}}}], s:{s:s, s:b}}",
		    "ruleId", h->kind == SWEEP_HIT_VALUE ? KNOWN_RULE : h->name,
		    "ruleIndex", (json_int_t)rule_index(rules,
		    h->kind == SWEEP_HIT_VALUE ? KNOWN_RULE : h->name),
		    "level", "error", "message", "text", msg, "locations",
		    "physicalLocation", "artifactLocation", "uri", uri,
		    "region", "startLine", h->line ? (int)h->line : 1,
		    "startColumn", h->col ? (int)h->col : 1, "properties", "secret", h->kind ==
		    SWEEP_HIT_VALUE ? h->name : "", "masked", h->fixed);
		free(uri);
		bad |= r == NULL || json_array_append_new(results, r) != 0;
	}
	if (!bad)
		root = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:O}}, "
		    "s:O}]}", "$schema",
		    "https://json.schemastore.org/sarif-2.1.0.json", "version",
		    "2.1.0", "runs", "tool", "driver", "name", "airlock",
		    "version", AIRLOCK_VERSION, "rules", rules, "results",
		    results);
	rc = root == NULL ? AL_ENOMEM : dump(root, out);
	json_decref(root);
	json_decref(rules);
	json_decref(results);
	return rc;
}

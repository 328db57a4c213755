/*
 * The hooks' guard.  Known values are masked by the broker (POST
 * /v1/redact): every string of a hook input goes there in one request and
 * comes back masked, so no value is ever fetched, decrypted or leased here,
 * no approval is asked for, and the broker audits one `redact` line per
 * hook call.  The broker judges whole values only: a text ending in the
 * first characters of a value is neither masked nor reported.  The
 * scanner's built-in secret rules (no values in them) then run here, on
 * the broker's output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/client.h"
#include "airlock/redact.h"
#include "airlock/scan.h"
#include "hooks_int.h"

#define MASK_PREFIX		"[REDACTED:"

int
guard_open(const struct mcp_hook_config *cfg, struct hook_guard *g,
    struct mcp_hook_answer *a, struct al_err *err)
{
	struct client_opts o;
	struct scan_rules *rules = NULL;
	int rc;

	memset(g, 0, sizeof(*g));
	g->a = a;
	memset(&o, 0, sizeof(o));
	o.home = cfg->home;
	o.socket_path = cfg->socket_path;
	o.airlock_bin = cfg->airlock_bin;
	if ((rc = redact_new(&g->r, err)) != 0 ||
	    (rc = scan_rules_builtin(&rules, err)) != 0 ||
	    (rc = scan_engine_new_cached(rules, SCAN_ENGINE_SECRETS_ONLY |
	    SCAN_ENGINE_NO_EXAMPLES, cfg->cache_dir, &g->engine, err)) != 0 ||
	    (rc = redact_use_scan(g->r, g->engine, err)) != 0 ||
	    (rc = redact_compile(g->r, err)) != 0 ||
	    (rc = client_open(&o, &g->cl, err)) != 0)
		goto out;
out:
	/* The engine keeps what it needs of the rules (scan.h). */
	scan_rules_free(rules);
	if (rc != 0)
		guard_close(g);
	return rc;
}

void
guard_close(struct hook_guard *g)
{
	/* The redactor uses the engine: free it first. */
	redact_free(g->r);
	scan_engine_free(g->engine);
	client_close(g->cl);
	memset(g, 0, sizeof(*g));
}

static int
emit_buf(void *arg, const void *p, size_t n)
{
	return al_buf_append(arg, p, n) == 0 ? 0 : AL_ENOMEM;
}

/* Record the rule ids inside the masks of a text the rules redacted. */
static void
note_rules(struct hook_guard *g, const char *p, size_t n)
{
	struct mcp_hook_answer *a = g->a;
	const char *q, *end = p + n, *close;
	size_t i, k, len;

	for (q = p; q < end && (q = memmem(q, (size_t)(end - q), MASK_PREFIX,
	    sizeof(MASK_PREFIX) - 1)) != NULL; q = close) {
		q += sizeof(MASK_PREFIX) - 1;
		if ((close = memchr(q, ']', (size_t)(end - q))) == NULL)
			break;
		len = (size_t)(close - q);
		for (i = 0; i < scan_engine_rule_count(g->engine); i++) {
			const struct scan_rule_info *ri =
			    scan_engine_rule(g->engine, i);

			if (strlen(ri->id) != len || memcmp(ri->id, q, len))
				continue;
			for (k = 0; k < a->nrules; k++)
				if (strcmp(a->rules[k], ri->id) == 0)
					break;
			if (k == a->nrules && k < 16)
				(void)snprintf(a->rules[a->nrules++],
				    sizeof(a->rules[0]), "%s", ri->id);
			break;
		}
	}
}

/*
 * A secret whose whole value the broker found: it is now exposed; proof
 * (or NULL) is the broker's that this process saw it.
 */
static void
note_found(struct hook_guard *g, const char *name, const char *proof)
{
	struct mcp_hook_answer *a = g->a;
	size_t k;

	for (k = 0; k < a->nexposed; k++)
		if (strcmp(a->exposed[k], name) == 0)
			return;
	if (k < MCP_HOOK_EXPOSED_MAX && (a->exposed[k] = strdup(name)) != NULL) {
		a->exposed_proof[k] = proof != NULL ? strdup(proof) : NULL;
		a->nexposed++;
	}
}

static int
redact_string(struct hook_guard *g, json_t *s, json_t **out,
    unsigned long long *hits, struct al_err *err)
{
	struct redact_stream *st = NULL;
	struct al_buf b;
	unsigned long long m;
	int rc;

	/* Masks can make a string longer than it was: room for that. */
	al_buf_init(&b, 2 * json_string_length(s) + 65536, 0);
	*out = NULL;
	if ((rc = redact_stream_new(g->r, &st)) != 0)
		goto out;
	if ((rc = redact_stream_write(st, json_string_value(s),
	    json_string_length(s), emit_buf, &b)) != 0 ||
	    (rc = redact_stream_finish(st, emit_buf, &b)) != 0)
		goto out;
	m = redact_stream_masks(st);
	*hits += m;
	g->masks += m;
	if (m == 0) {
		*out = json_incref(s);
	} else {
		note_rules(g, b.len ? (const char *)b.data : "", b.len);
		*out = json_stringn(b.len ? (const char *)b.data : "",
		    b.len);
	}
	rc = *out != NULL ? 0 : AL_ENOMEM;
out:
	if (rc != 0)
		(void)al_err_set(err, rc, "redaction failed");
	redact_stream_free(st);
	al_buf_release(&b);
	return rc;
}

/*
 * A copy of j with every string replaced: by the broker's masked text (the
 * next of masked, in the order collect() put them) and then through the
 * rules.
 */
static int
rebuild(struct hook_guard *g, json_t *j, json_t *masked, size_t *next,
    json_t **out, unsigned long long *hits, struct al_err *err)
{
	json_t *c = NULL, *v, *nv;
	const char *k;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (json_is_string(j)) {
		if ((v = json_array_get(masked, (*next)++)) == NULL ||
		    !json_is_string(v))
			return al_err_set(err, AL_EPROTO, "the broker's redact "
			    "reply does not match the input");
		return redact_string(g, v, out, hits, err);
	}
	if (json_is_object(j)) {
		json_t *key, *nk;

		if ((c = json_object()) == NULL)
			return AL_ENOMEM;
		json_object_foreach(j, k, v) {
			/* The key first, masked like any string. */
			if ((key = json_array_get(masked, (*next)++)) == NULL ||
			    !json_is_string(key)) {
				rc = al_err_set(err, AL_EPROTO, "the broker's "
				    "redact reply does not match the input");
				break;
			}
			if ((rc = redact_string(g, key, &nk, hits, err)) != 0)
				break;
			if ((rc = rebuild(g, v, masked, next, &nv, hits,
			    err)) != 0) {
				json_decref(nk);
				break;
			}
			rc = json_object_set_new(c, json_string_value(nk), nv);
			json_decref(nk);
			if (rc != 0) {
				rc = al_err_set(err, AL_ENOMEM, "out of memory");
				break;
			}
		}
	} else if (json_is_array(j)) {
		if ((c = json_array()) == NULL)
			return AL_ENOMEM;
		json_array_foreach(j, i, v) {
			if ((rc = rebuild(g, v, masked, next, &nv, hits,
			    err)) != 0)
				break;
			json_array_append_new(c, nv);
		}
	} else {
		c = json_incref(j);
	}
	if (rc != 0) {
		json_decref(c);
		return rc;
	}
	*out = c;
	return 0;
}

/*
 * Every string of j, depth first, appended to texts: each object's keys
 * too (a key is as much the agent's text as a value), each before its
 * value.
 */
static int
collect(json_t *j, json_t *texts)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j))
		return json_array_append(texts, j) == 0 ? 0 : AL_ENOMEM;
	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			if (json_array_append_new(texts, json_string(k)) != 0 ||
			    collect(v, texts) != 0)
				return AL_ENOMEM;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (collect(v, texts) != 0)
				return AL_ENOMEM;
	}
	return 0;
}

int
guard_json(struct hook_guard *g, json_t *j, json_t **out,
    unsigned long long *hits, struct al_err *err)
{
	json_t *texts = json_array(), *reply = NULL, *n;
	const char *name;
	size_t next = 0;
	int rc;

	*out = NULL;
	if (texts == NULL || collect(j, texts) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = client_redact(g->cl, texts, NULL, "hook", &reply,
	    err)) != 0)
		goto out;
	*hits += (unsigned long long)json_integer_value(json_object_get(reply,
	    "masks"));
	json_object_foreach(json_object_get(reply, "found"), name, n)
		note_found(g, name, json_string_value(json_object_get(
		    json_object_get(reply, "proofs"), name)));
	rc = rebuild(g, j, json_object_get(reply, "texts"), &next, out, hits,
	    err);
out:
	json_decref(reply);
	json_decref(texts);
	return rc;
}

/*
 * The hooks' guard: every live value the caller may lease (intent `hook`)
 * and the scanner's built-in secret rules, in one redactor, applied to every
 * string of a hook input.  Values are fetched through the broker straight
 * into guarded memory, handed to the redactor (which keeps its patterns in
 * guarded memory) and wiped; the leases are revoked at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/client.h"
#include "airlock/redact.h"
#include "airlock/scan.h"
#include "airlock/vault.h"
#include "hooks_int.h"

#define MASK_PREFIX		"[REDACTED:"

/* Lease one secret for its value and add it to the redactor; skip denials. */
static int
add_known(struct hook_guard *g, struct client *cl, const char *name,
    struct al_err *err)
{
	struct client_lease_req req;
	struct client_lease lease;
	struct al_secret *v = NULL;
	struct al_err e2;
	int rc;

	memset(&req, 0, sizeof(req));
	req.secret = name;
	req.intent = "hook";
	req.bind = 1;
	al_err_clear(&e2);
	if (client_lease_and_fetch(cl, &req, 0, &lease, &v, &e2) != 0)
		return 0;	/* policy says no: not ours to look for */
	rc = 0;
	if (al_secret_len(v) >= REDACT_VALUE_MIN && g->nnames < HOOK_NAMES_MAX) {
		if ((rc = redact_add_value(g->r, name, v, err)) == 0 &&
		    (g->names[g->nnames] = strdup(name)) != NULL)
			g->nnames++;
		else if (rc == 0)
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
	}
	al_secret_free(v);
	/* Best effort: closing the connection ends it anyway. */
	if (client_lease_revoke(cl, lease.id, NULL) != 0)
		return rc;
	return rc;
}

/*
 * An exposed secret is no longer leased, but until it is rotated its value
 * is still live and must still be masked: read it from the vault itself
 * when this user can unlock it without a prompt (master.key).  Otherwise
 * it is skipped (`airlock secret rotate` ends the exposure).
 */
static int
add_exposed(struct hook_guard *g, const struct mcp_hook_config *cfg,
    struct vault **vp, const char *name, struct al_err *err)
{
	struct vault_key key;
	struct al_secret *v = NULL;
	struct al_err e2;
	int rc = 0;

	al_err_clear(&e2);
	if (*vp == NULL) {
		memset(&key, 0, sizeof(key));
		key.kind = VAULT_KEY_KIND_FILE;
		if (vault_open(cfg->home, NULL, vp, &e2) != 0)
			return 0;
		if (vault_key_kind(*vp) != VAULT_KEY_KIND_FILE ||
		    vault_unlock(*vp, &key, &e2) != 0) {
			vault_close(*vp);
			*vp = NULL;
			return 0;
		}
	}
	if (vault_secret_read(*vp, name, &v, NULL, &e2) != 0)
		return 0;
	if (al_secret_len(v) >= REDACT_VALUE_MIN && g->nnames < HOOK_NAMES_MAX) {
		if ((rc = redact_add_value(g->r, name, v, err)) == 0 &&
		    (g->names[g->nnames] = strdup(name)) != NULL)
			g->nnames++;
		else if (rc == 0)
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
	}
	al_secret_free(v);
	return rc;
}

int
guard_open(const struct mcp_hook_config *cfg, struct hook_guard *g,
    struct mcp_hook_answer *a, struct al_err *err)
{
	struct client_opts o;
	struct client *cl = NULL;
	struct vault *vault = NULL;
	struct scan_rules *rules = NULL;
	json_t *list = NULL, *it;
	const char *name;
	size_t i;
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
	    SCAN_ENGINE_NO_EXAMPLES, cfg->cache_dir, &g->engine, err)) != 0)
		goto out;
	if ((rc = client_open(&o, &cl, err)) != 0 ||
	    (rc = client_secrets(cl, &list, err)) != 0)
		goto out;
	json_array_foreach(list, i, it) {
		name = json_string_value(json_object_get(it, "name"));
		if (name == NULL)
			continue;
		if (json_is_string(json_object_get(it, "status")) &&
		    strcmp(json_string_value(json_object_get(it, "status")),
		    "exposed") == 0)
			rc = add_exposed(g, cfg, &vault, name, err);
		else
			rc = add_known(g, cl, name, err);
		if (rc != 0)
			goto out;
	}
	if ((rc = redact_use_scan(g->r, g->engine, err)) != 0 ||
	    (rc = redact_compile(g->r, err)) != 0)
		goto out;
out:
	/* The engine keeps what it needs of the rules (scan.h). */
	scan_rules_free(rules);
	vault_close(vault);
	json_decref(list);
	client_close(cl);
	if (rc != 0)
		guard_close(g);
	return rc;
}

void
guard_close(struct hook_guard *g)
{
	size_t i;

	/* The redactor uses the engine: free it first. */
	redact_free(g->r);
	scan_engine_free(g->engine);
	for (i = 0; i < g->nnames; i++)
		free(g->names[i]);
	memset(g, 0, sizeof(*g));
}

static int
emit_buf(void *arg, const void *p, size_t n)
{
	return al_buf_append(arg, p, n) == 0 ? 0 : AL_ENOMEM;
}

/* Record the names inside the masks of a redacted text. */
static void
note_masks(struct hook_guard *g, const char *p, size_t n)
{
	struct mcp_hook_answer *a = g->a;
	const char *q, *end = p + n, *close;
	size_t i, len;

	for (q = p; q < end && (q = memmem(q, (size_t)(end - q), MASK_PREFIX,
	    sizeof(MASK_PREFIX) - 1)) != NULL; q = close) {
		q += sizeof(MASK_PREFIX) - 1;
		if ((close = memchr(q, ']', (size_t)(end - q))) == NULL)
			break;
		len = (size_t)(close - q);
		for (i = 0; i < g->nnames; i++)
			if (strlen(g->names[i]) == len &&
			    memcmp(g->names[i], q, len) == 0)
				break;
		if (i < g->nnames) {
			size_t k;

			for (k = 0; k < a->nexposed; k++)
				if (strcmp(a->exposed[k], g->names[i]) == 0)
					break;
			if (k == a->nexposed && k < MCP_HOOK_EXPOSED_MAX &&
			    (a->exposed[k] = strdup(g->names[i])) != NULL)
				a->nexposed++;
			continue;
		}
		for (i = 0; i < scan_engine_rule_count(g->engine); i++) {
			const struct scan_rule_info *ri =
			    scan_engine_rule(g->engine, i);
			size_t k;

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
		note_masks(g, b.len ? (const char *)b.data : "", b.len);
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

int
guard_json(struct hook_guard *g, json_t *j, json_t **out,
    unsigned long long *hits, struct al_err *err)
{
	json_t *c = NULL, *v, *nv;
	const char *k;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (json_is_string(j))
		return redact_string(g, j, out, hits, err);
	if (json_is_object(j)) {
		if ((c = json_object()) == NULL)
			return AL_ENOMEM;
		json_object_foreach(j, k, v) {
			if ((rc = guard_json(g, v, &nv, hits, err)) != 0)
				break;
			json_object_set_new(c, k, nv);
		}
	} else if (json_is_array(j)) {
		if ((c = json_array()) == NULL)
			return AL_ENOMEM;
		json_array_foreach(j, i, v) {
			if ((rc = guard_json(g, v, &nv, hits, err)) != 0)
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

/*
 * Codex runs a hook only once the user trusted it: its user config.toml
 * keeps, per hook, [hooks.state."<hooks.json path>:<event>:<group>:<n>"]
 * with trusted_hash = "sha256:<hex>", and a hook whose current hash differs
 * (or has none) is listed as needing review and skipped, silently in a
 * non-interactive run.  Setup trusts the hooks it installs, as Codex's own
 * /hooks screen would: the hash is SHA-256 over the compact JSON, keys
 * sorted, of the hook's normalized identity
 *   {"event_name": "pre_tool_use", "hooks": [{"async": false, "command":
 *    "...", "timeout": 600, "type": "command"}], "matcher": "..."}
 * (matcher only when set, timeout 600 when unset), as Codex computes it
 * (hooks/src/engine/discovery.rs, config/src/fingerprint.rs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent_int.h"

#define TRUST_MAX	16

static const struct {
	const char	*event;		/* in hooks.json */
	const char	*label;		/* in the key and identity */
	int		 matcher;	/* the event has matchers */
} codex_trust_events[] = {
	{ "PreToolUse", "pre_tool_use", 1 },
	{ "PostToolUse", "post_tool_use", 1 },
	{ "UserPromptSubmit", "user_prompt_submit", 0 },
};

struct trust {
	char	key[PATH_MAX + 64];
	char	hash[8 + 2 * crypto_hash_sha256_BYTES + 1];
};

static int
identity_hash(const char *label, const char *matcher, json_t *h,
    char *out, size_t outsz)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	json_t *id, *norm, *v;
	char *s;
	json_int_t timeout = 600;

	if ((v = json_object_get(h, "timeout")) != NULL &&
	    json_is_integer(v) && json_integer_value(v) > 0)
		timeout = json_integer_value(v);
	norm = json_pack("{s:b, s:s, s:I, s:s}", "async",
	    json_is_true(json_object_get(h, "async")), "command",
	    json_string_value(json_object_get(h, "command")), "timeout",
	    timeout, "type", "command");
	if (norm != NULL && (v = json_object_get(h, "statusMessage")) != NULL &&
	    json_is_string(v))
		json_object_set(norm, "statusMessage", v);
	id = norm ? json_pack("{s:s, s:[o]}", "event_name", label, "hooks",
	    norm) : NULL;
	if (id != NULL && matcher != NULL)
		json_object_set_new(id, "matcher", json_string(matcher));
	s = id ? json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(id);
	if (s == NULL)
		return AL_ENOMEM;
	crypto_hash_sha256(d, (unsigned char *)s, strlen(s));
	free(s);
	(void)snprintf(out, outsz, "sha256:");
	(void)sodium_bin2hex(out + 7, outsz - 7, d, sizeof(d));
	return 0;
}

/* The entries airlock's hooks in hooks_text need, keyed by hooks_path. */
static int
trust_entries(const char *hooks_path, const char *hooks_text,
    struct trust *t, size_t *n)
{
	json_t *root, *groups, *g, *hs, *h, *m;
	json_error_t je;
	size_t e, gi, hi;
	int rc = 0;

	*n = 0;
	if (hooks_text == NULL)
		return 0;
	if ((root = json_loads(hooks_text, 0, &je)) == NULL)
		return AL_EINVAL;
	for (e = 0; e < sizeof(codex_trust_events) /
	    sizeof(codex_trust_events[0]) && rc == 0; e++) {
		groups = json_object_get(json_object_get(root, "hooks"),
		    codex_trust_events[e].event);
		json_array_foreach(groups, gi, g) {
			m = json_object_get(g, "matcher");
			hs = json_object_get(g, "hooks");
			json_array_foreach(hs, hi, h) {
				if (!agent_hook_is_ours(json_string_value(
				    json_object_get(h, "command"))))
					continue;
				if (*n >= TRUST_MAX)
					break;
				(void)snprintf(t[*n].key, sizeof(t[*n].key),
				    "%s:%s:%zu:%zu", hooks_path,
				    codex_trust_events[e].label, gi, hi);
				rc = identity_hash(codex_trust_events[e].label,
				    codex_trust_events[e].matcher &&
				    json_is_string(m) ?
				    json_string_value(m) : NULL, h,
				    t[*n].hash, sizeof(t[*n].hash));
				if (rc != 0)
					break;
				(*n)++;
			}
		}
	}
	json_decref(root);
	return rc;
}

/* The header line of key's state table: [hooks.state."KEY"]. */
static int
state_header(const char *key, struct al_buf *b)
{
	int rc;

	if ((rc = al_buf_puts(b, "[hooks.state.\"")) != 0)
		return rc;
	for (; *key != '\0'; key++) {
		if (*key == '"' || *key == '\\')
			rc = al_buf_printf(b, "\\%c", *key);
		else if ((unsigned char)*key < 0x20)
			return AL_EINVAL;
		else
			rc = al_buf_putc(b, *key);
		if (rc != 0)
			return rc;
	}
	return al_buf_puts(b, "\"]");
}

/* Line [p, e) with surrounding blanks trimmed equals s. */
static int
line_is(const char *p, const char *e, const char *s)
{
	size_t n = strlen(s);

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	return (size_t)(e - p) == n && memcmp(p, s, n) == 0;
}

/*
 * Set trusted_hash in [hooks.state."KEY"] of text (appended when absent;
 * its other keys, such as enabled, kept).  The key written any other way
 * is refused rather than duplicated: Codex would reject the whole file.
 */
static int
set_state(const char *cfg_path, const char *text, const struct trust *t,
    struct al_buf *out, struct al_err *err)
{
	struct al_buf hdr;
	const char *p, *e, *start = NULL, *end = NULL;
	size_t n = strlen(text);
	int rc;

	al_buf_init(&hdr, PATH_MAX * 2 + 64, 0);
	if ((rc = state_header(t->key, &hdr)) != 0)
		goto out;
	for (p = text; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		if (start == NULL && line_is(p, e, al_buf_str(&hdr))) {
			start = p;
			continue;
		}
		if (start != NULL && end == NULL) {
			const char *q = p;

			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
			if (q < e && *q == '[')
				end = p;
		}
	}
	if (start != NULL && end == NULL)
		end = text + n;
	if (start == NULL && strstr(text, t->key) != NULL) {
		rc = al_err_set(err, AL_EINVAL, "%s names airlock's hook %s "
		    "in a form setup does not edit: trust the hooks in "
		    "Codex's /hooks screen instead", cfg_path, t->key);
		goto out;
	}
	if (start == NULL) {
		rc = al_buf_append(out, text, n);
		if (rc == 0 && n > 0 && text[n - 1] != '\n')
			rc = al_buf_putc(out, '\n');
		if (rc == 0 && n > 0)
			rc = al_buf_putc(out, '\n');
		if (rc == 0)
			rc = al_buf_printf(out, "%s\ntrusted_hash = \"%s\"\n",
			    al_buf_str(&hdr), t->hash);
		goto out;
	}
	/* The table's lines, trusted_hash replaced. */
	if ((rc = al_buf_append(out, text, (size_t)(start - text))) != 0 ||
	    (rc = al_buf_printf(out, "%s\ntrusted_hash = \"%s\"\n",
	    al_buf_str(&hdr), t->hash)) != 0)
		goto out;
	p = start + strcspn(start, "\n");
	p = *p ? p + 1 : p;
	for (; p < end; p = *e ? e + 1 : e) {
		const char *q = p;

		e = p + strcspn(p, "\n");
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if ((size_t)(e - q) >= 12 && memcmp(q, "trusted_hash", 12) == 0)
			continue;
		if ((rc = al_buf_append(out, p, (size_t)(e - p))) != 0 ||
		    (rc = al_buf_putc(out, '\n')) != 0)
			goto out;
	}
	rc = al_buf_append(out, end, n - (size_t)(end - text));
out:
	al_buf_release(&hdr);
	return rc;
}

int
agent_codex_trust(const char *hooks_path, const char *hooks_text,
    const char *cfg_path, const char *cfg_old, char **cfg_new,
    struct al_err *err)
{
	struct trust t[TRUST_MAX];
	struct al_buf a, b;
	size_t n, i;
	int rc;

	*cfg_new = NULL;
	al_buf_init(&a, 16u * 1024 * 1024, 0);
	al_buf_init(&b, 16u * 1024 * 1024, 0);
	if ((rc = trust_entries(hooks_path, hooks_text, t, &n)) != 0) {
		rc = al_err_set(err, rc, "%s: cannot read airlock's hooks to "
		    "trust them", hooks_path);
		goto out;
	}
	if ((rc = al_buf_puts(&a, cfg_old ? cfg_old : "")) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		al_buf_reset(&b);
		if ((rc = set_state(cfg_path, al_buf_str(&a), &t[i], &b,
		    err)) != 0)
			goto out;
		al_buf_reset(&a);
		if ((rc = al_buf_append(&a, b.data, b.len)) != 0)
			goto out;
	}
	if ((*cfg_new = strdup(al_buf_str(&a))) == NULL)
		rc = AL_ENOMEM;
out:
	if (rc == AL_ENOMEM && err != NULL && err->code == 0)
		(void)al_err_set(err, rc, "out of memory");
	al_buf_release(&a);
	al_buf_release(&b);
	return rc;
}

void
agent_codex_trust_status(const char *hooks_path, const char *hooks_text,
    const char *cfg_text, size_t *ours, size_t *trusted)
{
	struct trust t[TRUST_MAX];
	struct al_buf want;
	size_t n, i;

	*ours = *trusted = 0;
	if (trust_entries(hooks_path, hooks_text, t, &n) != 0)
		return;
	*ours = n;
	al_buf_init(&want, PATH_MAX * 2 + 256, 0);
	for (i = 0; i < n && cfg_text != NULL; i++) {
		al_buf_reset(&want);
		/* Trusted: our header, then our hash (set_state's form). */
		if (state_header(t[i].key, &want) == 0 &&
		    al_buf_printf(&want, "\ntrusted_hash = \"%s\"",
		    t[i].hash) == 0 &&
		    strstr(cfg_text, al_buf_str(&want)) != NULL)
			(*trusted)++;
	}
	al_buf_release(&want);
}

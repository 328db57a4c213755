/*
 * POST /v1/redact: the caller's texts come back with every live value it
 * may use (and every encoding the redactor knows) masked as
 * "[REDACTED:<name>]".  Values never leave the broker: they are read from
 * the vault into guarded memory, compiled into a redactor for this request
 * and wiped.  Which values: those of the secrets whose policy decision for
 * this caller and intent is allow or approval (no approval is opened: a
 * mask releases nothing); a secret the policy denies the caller is not
 * looked for.  One `redact` audit line per request, with counts and the
 * names found, never a text.
 *
 * Only whole values count.  A redactor stream masks, at end of input, a
 * held tail that begins a value (so a process killed half-way through
 * printing one does not leak its first half); asked "does this text hold a
 * value", that would answer for a prefix too, and let a caller recover a
 * value a character at a time.  So each text is closed with a random guard
 * no pattern continues, the guard is cut off again, and a tail that only
 * begins a value is returned as it came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "airlock/redact.h"
#include "broker_int.h"

#define MASK_OPEN	"[REDACTED:"
#define GUARD_LEN	32


/* The redactor over every value the caller may have masked. */
static int
build(struct broker *b, const struct broker_caller *c, const char *task,
    const char *intent, struct redact **out, struct found **names,
    size_t *nnames, struct al_err *err)
{
	return redact_for_caller(b, c, task, intent, NULL, 1, out, names,
	    nnames, err);
}

/* Whether name is one of the comma-separated names in only. */
static int
listed(const char *only, const char *name)
{
	size_t n = strlen(name), k;

	while (*only) {
		k = strcspn(only, ",");
		if (k == n && strncmp(only, name, n) == 0)
			return 1;
		only += k;
		if (*only == ',')
			only++;
	}
	return 0;
}

/* Every name of only is a secret of list[0..n); AL_ENOENT naming one not. */
static int
all_known(struct broker *b, const struct vault_meta *list, size_t n,
    const char *only, struct al_err *err)
{
	char name[VAULT_NAME_MAX + 1], fp[NAME_FP_LEN + 1];
	size_t k, i;

	while (*only) {
		k = strcspn(only, ",");
		if (k == 0 || k > VAULT_NAME_MAX)
			return al_err_set(err, AL_EINVAL, "bad secret name in "
			    "the list");
		memcpy(name, only, k);
		name[k] = '\0';
		for (i = 0; i < n; i++)
			if (strcmp(list[i].name, name) == 0)
				break;
		if (i == n || list[i].corrupt) {
			/* Maybe a value typed as a name: never echoed. */
			(void)al_err_set(err, AL_ENOENT, "no such secret");
			name_unknown(b, name, err, fp);
			return AL_ENOENT;
		}
		only += k;
		if (*only == ',')
			only++;
	}
	return 0;
}

int
redact_for_caller(struct broker *b, const struct broker_caller *c,
    const char *task, const char *intent, const char *only, int compile,
    struct redact **out, struct found **names, size_t *nnames,
    struct al_err *err)
{
	struct vault_meta *list = NULL;
	struct al_secret *v = NULL;
	struct policy_decision d;
	struct redact *r = NULL;
	size_t n = 0, i;
	int rc;

	*out = NULL;
	*names = NULL;
	*nnames = 0;
	if ((rc = vault_secret_list(b->vault, &list, &n, err)) != 0)
		return rc;
	if ((rc = redact_new(&r, err)) != 0)
		goto out;
	if (n > 0 && (*names = calloc(n, sizeof(**names))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (only != NULL && (rc = all_known(b, list, n, only, err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (only != NULL && !listed(only, list[i].name))
			continue;
		if (!list[i].corrupt && decide(b, c, &list[i], task, intent,
		    &d) == 0 && d.effect == POLICY_DENY && only != NULL) {
			/* Named, so asked for: say no rather than skip it. */
			rc = al_err_set(err, AL_EDENIED, "secret '%s': %s",
			    list[i].name, d.reason);
			goto out;
		}
		if (list[i].corrupt || decide(b, c, &list[i], task, intent,
		    &d) != 0 || d.effect == POLICY_DENY)
			continue;
		if ((rc = vault_secret_read(b->vault, list[i].name, &v, NULL,
		    err)) != 0)
			goto out;
		/* Too short to mask without masking ordinary text. */
		if (al_secret_len(v) >= REDACT_VALUE_MIN) {
			if ((rc = redact_add_value(r, list[i].name, v,
			    err)) != 0)
				goto out;
			(void)snprintf((*names)[*nnames].name,
			    sizeof((*names)[0].name), "%s", list[i].name);
			(*nnames)++;
		}
		al_secret_free(v);
		v = NULL;
	}
	if (compile && *nnames > 0 && (rc = redact_compile(r, err)) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	al_secret_free(v);
	redact_free(r);
	vault_meta_list_free(list, n);
	if (rc != 0) {
		free(*names);
		*names = NULL;
		*nnames = 0;
	}
	return rc;
}

static int
emit_buf(void *arg, const void *p, size_t n)
{
	return al_buf_append(arg, p, n) == 0 ? 0 : AL_ENOMEM;
}

/* How often "[REDACTED:name]" occurs in p[0..n). */
static unsigned
count_masks(const char *p, size_t n, const char *name)
{
	char mask[VAULT_NAME_MAX + sizeof(MASK_OPEN) + 1];
	const char *q = p, *end = p + n;
	size_t ml;
	unsigned k = 0;

	ml = (size_t)snprintf(mask, sizeof(mask), MASK_OPEN "%s]", name);
	while (q < end && (q = memmem(q, (size_t)(end - q), mask, ml)) !=
	    NULL) {
		k++;
		q += ml;
	}
	return k;
}

/*
 * Mask one text into out (reset first), judging whole values only (see
 * the top of this file).  *masks: masks made.
 */
static int
mask_text(const struct redact *r, const char *p, size_t n, struct al_buf *out,
    unsigned long long *masks)
{
	unsigned char guard[GUARD_LEN];
	struct redact_stream *st = NULL;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		al_buf_reset(out);
		randombytes_buf(guard, sizeof(guard));
		if ((rc = redact_stream_new(r, &st)) != 0)
			return rc;
		if ((rc = redact_stream_write(st, p, n, emit_buf, out)) == 0 &&
		    (rc = redact_stream_write(st, guard, sizeof(guard),
		    emit_buf, out)) == 0)
			rc = redact_stream_finish(st, emit_buf, out);
		*masks = redact_stream_masks(st);
		redact_stream_free(st);
		st = NULL;
		if (rc != 0)
			return rc;
		/* The guard comes back whole unless a pattern took it. */
		if (out->len >= GUARD_LEN && memcmp(out->data + out->len -
		    GUARD_LEN, guard, GUARD_LEN) == 0) {
			out->len -= GUARD_LEN;
			out->data[out->len] = '\0';
			return 0;
		}
	}
	return AL_EIO;
}

/* Fields of a redact request, validated; replies 400 and returns -1. */
static int
parse(struct route_args *a, json_t **texts, const char **task,
    const char **intent)
{
	const char *key;
	json_t *v;
	size_t i;

	*texts = NULL;
	*task = "";
	*intent = "redact";
	json_object_foreach(a->body, key, v) {
		if (strcmp(key, API_F_TEXTS) == 0 && json_is_array(v))
			*texts = v;
		else if (strcmp(key, API_F_TASK) == 0 && json_is_string(v))
			*task = json_string_value(v);
		else if (strcmp(key, API_F_INTENT) == 0 && json_is_string(v))
			*intent = json_string_value(v);
		else
			goto bad;
	}
	if (*texts == NULL || json_array_size(*texts) > API_REDACT_TEXTS_MAX ||
	    !text_ok(*task) || !text_ok(*intent))
		goto bad;
	json_array_foreach(*texts, i, v)
		if (!json_is_string(v))
			goto bad;
	return 0;
bad:
	reply_error(a->resp, 400, API_E_BAD_REQUEST, "the body must be "
	    "{\"texts\": [strings], \"task\"?, \"intent\"?} (at most 4096 "
	    "texts; task and intent printable, at most 256 bytes)");
	return -1;
}

void
h_redact(struct route_args *a)
{
	struct broker *b = a->b;
	struct redact *r = NULL;
	struct found *names = NULL;
	struct al_buf out;
	struct al_err err;
	unsigned long long m, masks = 0, bytes = 0;
	json_t *texts, *res = NULL, *v, *who = NULL, *detail = NULL, *fo;
	json_t *proofs = NULL;
	char proof[EXPOSURE_PROOF_LEN + 1];
	int64_t now;
	const char *task, *intent, *s;
	size_t nnames = 0, i, k, len;
	int rc;

	/* Masks can be longer than what they replace. */
	al_buf_init(&out, 16 * API_REDACT_BODY_MAX, 0);
	if (parse(a, &texts, &task, &intent) != 0 ||
	    text_guard(a, API_F_TASK, task) != 0 ||
	    text_guard(a, API_F_INTENT, intent) != 0)
		goto out;
	if (build(b, a->req->caller, task, intent, &r, &names, &nnames,
	    &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	if ((res = json_array()) == NULL || (fo = json_object()) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((detail = json_pack("{s:o}", "found", fo)) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		goto out;
	}
	json_array_foreach(texts, i, v) {
		s = json_string_value(v);
		len = json_string_length(v);
		bytes += len;
		if (nnames == 0) {
			json_array_append(res, v);
			continue;
		}
		if ((rc = mask_text(r, s, len, &out, &m)) != 0) {
			reply_error(a->resp, 500, API_E_INTERNAL, "redaction "
			    "failed");
			goto out;
		}
		masks += m;
		for (k = 0; m > 0 && k < nnames; k++) {
			unsigned after = count_masks((const char *)out.data,
			    out.len, names[k].name);

			/* A mask typed into the text is not a value found. */
			if (after > count_masks(s, len, names[k].name))
				names[k].n += after - count_masks(s, len,
				    names[k].name);
		}
		json_array_append_new(res, json_stringn_nocheck(out.len ?
		    (const char *)out.data : "", out.len));
		/* The text may hold a value: jansson's copy is wiped. */
		sodium_memzero((char *)(uintptr_t)s, len);
	}
	if ((proofs = json_object()) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		goto out;
	}
	now = b->clock->now(b->clock->arg);
	for (k = 0; k < nnames; k++) {
		if (names[k].n == 0)
			continue;
		json_object_set_new(fo, names[k].name,
		    json_integer(names[k].n));
		/* This caller has seen the value: it may report it exposed. */
		if (exposure_proof(b, a->req->caller->uid, names[k].name, now,
		    proof) == 0)
			json_object_set_new(proofs, names[k].name,
			    json_string(proof));
	}
	json_object_set_new(detail, "texts",
	    json_integer((json_int_t)json_array_size(texts)));
	json_object_set_new(detail, "bytes", json_integer((json_int_t)bytes));
	json_object_set_new(detail, "masks", json_integer((json_int_t)masks));
	json_object_set_new(detail, "secrets_checked",
	    json_integer((json_int_t)nnames));
	who = caller_json(a->req->caller);
	if (record(b, "redact", "ok", who, NULL, NULL, task, intent, NULL,
	    NULL, detail, &err) != 0) {
		reply_al_err(a->resp, &err);
		a->resp->need_sync = 1;
		goto out;
	}
	reply_json(a->resp, 200, json_pack("{s:O,s:I,s:O,s:O}", API_F_TEXTS,
	    res, API_F_MASKS, (json_int_t)masks, API_F_FOUND, fo, API_F_PROOFS,
	    proofs));
	/* Nothing is released: the line is synced with the next batch. */
	a->resp->need_sync = 0;
out:
	al_buf_release(&out);
	json_decref(res);
	json_decref(proofs);
	json_decref(detail);
	json_decref(who);
	free(names);
	redact_free(r);
}

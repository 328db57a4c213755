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

struct found {
	char		name[VAULT_NAME_MAX + 1];
	unsigned	n;
};

static int
named(json_t *only, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(only, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/*
 * Secrets asked for by name must exist and be the caller's to use: an
 * error otherwise, not a silent omission (an unknown name is named by its
 * fingerprint only).
 */
static int
check_only(struct broker *b, const struct broker_caller *c, const char *task,
    const char *intent, json_t *only, struct al_err *err)
{
	struct policy_decision d;
	struct vault_meta m;
	char fp[NAME_FP_LEN + 1];
	json_t *v;
	size_t i;
	int rc = 0;

	json_array_foreach(only, i, v) {
		memset(&m, 0, sizeof(m));
		if ((rc = vault_name_check(json_string_value(v), err)) != 0)
			return rc;
		if ((rc = vault_secret_get(b->vault, json_string_value(v), &m,
		    err)) != 0) {
			if (rc != AL_ENOENT)
				return rc;
			name_unknown(b, json_string_value(v), err, fp);
			err->code = AL_EDENIED;
			return AL_EDENIED;
		}
		rc = decide(b, c, &m, task, intent, &d);
		vault_meta_release(&m);
		if (rc != 0)
			return al_err_set(err, AL_EIO, "policy evaluation "
			    "failed");
		if (d.effect == POLICY_DENY)
			return al_err_set(err, AL_EDENIED, "secret '%s': %s "
			    "(rule '%s')", json_string_value(v), d.reason,
			    d.rule);
	}
	return 0;
}

/* The redactor over every value the caller may have masked. */
static int
build(struct broker *b, const struct broker_caller *c, const char *task,
    const char *intent, json_t *only, struct redact **out,
    struct found **names, size_t *nnames, struct al_err *err)
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
	if (only != NULL && (rc = check_only(b, c, task, intent, only,
	    err)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (only != NULL && !named(only, list[i].name))
			continue;
		if (list[i].corrupt || decide(b, c, &list[i], task, intent,
		    &d) != 0 || d.effect == POLICY_DENY)
			continue;
		if ((rc = vault_secret_read(b->vault, list[i].name, &v, NULL,
		    err)) != 0)
			goto out;
		/* Too short to mask without masking ordinary text. */
		if (only != NULL && al_secret_len(v) < REDACT_VALUE_MIN) {
			rc = al_err_set(err, AL_EINVAL, "secret '%s' is shorter "
			    "than %d bytes: it cannot be masked without "
			    "masking ordinary text", list[i].name,
			    REDACT_VALUE_MIN);
			goto out;
		}
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
	if ((rc = redact_compile(r, err)) != 0)
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
	const char *task, *intent, *s;
	size_t nnames = 0, i, k, len;
	int rc;

	/* Masks can be longer than what they replace. */
	al_buf_init(&out, 16 * API_REDACT_BODY_MAX, 0);
	if (parse(a, &texts, &task, &intent) != 0)
		goto out;
	if (build(b, a->req->caller, task, intent, NULL, &r, &names, &nnames,
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
	for (k = 0; k < nnames; k++)
		if (names[k].n > 0)
			json_object_set_new(fo, names[k].name,
			    json_integer(names[k].n));
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
	reply_json(a->resp, 200, json_pack("{s:O,s:I,s:O}", API_F_TEXTS, res,
	    API_F_MASKS, (json_int_t)masks, API_F_FOUND, fo));
	/* Nothing is released: the line is synced with the next batch. */
	a->resp->need_sync = 0;
out:
	al_buf_release(&out);
	json_decref(res);
	json_decref(detail);
	json_decref(who);
	free(names);
	redact_free(r);
}

/* ---- streams: POST /v1/redact/stream ------------------------------------ */

/*
 * One stream per connection (`airlock redact`): the redactor and its held
 * bytes stay in the broker between requests, so a value split across
 * chunks is still masked, and its first bytes are not returned before it
 * is known not to be one.  It ends with "end": true or with the
 * connection; either way one `redact` line is audited.
 */
struct rstream {
	uint64_t		 conn;
	struct redact		*r;
	struct redact_stream	*st;
	json_t			*who;
	char			 task[API_TEXT_MAX + 1];
	char			 intent[API_TEXT_MAX + 1];
	size_t			 nnames;
};

static void
rstream_end(struct broker *b, struct rstream *rs, const char *outcome)
{
	struct al_err err;
	json_t *detail;

	detail = json_pack("{s:I,s:I,s:I,s:I}", "bytes",
	    (json_int_t)redact_stream_in(rs->st), "out",
	    (json_int_t)redact_stream_out(rs->st), "masks",
	    (json_int_t)redact_stream_masks(rs->st), "secrets_checked",
	    (json_int_t)rs->nnames);
	if (record(b, "redact", outcome, rs->who, NULL, NULL, rs->task,
	    rs->intent, NULL, NULL, detail, &err) != 0)
		broker_log(b, "cannot audit a redact stream: %s", err.msg);
	json_decref(detail);
	redact_stream_free(rs->st);
	redact_free(rs->r);
	json_decref(rs->who);
	free(rs);
}

static struct rstream **
rstream_slot(struct broker *b, uint64_t conn)
{
	size_t i;

	for (i = 0; i < BROKER_RSTREAMS_MAX; i++)
		if (b->rstreams[i] != NULL && b->rstreams[i]->conn == conn)
			return &b->rstreams[i];
	return NULL;
}

void
redact_streams_conn_closed(struct broker *b, uint64_t conn)
{
	struct rstream **slot = rstream_slot(b, conn);

	if (slot != NULL) {
		rstream_end(b, *slot, "closed");
		*slot = NULL;
	}
}

void
redact_streams_free(struct broker *b)
{
	size_t i;

	for (i = 0; i < BROKER_RSTREAMS_MAX; i++) {
		if (b->rstreams[i] == NULL)
			continue;
		redact_stream_free(b->rstreams[i]->st);
		redact_free(b->rstreams[i]->r);
		json_decref(b->rstreams[i]->who);
		free(b->rstreams[i]);
		b->rstreams[i] = NULL;
	}
}

/* A new stream for the caller's connection, in a free slot. */
static struct rstream *
rstream_open(struct route_args *a, const char *task, const char *intent,
    json_t *only, struct al_err *err)
{
	struct broker *b = a->b;
	struct rstream *rs = NULL;
	struct found *names = NULL;
	size_t i;
	int rc;

	for (i = 0; i < BROKER_RSTREAMS_MAX; i++)
		if (b->rstreams[i] == NULL)
			break;
	if (i == BROKER_RSTREAMS_MAX) {
		(void)al_err_set(err, AL_EBUSY, "too many redact streams open "
		    "(%d): try again shortly", BROKER_RSTREAMS_MAX);
		return NULL;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		(void)al_err_set(err, AL_ENOMEM, "out of memory");
		return NULL;
	}
	rs->conn = a->req->caller->conn;
	(void)snprintf(rs->task, sizeof(rs->task), "%s", task);
	(void)snprintf(rs->intent, sizeof(rs->intent), "%s", intent);
	if ((rc = build(b, a->req->caller, task, intent, only, &rs->r,
	    &names, &rs->nnames, err)) != 0 ||
	    (rc = redact_stream_new(rs->r, &rs->st)) != 0) {
		if (rc != 0 && err->msg[0] == '\0')
			(void)al_err_set(err, rc, "cannot start redaction");
		free(names);
		redact_free(rs->r);
		free(rs);
		return NULL;
	}
	free(names);
	rs->who = caller_json(a->req->caller);
	b->rstreams[i] = rs;
	return rs;
}

/*
 * {"data": B64, "masks": N} written straight into the reply: the masked
 * output can be a megabyte, and base64 needs no JSON escaping.
 */
static int
reply_b64(struct broker_resp *r, const unsigned char *p, size_t n,
    unsigned long long masks)
{
	size_t need = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_ORIGINAL);
	int rc;

	al_buf_reset(&r->body);
	if ((rc = al_buf_puts(&r->body, "{\"" API_F_DATA "\":\"")) != 0 ||
	    (rc = al_buf_reserve(&r->body, need)) != 0)
		return rc;
	(void)sodium_bin2base64((char *)r->body.data + r->body.len, need, p,
	    n, sodium_base64_VARIANT_ORIGINAL);
	r->body.len += need - 1;
	if ((rc = al_buf_printf(&r->body, "\",\"" API_F_MASKS "\":%llu}",
	    masks)) != 0)
		return rc;
	r->status = 200;
	r->content_type = API_CT_JSON;
	return 0;
}

/* A stream that cannot start: audited when the policy (or a name) said no. */
static void
refused(struct route_args *a, const char *task, const char *intent,
    struct al_err *err)
{
	struct al_err e2;
	json_t *who;

	if (err->code == AL_EDENIED) {
		who = caller_json(a->req->caller);
		a->b->metrics.denials++;
		if (record(a->b, "redact", "denied", who, NULL, NULL, task,
		    intent, err->msg, NULL, NULL, &e2) != 0)
			*err = e2;
		a->resp->need_sync = 1;
		json_decref(who);
	}
	reply_al_err(a->resp, err);
}

void
h_redact_stream(struct route_args *a)
{
	struct broker *b = a->b;
	struct rstream **slot, *rs;
	struct al_secret *in = NULL;
	struct al_buf out;
	struct al_err err;
	const char *key, *task = "", *intent = "redact", *data = NULL;
	json_t *v, *only = NULL;
	size_t dlen = 0, bin = 0, i;
	int end = 0, rc;

	al_buf_init(&out, 16 * API_REDACT_BODY_MAX, 0);
	json_object_foreach(a->body, key, v) {
		if (strcmp(key, API_F_DATA) == 0 && json_is_string(v)) {
			data = json_string_value(v);
			dlen = json_string_length(v);
		} else if (strcmp(key, API_F_END) == 0 && json_is_boolean(v))
			end = json_is_true(v);
		else if (strcmp(key, API_F_TASK) == 0 && json_is_string(v))
			task = json_string_value(v);
		else if (strcmp(key, API_F_INTENT) == 0 && json_is_string(v))
			intent = json_string_value(v);
		else if (strcmp(key, API_F_SECRETS) == 0 && json_is_array(v))
			only = v;
		else
			goto bad;
	}
	if (!text_ok(task) || !text_ok(intent))
		goto bad;
	json_array_foreach(only, i, v)
		if (!json_is_string(v))
			goto bad;
	/* The chunk (it may hold values) into guarded memory. */
	if (al_secret_new(dlen / 4 * 3 + 3, &in) != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = data == NULL ? 0 : sodium_base642bin(al_secret_open(in),
	    al_secret_cap(in), data, dlen, NULL, &bin, NULL,
	    sodium_base64_VARIANT_ORIGINAL);
	al_secret_close(in);
	if (data != NULL)
		sodium_memzero((char *)(uintptr_t)data, dlen);
	if (rc != 0)
		goto bad;
	if ((slot = rstream_slot(b, a->req->caller->conn)) != NULL)
		rs = *slot;
	else if ((rs = rstream_open(a, task, intent, only, &err)) == NULL) {
		refused(a, task, intent, &err);
		goto out;
	}
	rc = redact_stream_write(rs->st, al_secret_open(in), bin, emit_buf,
	    &out);
	al_secret_close(in);
	if (rc == 0 && end)
		rc = redact_stream_finish(rs->st, emit_buf, &out);
	if (rc == 0)
		rc = reply_b64(a->resp, out.len ? out.data :
		    (const unsigned char *)"", out.len,
		    redact_stream_masks(rs->st));
	if (rc != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "redaction failed");
		redact_streams_conn_closed(b, a->req->caller->conn);
		a->resp->need_sync = 1;
		goto out;
	}
	if (end) {
		slot = rstream_slot(b, a->req->caller->conn);
		rstream_end(b, rs, "ok");
		*slot = NULL;
	}
	goto out;
bad:
	reply_error(a->resp, 400, API_E_BAD_REQUEST, "the body must be "
	    "{\"data\": \"<base64>\", \"end\"?: bool, \"task\"?, \"intent\"?, "
	    "\"secrets\"?: [names]}");
out:
	al_secret_free(in);
	al_buf_release(&out);
}

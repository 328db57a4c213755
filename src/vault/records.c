/*
 * Secret records: add, read, rotate, update, remove.  Each value is sealed
 * under the data key with associated data that binds it to this vault and
 * to the secret's id, name and version (see record_ad).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault_int.h"

/*
 * Associated data of a record: binds the ciphertext to this vault and to the
 * secret's id, name and version.
 */
static size_t
record_ad(unsigned char *ad, const unsigned char *vault_id,
    const unsigned char *id, const char *name, uint32_t version)
{
	static const char tag[] = "airlock/secret/v1";
	size_t n = 0, nl = strlen(name);

	memcpy(ad, tag, sizeof(tag));
	n += sizeof(tag);
	memcpy(ad + n, vault_id, STORE_ID_LEN);
	n += STORE_ID_LEN;
	memcpy(ad + n, id, STORE_ID_LEN);
	n += STORE_ID_LEN;
	ad[n++] = (unsigned char)nl;
	memcpy(ad + n, name, nl);
	n += nl;
	ad[n++] = (unsigned char)(version >> 24);
	ad[n++] = (unsigned char)(version >> 16);
	ad[n++] = (unsigned char)(version >> 8);
	ad[n++] = (unsigned char)version;
	return n;
}

/* Levenshtein distance, capped; used for "did you mean". */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[VAULT_NAME_MAX + 2];

	if (la > VAULT_NAME_MAX || lb > VAULT_NAME_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* Replace an AL_ENOENT message with one that suggests a near name. */
static int
not_found(struct vault *v, const char *name, struct al_err *err)
{
	struct vault_meta *list = NULL;
	size_t n = 0, i, best = SIZE_MAX, d;
	const char *near = NULL;

	if (v->ops->row_list(v->store, &list, &n, NULL) == 0)
		for (i = 0; i < n; i++) {
			d = edit_distance(name, list[i].name);
			if (d < best && d <= 2 + strlen(name) / 8) {
				best = d;
				near = list[i].name;
			}
		}
	if (near != NULL)
		(void)al_err_set(err, AL_ENOENT, "no secret named '%s' (did you "
		    "mean '%s'?)", name, near);
	else
		(void)al_err_set(err, AL_ENOENT, "no secret named '%s'", name);
	vault_meta_list_free(list, n);
	return AL_ENOENT;
}

static int
row_get(struct vault *v, const char *name, struct store_row *r,
    struct al_err *err)
{
	int rc;

	if ((rc = vault_name_check(name, err)) != 0)
		return rc;
	rc = v->ops->row_get(v->store, name, r, err);
	if (rc == AL_ENOENT)
		return not_found(v, name, err);
	return rc;
}

/* Seal value into r under r's id, name and version. */
static int
row_seal(struct vault *v, struct store_row *r, struct al_secret *value,
    struct al_err *err)
{
	unsigned char ad[AD_MAX];
	size_t adlen, len = al_secret_len(value);

	free(r->ct);
	r->ctlen = len + ABYTES;
	if ((r->ct = malloc(r->ctlen)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	adlen = record_ad(ad, v->vault_id, r->id, r->meta.name,
	    r->meta.version);
	randombytes_buf(r->nonce, sizeof(r->nonce));
	(void)crypto_aead_xchacha20poly1305_ietf_encrypt(r->ct, NULL,
	    al_secret_open(value), len, ad, adlen, NULL, r->nonce,
	    al_secret_open(v->dek));
	al_secret_close(value);
	vault_dek_done(v);
	return 0;
}

static int
check_value(struct al_secret *value, struct al_err *err)
{
	if (al_secret_len(value) == 0)
		return al_err_set(err, AL_EINVAL, "the value is empty");
	if (al_secret_len(value) > VAULT_VALUE_MAX)
		return al_err_set(err, AL_ETOOBIG, "the value is larger than "
		    "%d bytes", VAULT_VALUE_MAX);
	return 0;
}

static int
check_meta(const struct vault_meta *m, struct al_err *err)
{
	size_t i;
	int rc;

	if ((rc = vault_name_check(m->name, err)) != 0 ||
	    (rc = vault_text_check(m->owner ? m->owner : "", "owner",
	    err)) != 0 ||
	    (rc = vault_text_check(m->purpose ? m->purpose : "", "purpose",
	    err)) != 0)
		return rc;
	if (m->nhosts > VAULT_LIST_MAX || m->nlabels > VAULT_LIST_MAX)
		return al_err_set(err, AL_EINVAL, "at most %d hosts and %d "
		    "labels per secret", VAULT_LIST_MAX, VAULT_LIST_MAX);
	for (i = 0; i < m->nhosts; i++)
		if ((rc = vault_text_check(m->hosts[i], "host", err)) != 0)
			return rc;
	for (i = 0; i < m->nlabels; i++)
		if ((rc = vault_text_check(m->labels[i].key, "label key",
		    err)) != 0 || (rc = vault_text_check(m->labels[i].value,
		    "label value", err)) != 0)
			return rc;
	return 0;
}


int
vault_secret_add(struct vault *v, const struct vault_meta *m,
    struct al_secret *value, struct al_err *err)
{
	struct store_row r;
	int64_t now = v->clock->now(v->clock->arg);
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = vault_need_unlocked(v, err)) != 0 ||
	    (rc = check_meta(m, err)) != 0 ||
	    (rc = check_value(value, err)) != 0)
		return rc;
	if ((rc = vault_meta_copy(&r.meta, m)) != 0)
		return al_err_set(err, rc, "out of memory");
	randombytes_buf(r.id, sizeof(r.id));
	al_hex(r.id, sizeof(r.id), r.meta.id);
	r.meta.created = r.meta.updated = now;
	if (r.meta.last_rotated == 0)
		r.meta.last_rotated = now;
	r.meta.version = 1;
	r.meta.status = VAULT_ACTIVE;
	if ((rc = row_seal(v, &r, value, err)) != 0)
		goto out;
	if ((rc = v->ops->begin(v->store, err)) != 0)
		goto out;
	if ((rc = v->ops->row_insert(v->store, &r, err)) != 0 ||
	    (rc = v->ops->commit(v->store, err)) != 0)
		v->ops->rollback(v->store);
out:
	store_row_release(&r);
	return rc;
}

int
vault_secret_get(struct vault *v, const char *name, struct vault_meta *out,
    struct al_err *err)
{
	struct store_row r;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = row_get(v, name, &r, err)) != 0)
		return rc;
	*out = r.meta;
	memset(&r.meta, 0, sizeof(r.meta));
	store_row_release(&r);
	return 0;
}

int
vault_secret_list(struct vault *v, struct vault_meta **out, size_t *n,
    struct al_err *err)
{
	return v->ops->row_list(v->store, out, n, err);
}

void
vault_set_busy(struct vault *v, struct al_secret_pool *pool)
{
	v->pool = pool;
	v->busy = 1;
}

void
vault_dek_done(struct vault *v)
{
	if (!v->busy)
		al_secret_close(v->dek);
}

int
vault_secret_read(struct vault *v, const char *name, struct al_secret **value,
    struct vault_meta *meta, struct al_err *err)
{
	struct store_row r;
	struct al_secret *s = NULL;
	unsigned char ad[AD_MAX];
	size_t adlen;
	int rc;

	*value = NULL;
	if (meta != NULL)
		memset(meta, 0, sizeof(*meta));
	if ((rc = vault_need_unlocked(v, err)) != 0)
		return rc;
	if ((rc = row_get(v, name, &r, err)) != 0)
		return rc;
	if (r.ctlen < ABYTES || r.ctlen - ABYTES > VAULT_VALUE_MAX) {
		rc = al_err_set(err, AL_ECRYPTO, "secret '%s': the record is "
		    "corrupted or was tampered with", name);
		goto out;
	}
	if ((rc = al_secret_pool_take(v->pool, r.ctlen - ABYTES, &s)) != 0) {
		rc = al_err_set(err, rc, "cannot allocate guarded memory");
		goto out;
	}
	adlen = record_ad(ad, v->vault_id, r.id, r.meta.name, r.meta.version);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(al_secret_open(s),
	    NULL, NULL, r.ct, r.ctlen, ad, adlen, r.nonce,
	    al_secret_open(v->dek));
	vault_dek_done(v);
	al_secret_set_len(s, r.ctlen - ABYTES);
	al_secret_close(s);
	if (rc != 0) {
		rc = al_err_set(err, AL_ECRYPTO, "secret '%s': the record is "
		    "corrupted or was tampered with (authentication failed)",
		    name);
		goto out;
	}
	if (meta != NULL) {
		*meta = r.meta;
		memset(&r.meta, 0, sizeof(r.meta));
	}
	*value = s;
	s = NULL;
out:
	al_secret_free(s);
	store_row_release(&r);
	return rc;
}

/*
 * Run a read-modify-write of one row inside a write transaction.  When
 * value is not NULL the secret is re-sealed as a new version.
 */
static int
row_modify(struct vault *v, const char *name, const struct vault_meta *m,
    struct al_secret *value, struct al_err *err)
{
	struct store_row r;
	struct vault_meta keep;
	int64_t now = v->clock->now(v->clock->arg);
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = v->ops->begin(v->store, err)) != 0)
		return rc;
	if ((rc = row_get(v, name, &r, err)) != 0)
		goto out;
	if (m != NULL) {
		keep = r.meta;
		if ((rc = vault_meta_copy(&r.meta, m)) != 0) {
			r.meta = keep;
			rc = al_err_set(err, rc, "out of memory");
			goto out;
		}
		/* Identity, history and version are not editable. */
		memcpy(r.meta.name, keep.name, sizeof(keep.name));
		memcpy(r.meta.id, keep.id, sizeof(keep.id));
		r.meta.created = keep.created;
		r.meta.last_rotated = keep.last_rotated;
		r.meta.version = keep.version;
		vault_meta_release(&keep);
	}
	r.meta.updated = now;
	if (value != NULL) {
		if (r.meta.version == UINT32_MAX) {
			rc = al_err_set(err, AL_EINVAL, "secret '%s' cannot be "
			    "rotated further", name);
			goto out;
		}
		r.meta.version++;
		r.meta.last_rotated = now;
		r.meta.status = VAULT_ACTIVE;
		if ((rc = row_seal(v, &r, value, err)) != 0)
			goto out;
	}
	if ((rc = v->ops->row_update(v->store, &r, err)) != 0)
		goto out;
	rc = v->ops->commit(v->store, err);
out:
	if (rc != 0)
		v->ops->rollback(v->store);
	store_row_release(&r);
	return rc;
}

int
vault_secret_rotate(struct vault *v, const char *name,
    struct al_secret *value, struct al_err *err)
{
	int rc;

	if ((rc = vault_need_unlocked(v, err)) != 0 ||
	    (rc = check_value(value, err)) != 0)
		return rc;
	return row_modify(v, name, NULL, value, err);
}

int
vault_secret_update(struct vault *v, const struct vault_meta *m,
    struct al_err *err)
{
	int rc;

	if ((rc = check_meta(m, err)) != 0)
		return rc;
	if (m->status < VAULT_ACTIVE || m->status > VAULT_REVOKED ||
	    m->status == VAULT_EXPIRED)
		return al_err_set(err, AL_EINVAL, "status must be active, "
		    "exposed or revoked");
	return row_modify(v, m->name, m, NULL, err);
}

int
vault_secret_remove(struct vault *v, const char *name, struct al_err *err)
{
	int rc;

	if ((rc = vault_name_check(name, err)) != 0)
		return rc;
	rc = v->ops->row_delete(v->store, name, err);
	if (rc == AL_ENOENT)
		return not_found(v, name, err);
	return rc;
}

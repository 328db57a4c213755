/*
 * The vault: envelope encryption over a storage backend.
 *
 * Key hierarchy: master key (master.key or Argon2id(passphrase)) wraps the
 * data key (DEK); the DEK seals each record.  Each wrap carries a random key
 * id so that a key change can add the new wrap before the old one is
 * removed: at every instant of a change one of the two keys opens the vault.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vault_int.h"

static size_t
wrap_ad(unsigned char *ad, const unsigned char *vault_id,
    const unsigned char *key_id)
{
	static const char tag[] = "airlock/dek/v1";

	memcpy(ad, tag, sizeof(tag));
	memcpy(ad + sizeof(tag), vault_id, STORE_ID_LEN);
	memcpy(ad + sizeof(tag) + STORE_ID_LEN, key_id, STORE_ID_LEN);
	return sizeof(tag) + 2 * STORE_ID_LEN;
}

static void
master_release(struct master *m)
{
	al_secret_free(m->key);
	m->key = NULL;
}

/* Derive a master key from a passphrase with the wrap's salt and limits. */
static int
master_from_passphrase(struct master *m, const struct store_wrap *w,
    struct al_secret *pass, struct al_err *err)
{
	unsigned char *p;
	int rc;

	m->key = NULL;
	memcpy(m->key_id, w->key_id, STORE_ID_LEN);
	if ((rc = al_secret_new(DEK_LEN, &m->key)) != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	p = al_secret_open(pass);
	rc = crypto_pwhash(al_secret_open(m->key), DEK_LEN, (const char *)p,
	    al_secret_len(pass), w->salt, w->opslimit, (size_t)w->memlimit,
	    crypto_pwhash_ALG_ARGON2ID13);
	al_secret_close(pass);
	al_secret_set_len(m->key, DEK_LEN);
	al_secret_close(m->key);
	if (rc != 0) {
		master_release(m);
		return al_err_set(err, AL_ENOMEM, "cannot derive the key from "
		    "the passphrase: not enough memory for Argon2id");
	}
	return 0;
}

static int
keyfile_path(const struct vault *v, char *out, size_t n, const char *suffix)
{
	return snprintf(out, n, "%s/%s%s", v->home, VAULT_KEY_FILE, suffix) <
	    (int)n ? 0 : AL_ETOOBIG;
}

/* Read master.key, refusing a file group or others can reach. */
static int
master_from_file(struct master *m, const struct vault *v, struct al_err *err)
{
	char path[PATH_MAX];
	struct al_secret *raw = NULL;
	unsigned char *p;
	int fd = -1, rc;

	m->key = NULL;
	if (keyfile_path(v, path, sizeof(path), "") != 0)
		return al_err_set(err, AL_ETOOBIG, "path too long");
	if ((rc = al_fs_check_private(path, 0, err)) != 0) {
		if (rc == AL_ENOENT)
			return al_err_set(err, AL_EBADKEY, "%s is missing: "
			    "the vault cannot be opened without it", path);
		return rc;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return al_err_set(err, AL_ESYS, "cannot open %s: %s", path,
		    strerror(errno));
	rc = al_secret_read_fd(fd, KEYFILE_LEN, &raw, err);
	(void)close(fd);
	if (rc != 0 || al_secret_len(raw) != KEYFILE_LEN) {
		al_secret_free(raw);
		return al_err_set(err, AL_EBADKEY, "%s is not an airlock "
		    "master key", path);
	}
	p = al_secret_open(raw);
	if (memcmp(p, KEYFILE_MAGIC, 8) != 0) {
		al_secret_free(raw);
		return al_err_set(err, AL_EBADKEY, "%s is not an airlock "
		    "master key", path);
	}
	memcpy(m->key_id, p + 8, STORE_ID_LEN);
	rc = al_secret_from(p + 8 + STORE_ID_LEN, DEK_LEN, &m->key);
	al_secret_free(raw);
	if (rc != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	return 0;
}

/* Create a fresh random master key and write it to path (O_EXCL, 0600). */
static int
master_new_file(struct master *m, const char *path, struct al_err *err)
{
	struct al_secret *raw = NULL;
	unsigned char *p;
	int rc;

	m->key = NULL;
	if ((rc = al_secret_new(KEYFILE_LEN, &raw)) != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	p = al_secret_open(raw);
	memcpy(p, KEYFILE_MAGIC, 8);
	randombytes_buf(m->key_id, STORE_ID_LEN);
	memcpy(p + 8, m->key_id, STORE_ID_LEN);
	randombytes_buf(p + 8 + STORE_ID_LEN, DEK_LEN);
	if ((rc = al_fs_write_new(path, p, KEYFILE_LEN, err)) == 0 &&
	    (rc = al_secret_from(p + 8 + STORE_ID_LEN, DEK_LEN, &m->key)) != 0)
		rc = al_err_set(err, rc, "cannot allocate guarded memory");
	al_secret_free(raw);
	return rc;
}

static void
wrap_seal(struct store_wrap *w, const struct vault *v, struct master *m,
    struct al_secret *dek)
{
	unsigned char ad[AD_MAX];
	size_t adlen = wrap_ad(ad, v->vault_id, m->key_id);

	memcpy(w->key_id, m->key_id, STORE_ID_LEN);
	randombytes_buf(w->wrapped, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	(void)crypto_aead_xchacha20poly1305_ietf_encrypt(
	    w->wrapped + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL,
	    al_secret_open(dek), DEK_LEN, ad, adlen, NULL, w->wrapped,
	    al_secret_open(m->key));
	al_secret_close(dek);
	al_secret_close(m->key);
}

/* Unwrap the DEK; -1 if the key does not open this wrap. */
static int
wrap_open(const struct store_wrap *w, const struct vault *v,
    struct master *m, struct al_secret **dek)
{
	unsigned char ad[AD_MAX];
	size_t adlen = wrap_ad(ad, v->vault_id, w->key_id);
	struct al_secret *d;
	int rc;

	*dek = NULL;
	if (al_secret_new(DEK_LEN, &d) != 0)
		return -1;
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(al_secret_open(d),
	    NULL, NULL, w->wrapped + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    sizeof(w->wrapped) - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    ad, adlen, w->wrapped, al_secret_open(m->key));
	al_secret_close(m->key);
	al_secret_set_len(d, DEK_LEN);
	al_secret_close(d);
	if (rc != 0) {
		al_secret_free(d);
		return -1;
	}
	*dek = d;
	return 0;
}

/* Fill a passphrase wrap's salt and limits for a new key. */
static void
wrap_new_passphrase(struct store_wrap *w)
{
	memset(w, 0, sizeof(*w));
	w->kind = VAULT_KEY_KIND_PASSPHRASE;
	randombytes_buf(w->key_id, STORE_ID_LEN);
	randombytes_buf(w->salt, sizeof(w->salt));
	w->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
	w->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
}

static void
unlink_vault_files(const char *home)
{
	static const char *const names[] = { VAULT_DB_FILE, VAULT_DB_FILE
	    "-wal", VAULT_DB_FILE "-shm", VAULT_DB_FILE "-journal" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (al_path_join(path, sizeof(path), home, names[i]) == 0)
			(void)unlink(path);
}

int
vault_create(const char *home, const struct vault_key *key,
    const struct al_clock *clock, struct al_err *err)
{
	struct vault v;
	struct master m = { { 0 }, NULL };
	struct store_wrap w;
	struct al_secret *dek = NULL;
	char keypath[PATH_MAX], created[21];
	struct stat st;
	int rc, made_key = 0, made_db = 0;

	memset(&v, 0, sizeof(v));
	v.ops = &store_sqlite_ops;
	if (snprintf(v.home, sizeof(v.home), "%s", home) >=
	    (int)sizeof(v.home) || keyfile_path(&v, keypath, sizeof(keypath),
	    "") != 0)
		return al_err_set(err, AL_ETOOBIG, "path too long");
	if (key->kind == VAULT_KEY_KIND_PASSPHRASE && (key->passphrase ==
	    NULL || al_secret_len(key->passphrase) == 0))
		return al_err_set(err, AL_EINVAL, "the passphrase is empty");
	if ((rc = al_fs_mkdir_private(home, err)) != 0)
		return rc;
	if (lstat(keypath, &st) == 0)
		return al_err_set(err, AL_EEXIST, "%s already exists: refusing "
		    "to overwrite it (move it away if it belongs to no vault)",
		    keypath);
	if ((rc = v.ops->open(home, 1, &v.store, err)) != 0)
		return rc;
	made_db = 1;
	randombytes_buf(v.vault_id, sizeof(v.vault_id));
	if ((rc = al_secret_new(DEK_LEN, &dek)) != 0) {
		rc = al_err_set(err, rc, "cannot allocate guarded memory");
		goto out;
	}
	randombytes_buf(al_secret_open(dek), DEK_LEN);
	al_secret_set_len(dek, DEK_LEN);
	al_secret_close(dek);

	if (key->kind == VAULT_KEY_KIND_PASSPHRASE) {
		wrap_new_passphrase(&w);
		if ((rc = master_from_passphrase(&m, &w, key->passphrase,
		    err)) != 0)
			goto out;
	} else {
		memset(&w, 0, sizeof(w));
		w.kind = VAULT_KEY_KIND_FILE;
		if ((rc = master_new_file(&m, keypath, err)) != 0)
			goto out;
		made_key = 1;
	}
	wrap_seal(&w, &v, &m, dek);
	al_format_time(clock->now(clock->arg), created);
	if ((rc = v.ops->begin(v.store, err)) != 0)
		goto out;
	if ((rc = v.ops->meta_put(v.store, "vault_id", v.vault_id,
	    sizeof(v.vault_id), err)) != 0 ||
	    (rc = v.ops->meta_put(v.store, "schema", "1", 1, err)) != 0 ||
	    (rc = v.ops->meta_put(v.store, "created", created, strlen(created),
	    err)) != 0 ||
	    (rc = v.ops->wrap_put(v.store, &w, err)) != 0 ||
	    (rc = v.ops->commit(v.store, err)) != 0) {
		v.ops->rollback(v.store);
		goto out;
	}
	rc = 0;
out:
	if (v.store != NULL)
		v.ops->close(v.store);
	if (rc != 0) {
		if (made_key)
			(void)unlink(keypath);
		if (made_db)
			unlink_vault_files(home);
	}
	master_release(&m);
	al_secret_free(dek);
	return rc;
}

int
vault_open(const char *home, const struct al_clock *clock, struct vault **out,
    struct al_err *err)
{
	struct vault *v = NULL;
	struct store_wrap *wraps = NULL;
	struct al_buf id;
	char keypath[PATH_MAX];
	struct stat st;
	size_t n = 0, i;
	int rc, have_file_wrap = 0;

	*out = NULL;
	al_buf_init(&id, 64, 0);
	if (lstat(home, &st) != 0)
		return al_err_set(err, AL_ENOVAULT, "no vault at %s: run "
		    "`airlock init`", home);
	if ((rc = al_fs_check_private(home, 1, err)) != 0)
		return rc;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	v->ops = &store_sqlite_ops;
	v->clock = clock;
	if (snprintf(v->home, sizeof(v->home), "%s", home) >=
	    (int)sizeof(v->home)) {
		rc = al_err_set(err, AL_ETOOBIG, "path too long");
		goto out;
	}
	if ((rc = v->ops->open(home, 0, &v->store, err)) != 0)
		goto out;
	if ((rc = v->ops->meta_get(v->store, "vault_id", &id, err)) != 0)
		goto out;
	if (id.len != STORE_ID_LEN) {
		rc = al_err_set(err, AL_ECORRUPT, "the vault in %s has a "
		    "damaged identity", home);
		goto out;
	}
	memcpy(v->vault_id, id.data, STORE_ID_LEN);
	if ((rc = v->ops->wrap_list(v->store, &wraps, &n, err)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (wraps[i].kind == VAULT_KEY_KIND_FILE)
			have_file_wrap = 1;
	/*
	 * A file wrap counts only while master.key exists: a change from a key
	 * file to a passphrase removes the file wrap first, then the file.
	 */
	v->kind = VAULT_KEY_KIND_PASSPHRASE;
	if (have_file_wrap && keyfile_path(v, keypath, sizeof(keypath), "") ==
	    0 && lstat(keypath, &st) == 0)
		v->kind = VAULT_KEY_KIND_FILE;
	else if (!have_file_wrap && n == 0) {
		rc = al_err_set(err, AL_ECORRUPT, "the vault in %s has no "
		    "usable key wrap", home);
		goto out;
	}
	*out = v;
	v = NULL;
	rc = 0;
out:
	free(wraps);
	al_buf_release(&id);
	vault_close(v);
	return rc;
}

void
vault_close(struct vault *v)
{
	if (v == NULL)
		return;
	if (v->store != NULL)
		v->ops->close(v->store);
	al_secret_free(v->dek);
	free(v);
}

enum vault_key_kind
vault_key_kind(const struct vault *v)
{
	return v->kind;
}

int
vault_need_unlocked(const struct vault *v, struct al_err *err)
{
	if (v->dek == NULL)
		return al_err_set(err, AL_EINVAL, "the vault is locked");
	return 0;
}

int
vault_unlock(struct vault *v, const struct vault_key *key, struct al_err *err)
{
	struct store_wrap *wraps = NULL;
	struct master m = { { 0 }, NULL };
	size_t n, i;
	int rc;

	if (v->dek != NULL)
		return 0;
	if (key->kind != v->kind)
		return al_err_set(err, AL_EINVAL, "this vault is locked with "
		    "%s", v->kind == VAULT_KEY_KIND_FILE ? "master.key, not a "
		    "passphrase" : "a passphrase: give it with --passphrase-fd "
		    "or at the prompt");
	if ((rc = v->ops->wrap_list(v->store, &wraps, &n, err)) != 0)
		return rc;
	rc = AL_EBADKEY;
	if (key->kind == VAULT_KEY_KIND_FILE) {
		if ((rc = master_from_file(&m, v, err)) != 0)
			goto out;
		rc = AL_EBADKEY;
		for (i = 0; i < n && v->dek == NULL; i++)
			if (wraps[i].kind == VAULT_KEY_KIND_FILE &&
			    memcmp(wraps[i].key_id, m.key_id, STORE_ID_LEN) == 0 &&
			    wrap_open(&wraps[i], v, &m, &v->dek) == 0)
				rc = 0;
		if (rc != 0)
			rc = al_err_set(err, AL_EBADKEY, "%s/%s does not open "
			    "this vault", v->home, VAULT_KEY_FILE);
		goto out;
	}
	for (i = 0; i < n && v->dek == NULL; i++) {
		if (wraps[i].kind != VAULT_KEY_KIND_PASSPHRASE)
			continue;
		if ((rc = master_from_passphrase(&m, &wraps[i],
		    key->passphrase, err)) != 0)
			goto out;
		rc = wrap_open(&wraps[i], v, &m, &v->dek) == 0 ? 0 : AL_EBADKEY;
		master_release(&m);
	}
	if (rc != 0)
		rc = al_err_set(err, AL_EBADKEY, "wrong passphrase for the vault "
		    "in %s", v->home);
out:
	master_release(&m);
	free(wraps);
	return rc;
}

/* Add a wrap of the DEK under m, keeping the others, in one transaction. */
static int
wrap_add(struct vault *v, struct store_wrap *w, struct master *m, int prune,
    struct al_err *err)
{
	int rc;

	wrap_seal(w, v, m, v->dek);
	if ((rc = v->ops->begin(v->store, err)) != 0)
		return rc;
	if ((rc = v->ops->wrap_put(v->store, w, err)) != 0 ||
	    (prune && (rc = v->ops->wrap_prune(v->store, w->key_id, err)) != 0)
	    || (rc = v->ops->commit(v->store, err)) != 0)
		v->ops->rollback(v->store);
	return rc;
}

int
vault_key_change(struct vault *v, const struct vault_key *newkey,
    struct al_err *err)
{
	struct master m = { { 0 }, NULL };
	struct store_wrap w;
	char keypath[PATH_MAX], newpath[PATH_MAX];
	int rc;

	if ((rc = vault_need_unlocked(v, err)) != 0)
		return rc;
	if (keyfile_path(v, keypath, sizeof(keypath), "") != 0 ||
	    keyfile_path(v, newpath, sizeof(newpath), ".new") != 0)
		return al_err_set(err, AL_ETOOBIG, "path too long");
	if (newkey->kind == VAULT_KEY_KIND_PASSPHRASE) {
		if (newkey->passphrase == NULL ||
		    al_secret_len(newkey->passphrase) == 0)
			return al_err_set(err, AL_EINVAL, "the new passphrase "
			    "is empty");
		wrap_new_passphrase(&w);
		if ((rc = master_from_passphrase(&m, &w, newkey->passphrase,
		    err)) != 0)
			return rc;
		/* The new wrap replaces every old one atomically. */
		if ((rc = wrap_add(v, &w, &m, 1, err)) != 0)
			goto out;
		if (v->kind == VAULT_KEY_KIND_FILE && unlink(keypath) != 0 &&
		    errno != ENOENT) {
			rc = al_err_set(err, AL_ESYS, "the vault now uses the "
			    "passphrase, but %s could not be removed: %s",
			    keypath, strerror(errno));
			goto out;
		}
		v->kind = VAULT_KEY_KIND_PASSPHRASE;
		goto out;
	}
	/*
	 * A new key file: write master.key.new, add its wrap beside the old
	 * one, rename it over master.key, then drop the old wraps.  A crash
	 * anywhere leaves a key that opens the vault.
	 */
	(void)unlink(newpath);
	memset(&w, 0, sizeof(w));
	w.kind = VAULT_KEY_KIND_FILE;
	if ((rc = master_new_file(&m, newpath, err)) != 0)
		goto out;
	if ((rc = wrap_add(v, &w, &m, 0, err)) != 0) {
		(void)unlink(newpath);
		goto out;
	}
	if (rename(newpath, keypath) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot install %s: %s", keypath,
		    strerror(errno));
		goto out;
	}
	v->kind = VAULT_KEY_KIND_FILE;
	if ((rc = v->ops->begin(v->store, err)) != 0)
		goto out;
	if ((rc = v->ops->wrap_prune(v->store, w.key_id, err)) != 0 ||
	    (rc = v->ops->commit(v->store, err)) != 0)
		v->ops->rollback(v->store);
out:
	master_release(&m);
	return rc;
}

/* Associated data of an auxiliary key: bound to the vault and purpose. */
static size_t
aux_ad(unsigned char *ad, const unsigned char *vault_id, const char *purpose)
{
	static const char tag[] = "airlock/aux/v1";
	size_t n = strlen(purpose);

	memcpy(ad, tag, sizeof(tag));
	memcpy(ad + sizeof(tag), vault_id, STORE_ID_LEN);
	memcpy(ad + sizeof(tag) + STORE_ID_LEN, purpose, n);
	return sizeof(tag) + STORE_ID_LEN + n;
}

static int
aux_open(struct vault *v, const char *purpose, const struct al_buf *sealed,
    struct al_secret **out, struct al_err *err)
{
	unsigned char ad[AD_MAX];
	size_t adlen = aux_ad(ad, v->vault_id, purpose);
	struct al_secret *k = NULL;
	int rc;

	if (sealed->len != STORE_NONCE_LEN + DEK_LEN + ABYTES)
		return al_err_set(err, AL_ECORRUPT, "the %s key in the vault "
		    "is damaged", purpose);
	if ((rc = al_secret_new(DEK_LEN, &k)) != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(al_secret_open(k),
	    NULL, NULL, sealed->data + STORE_NONCE_LEN,
	    sealed->len - STORE_NONCE_LEN, ad, adlen, sealed->data,
	    al_secret_open(v->dek));
	vault_dek_done(v);
	al_secret_set_len(k, DEK_LEN);
	al_secret_close(k);
	if (rc != 0) {
		al_secret_free(k);
		return al_err_set(err, AL_ECRYPTO, "the %s key in the vault "
		    "failed authentication (tampered or corrupted)", purpose);
	}
	*out = k;
	return 0;
}

int
vault_aux_key(struct vault *v, const char *purpose, struct al_secret **out,
    struct al_err *err)
{
	unsigned char sealed[STORE_NONCE_LEN + DEK_LEN + ABYTES];
	unsigned char ad[AD_MAX];
	char mkey[64];
	struct al_buf cur;
	struct al_secret *k = NULL;
	size_t i, n = strlen(purpose), adlen;
	int rc;

	*out = NULL;
	if ((rc = vault_need_unlocked(v, err)) != 0)
		return rc;
	if (n == 0 || n > 32)
		return al_err_set(err, AL_EINVAL, "bad key purpose");
	for (i = 0; i < n; i++)
		if (!((purpose[i] >= 'a' && purpose[i] <= 'z') ||
		    (purpose[i] >= '0' && purpose[i] <= '9') ||
		    purpose[i] == '-'))
			return al_err_set(err, AL_EINVAL, "bad key purpose");
	(void)snprintf(mkey, sizeof(mkey), "aux:%s", purpose);
	al_buf_init(&cur, 256, 0);
	/* Read, and create if missing, inside one write transaction. */
	if ((rc = v->ops->begin(v->store, err)) != 0)
		goto out;
	rc = v->ops->meta_get(v->store, mkey, &cur, err);
	if (rc == 0) {
		v->ops->rollback(v->store);
		rc = aux_open(v, purpose, &cur, out, err);
		goto out;
	}
	if (rc != AL_ENOENT) {
		v->ops->rollback(v->store);
		goto out;
	}
	if ((rc = al_secret_new(DEK_LEN, &k)) != 0) {
		v->ops->rollback(v->store);
		rc = al_err_set(err, rc, "cannot allocate guarded memory");
		goto out;
	}
	randombytes_buf(al_secret_open(k), DEK_LEN);
	al_secret_set_len(k, DEK_LEN);
	adlen = aux_ad(ad, v->vault_id, purpose);
	randombytes_buf(sealed, STORE_NONCE_LEN);
	(void)crypto_aead_xchacha20poly1305_ietf_encrypt(
	    sealed + STORE_NONCE_LEN, NULL, al_secret_open(k), DEK_LEN, ad,
	    adlen, NULL, sealed, al_secret_open(v->dek));
	vault_dek_done(v);
	al_secret_close(k);
	if ((rc = v->ops->meta_put(v->store, mkey, sealed, sizeof(sealed),
	    err)) != 0 || (rc = v->ops->commit(v->store, err)) != 0) {
		v->ops->rollback(v->store);
		goto out;
	}
	*out = k;
	k = NULL;
out:
	al_secret_free(k);
	al_buf_release(&cur);
	return rc;
}

/*
 * Storage backend interface of the vault (private to src/vault).  A backend
 * stores rows and opaque blobs; all cryptography stays in vault.c, so a
 * backend never sees a plaintext value or key.
 */
#ifndef AIRLOCK_VAULT_STORE_INT_H
#define AIRLOCK_VAULT_STORE_INT_H

#include <sodium.h>

#include "airlock/vault.h"

#define STORE_ID_LEN	16
#define STORE_NONCE_LEN	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define STORE_SALT_LEN	crypto_pwhash_SALTBYTES
#define STORE_WRAP_LEN	(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + \
			 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)

/* One sealed secret: metadata in the clear, value as nonce + ciphertext. */
struct store_row {
	struct vault_meta	 meta;
	unsigned char		 id[STORE_ID_LEN];
	unsigned char		 nonce[STORE_NONCE_LEN];
	unsigned char		*ct;
	size_t			 ctlen;
};

/* The data key wrapped under one master key. */
struct store_wrap {
	unsigned char		key_id[STORE_ID_LEN];
	enum vault_key_kind	kind;
	unsigned char		salt[STORE_SALT_LEN];	/* passphrase only */
	unsigned long long	opslimit;
	unsigned long long	memlimit;
	unsigned char		wrapped[STORE_WRAP_LEN];
};

struct store_ops {
	const char *name;
	/* Open (create when create != 0) the store under home. */
	int	(*open)(const char *home, int create, void **out,
		    struct al_err *err);
	void	(*close)(void *s);
	/* Write transactions; begin takes the write lock at once. */
	int	(*begin)(void *s, struct al_err *err);
	int	(*commit)(void *s, struct al_err *err);
	void	(*rollback)(void *s);
	/* Small named blobs (vault id, schema version). AL_ENOENT if unset. */
	int	(*meta_get)(void *s, const char *key, struct al_buf *out,
		    struct al_err *err);
	int	(*meta_put)(void *s, const char *key, const void *p, size_t n,
		    struct al_err *err);
	int	(*wrap_list)(void *s, struct store_wrap **out, size_t *n,
		    struct al_err *err);
	int	(*wrap_put)(void *s, const struct store_wrap *w,
		    struct al_err *err);
	/* Delete every wrap but keep_id's. */
	int	(*wrap_prune)(void *s, const unsigned char *keep_id,
		    struct al_err *err);
	/* Row by name; AL_ENOENT if none. */
	int	(*row_get)(void *s, const char *name, struct store_row *out,
		    struct al_err *err);
	/* Insert a new row; AL_EEXIST if the name is taken. */
	int	(*row_insert)(void *s, const struct store_row *r,
		    struct al_err *err);
	/* Replace the row with r's id. */
	int	(*row_update)(void *s, const struct store_row *r,
		    struct al_err *err);
	int	(*row_delete)(void *s, const char *name, struct al_err *err);
	/* Metadata of all rows sorted by name. */
	int	(*row_list)(void *s, struct vault_meta **out, size_t *n,
		    struct al_err *err);
};

extern const struct store_ops store_sqlite_ops;

void	store_row_release(struct store_row *r);

/* Encode/decode hosts and labels as JSON text (shared by backends). */
int	store_meta_lists_encode(const struct vault_meta *m, char **hosts,
	    char **labels);
int	store_meta_lists_decode(struct vault_meta *m, const char *hosts,
	    const char *labels);

#endif

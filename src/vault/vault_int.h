/*
 * The vault object, shared by the files of src/vault (private): vault.c
 * (lifecycle and keys), records.c (secret records).
 */
#ifndef AIRLOCK_VAULT_INT_H
#define AIRLOCK_VAULT_INT_H

#include <limits.h>

#include "store_int.h"

#define DEK_LEN		crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define ABYTES		crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEYFILE_MAGIC	"AIRLOCK1"
#define KEYFILE_LEN	(8 + STORE_ID_LEN + DEK_LEN)
#define AD_MAX		(64 + 2 * STORE_ID_LEN + VAULT_NAME_MAX)

struct vault {
	const struct store_ops	*ops;
	void			*store;
	const struct al_clock	*clock;
	char			 home[PATH_MAX];
	unsigned char		 vault_id[STORE_ID_LEN];
	enum vault_key_kind	 kind;
	struct al_secret	*dek;		/* NULL until unlocked */
	struct al_secret_pool	*pool;		/* for values read, or NULL */
	int			 busy;		/* see vault_set_busy */
};

/* A master key in guarded memory, with the id of its wrap. */
struct master {
	unsigned char		 key_id[STORE_ID_LEN];
	struct al_secret	*key;
};

/* After a use of the data key: make it inaccessible unless busy. */
void	vault_dek_done(struct vault *v);

/* AL_EINVAL "the vault is locked" unless the data key is unwrapped. */
int	vault_need_unlocked(const struct vault *v, struct al_err *err);

#endif

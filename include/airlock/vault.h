/*
 * airlock vault: encrypted secret records and their metadata.
 *
 * Envelope encryption.  A random 256-bit data key (DEK) seals every record
 * with XChaCha20-Poly1305, a fresh nonce per write, and associated data that
 * binds the ciphertext to the vault, the secret's id, name and version, so a
 * row copied, swapped or replayed fails to open.  The DEK itself is stored
 * only wrapped by a master key: either a random key in $AIRLOCK_HOME/master.key
 * (mode 0600) or one derived with Argon2id from a passphrase (salt and
 * parameters stored).  Changing the master key re-wraps the DEK only.
 *
 * Metadata (names, owners, dates) is readable without the key; values are
 * not.  Storage sits behind an ops table (SQLite today).
 */
#ifndef AIRLOCK_VAULT_H
#define AIRLOCK_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/base.h"

#define VAULT_NAME_MAX		64
#define VAULT_VALUE_MAX		(64 * 1024)
#define VAULT_TEXT_MAX		1024	/* owner, purpose, host, label */
#define VAULT_LIST_MAX		32	/* hosts, labels per secret */
#define VAULT_PASSPHRASE_MAX	1024

#define VAULT_DB_FILE		"vault.db"
#define VAULT_KEY_FILE		"master.key"

enum vault_status {
	VAULT_ACTIVE = 0,
	VAULT_EXPIRED,		/* derived: expires <= now */
	VAULT_EXPOSED,		/* a leak was detected; rotate it */
	VAULT_REVOKED,		/* withdrawn; never leased again */
};

struct vault_label {
	char	*key;
	char	*value;
};

struct vault_meta {
	char			 name[VAULT_NAME_MAX + 1];
	char			 id[33];	/* hex of the 128-bit id */
	char			*owner;
	char			*purpose;
	int64_t			 created;
	int64_t			 updated;
	int64_t			 expires;	/* 0: never */
	int64_t			 rotate_every;	/* seconds, 0: not set */
	int64_t			 last_rotated;
	char			**hosts;
	size_t			 nhosts;
	struct vault_label	*labels;
	size_t			 nlabels;
	uint32_t		 version;
	enum vault_status	 status;	/* as stored */
	int			 corrupt;	/* metadata unreadable (list) */
};

/* How the master key is obtained. */
enum vault_key_kind {
	VAULT_KEY_KIND_FILE = 1,	/* master.key */
	VAULT_KEY_KIND_PASSPHRASE,	/* Argon2id over a passphrase */
};

struct vault_key {
	enum vault_key_kind	 kind;
	struct al_secret	*passphrase;	/* PASSPHRASE only; borrowed */
};

struct vault;

/* ---- metadata helpers --------------------------------------------------- */

/*
 * Check a secret name: 1-64 characters, parts separated by '/', each
 * [A-Za-z0-9][A-Za-z0-9._-]* (GITHUB_TOKEN, work/aws/key).
 */
int	vault_name_check(const char *name, struct al_err *err) AL_WUR;
/* Check a label "k=v" or a host; what names the option in errors. */
int	vault_text_check(const char *s, const char *what,
	    struct al_err *err) AL_WUR;
/* Effective status at now: an active secret past its expiry is expired. */
enum vault_status vault_meta_status(const struct vault_meta *m, int64_t now);
/* The value of m's label key, or NULL. */
const char *vault_meta_label(const struct vault_meta *m, const char *key);
/* Whether rotation is due at now (rotate_every set and elapsed). */
int	vault_meta_rotation_due(const struct vault_meta *m, int64_t now);
const char *vault_status_name(enum vault_status s);
/* Deep copy; dst must be released with vault_meta_release. */
int	vault_meta_copy(struct vault_meta *dst, const struct vault_meta *src)
	    AL_WUR;
/* Free what m owns and zero it. */
void	vault_meta_release(struct vault_meta *m);
void	vault_meta_list_free(struct vault_meta *list, size_t n);
/*
 * Metadata as a new JSON object (jansson), the one shape every command and
 * the broker show: name, id, owner, purpose, status (effective at now),
 * version, dates (RFC 3339 or null), rotation, hosts, labels.  Never a
 * value.  NULL when out of memory.
 */
struct json_t;
struct json_t *vault_meta_json(const struct vault_meta *m, int64_t now);

/* ---- lifecycle ---------------------------------------------------------- */

/*
 * Create home (0700) if needed, the vault database and, for
 * VAULT_KEY_KIND_FILE, master.key.  AL_EEXIST if a vault is already there;
 * on any failure nothing new is left behind.
 */
int	vault_create(const char *home, const struct vault_key *key,
	    const struct al_clock *clock, struct al_err *err) AL_WUR;

/*
 * Open the vault in home for metadata access.  AL_ENOVAULT ("no vault at
 * PATH: run `airlock init`") when there is none; AL_EPERM when the directory
 * or database is accessible to group or others.
 */
int	vault_open(const char *home, const struct al_clock *clock,
	    struct vault **out, struct al_err *err) AL_WUR;
void	vault_close(struct vault *v);

/* Which kind of master key this vault expects. */
enum vault_key_kind vault_key_kind(const struct vault *v);

/*
 * Unwrap the data key into guarded memory so values can be read and
 * written.  AL_EBADKEY on a wrong passphrase or a master.key that does not
 * belong to this vault; AL_EPERM on an unsafe master.key.
 */
int	vault_unlock(struct vault *v, const struct vault_key *key,
	    struct al_err *err) AL_WUR;

/* ---- secrets ------------------------------------------------------------ */

/*
 * Add a secret: m supplies name, owner, purpose and optional fields; id,
 * dates, version (1) and status (active) are set here.  value is borrowed.
 * AL_EEXIST if the name is taken.  Needs an unlocked vault.
 */
int	vault_secret_add(struct vault *v, const struct vault_meta *m,
	    struct al_secret *value, struct al_err *err) AL_WUR;

/* Metadata of one secret.  AL_ENOENT names the secret (and a near miss). */
int	vault_secret_get(struct vault *v, const char *name,
	    struct vault_meta *out, struct al_err *err) AL_WUR;

/* Metadata of every secret, sorted by name. */
int	vault_secret_list(struct vault *v, struct vault_meta **out,
	    size_t *n, struct al_err *err) AL_WUR;

/*
 * Decrypt a secret's value into new guarded memory (closed).  AL_ECRYPTO
 * naming the secret when its record was tampered with or corrupted.  meta
 * may be NULL.
 */
int	vault_secret_read(struct vault *v, const char *name,
	    struct al_secret **value, struct vault_meta *meta,
	    struct al_err *err) AL_WUR;

/*
 * Busy mode, for a long-running reader such as the broker (one read per
 * use of a lease): values read from now on take their guarded memory from
 * pool (see base.h), and the data key stays readable between reads instead
 * of being switched to PROT_NONE and back each time.  Both keep their
 * guard pages, mlock and exclusion from core dumps; what busy mode gives up
 * is the fault on a stray read between uses, for two page-protection
 * changes per read (each a TLB shootdown on every CPU).
 */
void	vault_set_busy(struct vault *v, struct al_secret_pool *pool);

/* Replace the value: version + 1, last rotated = now, status active. */
int	vault_secret_rotate(struct vault *v, const char *name,
	    struct al_secret *value, struct al_err *err) AL_WUR;

/*
 * Replace the editable metadata (owner, purpose, expires, rotate_every,
 * hosts, labels, status) of the secret named m->name.
 */
int	vault_secret_update(struct vault *v, const struct vault_meta *m,
	    struct al_err *err) AL_WUR;

/* Remove a secret for good. */
int	vault_secret_remove(struct vault *v, const char *name,
	    struct al_err *err) AL_WUR;

/*
 * A 32-byte key for purpose (e.g. "audit"): generated at random on first use
 * and stored sealed under the data key, so it is as safe as the secrets and
 * survives master-key changes.  Returned in new guarded memory (closed).
 * Needs an unlocked vault.  purpose is 1-32 characters of [a-z0-9-].
 */
int	vault_aux_key(struct vault *v, const char *purpose,
	    struct al_secret **out, struct al_err *err) AL_WUR;

/*
 * Re-wrap the data key under a new master key (the vault must be unlocked).
 * Switching to a key file writes a new master.key; the switch is crash-safe:
 * at every instant either the old or the new key opens the vault.
 */
int	vault_key_change(struct vault *v, const struct vault_key *newkey,
	    struct al_err *err) AL_WUR;

/* ---- the approver PIN --------------------------------------------------- */

/*
 * Approving a lease request needs the approver PIN, typed on a terminal by
 * the human and checked by the broker.  Only its Argon2id hash
 * (crypto_pwhash_str, interactive limits) is stored, in
 * HOME/VAULT_PIN_FILE, created 0600 and replaced atomically.  A PIN is
 * VAULT_PIN_MIN to VAULT_PIN_MAX bytes.
 */
#define VAULT_PIN_FILE	"approver.pin"
#define VAULT_PIN_MIN	6
#define VAULT_PIN_MAX	256

/* 1 when HOME holds a readable PIN hash. */
int	vault_pin_isset(const char *home);
/* AL_EINVAL/AL_ETOOBIG when pin is too short or too long for a new PIN. */
int	vault_pin_check_new(struct al_secret *pin, struct al_err *err)
	    AL_WUR;
/* Hash pin and store it, replacing any PIN set before. */
int	vault_pin_set(const char *home, struct al_secret *pin,
	    struct al_err *err) AL_WUR;
/*
 * 0 when pin is the stored PIN; AL_EBADKEY when not ("wrong approver
 * PIN"); AL_ENOENT when none is set (the message says how to set one);
 * AL_EPERM/AL_ECORRUPT for an unsafe or damaged file.
 */
int	vault_pin_verify(const char *home, struct al_secret *pin,
	    struct al_err *err) AL_WUR;

#endif

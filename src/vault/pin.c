/*
 * The approver PIN: what a human types to approve a lease request, and
 * what an agent running as the same user does not have.  Only its Argon2id
 * hash is kept (libsodium's crypto_pwhash_str, the algorithm and its
 * parameters inside the string), in $AIRLOCK_HOME/approver.pin, mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/vault.h"

static int
pin_path(const char *home, char *out, size_t outsz, const char *suffix,
    struct al_err *err)
{
	if (snprintf(out, outsz, "%s/%s%s", home, VAULT_PIN_FILE, suffix) >=
	    (int)outsz)
		return al_err_set(err, AL_EINVAL, "$AIRLOCK_HOME is too long");
	return 0;
}

/* The stored hash, NUL-terminated; AL_ENOENT when no PIN is set. */
static int
pin_read(const char *home, char hash[crypto_pwhash_STRBYTES],
    struct al_err *err)
{
	char path[4096];
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if ((rc = pin_path(home, path, sizeof(path), "", err)) != 0 ||
	    (rc = al_fs_check_private(path, 0, err)) != 0)
		return rc == AL_ENOENT ? al_err_set(err, AL_ENOENT, "no "
		    "approver PIN is set: the vault's owner sets one with "
		    "`airlock approver set-pin`") : rc;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return al_err_set(err, AL_ESYS, "cannot open %s: %s", path,
		    strerror(errno));
	while (got < crypto_pwhash_STRBYTES - 1) {
		n = read(fd, hash + got, crypto_pwhash_STRBYTES - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	(void)close(fd);
	hash[got] = '\0';
	if (got == 0 || strncmp(hash, crypto_pwhash_STRPREFIX,
	    strlen(crypto_pwhash_STRPREFIX)) != 0)
		return al_err_set(err, AL_ECORRUPT, "%s is not an Argon2id "
		    "hash: set the PIN again with `airlock approver set-pin`",
		    path);
	return 0;
}

int
vault_pin_isset(const char *home)
{
	char hash[crypto_pwhash_STRBYTES];
	struct al_err err;

	return pin_read(home, hash, &err) == 0;
}

int
vault_pin_check_new(struct al_secret *pin, struct al_err *err)
{
	size_t n = al_secret_len(pin);

	if (n < VAULT_PIN_MIN)
		return al_err_set(err, AL_EINVAL, "the approver PIN must be at "
		    "least %d characters", VAULT_PIN_MIN);
	if (n > VAULT_PIN_MAX)
		return al_err_set(err, AL_ETOOBIG, "the approver PIN must be at "
		    "most %d characters", VAULT_PIN_MAX);
	return 0;
}

int
vault_pin_set(const char *home, struct al_secret *pin, struct al_err *err)
{
	char hash[crypto_pwhash_STRBYTES], path[4096], tmp[4096];
	int rc;

	if ((rc = vault_pin_check_new(pin, err)) != 0)
		return rc;
	if (crypto_pwhash_str(hash, (const char *)al_secret_open(pin),
	    al_secret_len(pin), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		al_secret_close(pin);
		return al_err_set(err, AL_ENOMEM, "Argon2id ran out of memory");
	}
	al_secret_close(pin);
	if ((rc = pin_path(home, path, sizeof(path), "", err)) != 0 ||
	    (rc = pin_path(home, tmp, sizeof(tmp), ".new", err)) != 0)
		goto out;
	/* A leftover of an interrupted set-pin is ours to replace. */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		rc = al_err_set(err, AL_ESYS, "cannot remove %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if ((rc = al_fs_write_new(tmp, hash, strlen(hash), err)) != 0)
		goto out;
	if (rename(tmp, path) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot rename %s: %s", tmp,
		    strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	(void)al_fs_sync_dir_of(path);
	rc = 0;
out:
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int
vault_pin_verify(const char *home, struct al_secret *pin, struct al_err *err)
{
	char hash[crypto_pwhash_STRBYTES];
	int rc, ok;

	if ((rc = pin_read(home, hash, err)) != 0)
		return rc;
	if (al_secret_len(pin) == 0 || al_secret_len(pin) > VAULT_PIN_MAX)
		return al_err_set(err, AL_EBADKEY, "wrong approver PIN");
	ok = crypto_pwhash_str_verify(hash, (const char *)al_secret_open(pin),
	    al_secret_len(pin)) == 0;
	al_secret_close(pin);
	sodium_memzero(hash, sizeof(hash));
	return ok ? 0 : al_err_set(err, AL_EBADKEY, "wrong approver PIN");
}

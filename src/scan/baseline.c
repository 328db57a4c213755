/*
 * Baselines: accepted findings, stored as fingerprints
 * "rule:path:hash", where hash is BLAKE2b-128 of the secret keyed with a
 * random 256-bit key kept in the baseline file.  The key is not secret (the
 * file is committed); it makes hashes useless outside this one baseline, so
 * nobody can test a guessed value against a precomputed table, and two
 * repositories holding the same secret do not show the same hash.  A
 * low-entropy password can still be guessed by whoever holds the file, so
 * a baseline is for accepting findings, not for hiding them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "scan_int.h"


struct scan_baseline {
	unsigned char	  key[SCAN_FP_KEY_BYTES];
	char		**fp;		/* sorted */
	size_t		  n;
};

int
scan_fingerprint(const struct scan_finding *f, char *out, size_t outsz)
{
	int n;

	if (f->hash[0] == '\0')
		return AL_EINVAL;
	n = snprintf(out, outsz, "%s:%s:%s", f->rule->id, f->path, f->hash);
	return n < 0 || (size_t)n >= outsz ? AL_ETOOBIG : 0;
}

void
scan_baseline_free(struct scan_baseline *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		free(b->fp[i]);
	free(b->fp);
	free(b);
}

int
scan_baseline_new(struct scan_baseline **out, struct al_err *err)
{
	struct scan_baseline *b;

	if ((*out = b = calloc(1, sizeof(*b))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	randombytes_buf(b->key, sizeof(b->key));
	return 0;
}

const unsigned char *
scan_baseline_key(const struct scan_baseline *b)
{
	return b->key;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
scan_baseline_load(const char *path, struct scan_baseline **out,
    struct al_err *err)
{
	struct scan_baseline *b = NULL;
	json_error_t je;
	json_t *root = NULL, *fps, *v, *fp;
	const char *key;
	size_t i, klen;
	int rc = 0;

	*out = NULL;
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return AL_ENOENT;
	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		rc = al_err_set(err, AL_EINVAL, "%s:%d: %s", path, je.line,
		    je.text);
		goto out;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (json_integer_value(json_object_get(root, "version")) != 1 ||
	    (key = json_string_value(json_object_get(root, "key"))) == NULL ||
	    sodium_hex2bin(b->key, sizeof(b->key), key, strlen(key), NULL,
	    &klen, NULL) != 0 || klen != sizeof(b->key) ||
	    !json_is_array(fps = json_object_get(root, "findings"))) {
		rc = al_err_set(err, AL_EINVAL, "%s is not an airlock baseline "
		    "(version 1 with a 64-hex-digit key and a findings list); "
		    "write one with --write-baseline", path);
		goto out;
	}
	if ((b->fp = calloc(json_array_size(fps) + 1, sizeof(*b->fp))) ==
	    NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(fps, i, v) {
		if ((fp = json_object_get(v, "fingerprint")) == NULL ||
		    !json_is_string(fp)) {
			rc = al_err_set(err, AL_EINVAL, "%s: finding %zu has no "
			    "fingerprint", path, i + 1);
			goto out;
		}
		if ((b->fp[b->n] = strdup(json_string_value(fp))) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		b->n++;
	}
	qsort(b->fp, b->n, sizeof(*b->fp), cmp_str);
	*out = b;
	b = NULL;
out:
	scan_baseline_free(b);
	json_decref(root);
	return rc;
}

static int
accepted(const struct scan_baseline *b, const struct scan_finding *f)
{
	char fp[SCAN_FINGERPRINT_MAX];
	const char *k = fp;

	if (scan_fingerprint(f, fp, sizeof(fp)) != 0)
		return 0;
	return bsearch(&k, b->fp, b->n, sizeof(*b->fp), cmp_str) != NULL;
}

size_t
scan_baseline_filter(const struct scan_baseline *b, struct scan_report *r)
{
	size_t i, j, removed = 0;

	for (i = j = 0; i < r->nfindings; i++) {
		if (accepted(b, &r->findings[i])) {
			free(r->findings[i].path);
			removed++;
			continue;
		}
		r->findings[j++] = r->findings[i];
	}
	r->nfindings = j;
	return removed;
}

int
scan_baseline_write(const struct scan_baseline *b,
    const struct scan_report *r, const char *path, struct al_err *err)
{
	char fp[SCAN_FINGERPRINT_MAX], hex[SCAN_FP_KEY_BYTES * 2 + 1], *tmp = NULL;
	json_t *root = json_object(), *arr = json_array(), *o;
	const struct scan_finding *f;
	FILE *fh = NULL;
	size_t i;
	int bad = root == NULL || arr == NULL, rc = 0, fd = -1;

	al_hex(b->key, sizeof(b->key), hex);
	for (i = 0; !bad && i < r->nfindings; i++) {
		f = &r->findings[i];
		if (scan_fingerprint(f, fp, sizeof(fp)) != 0 ||
		    (o = json_object()) == NULL) {
			bad = 1;
			break;
		}
		bad |= json_object_set_new(o, "fingerprint", json_string(fp));
		bad |= json_object_set_new(o, "rule", json_string(f->rule->id));
		bad |= json_object_set_new(o, "path", json_string(f->path));
		bad |= json_object_set_new(o, "line", json_integer(f->line));
		bad |= json_array_append_new(arr, o);
	}
	bad |= json_object_set_new(root, "version", json_integer(1));
	bad |= json_object_set_new(root, "key", json_string(hex));
	bad |= json_object_set_new(root, "findings", arr);
	arr = NULL;
	if (bad) {
		rc = al_err_set(err, AL_ENOMEM, "cannot build the baseline");
		goto out;
	}
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1 || (fh = fdopen(fd, "w")) == NULL) {
		rc = al_err_set(err, AL_EIO, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (json_dumpf(root, fh, JSON_INDENT(2)) != 0 || fputc('\n', fh) ==
	    EOF || fflush(fh) != 0 || fsync(fileno(fh)) != 0) {
		rc = al_err_set(err, AL_EIO, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		rc = al_err_set(err, AL_EIO, "cannot replace %s: %s", path,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
out:
	if (fh != NULL)
		(void)fclose(fh);
	if (fd != -1)
		(void)close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	json_decref(arr);
	json_decref(root);
	return rc;
}

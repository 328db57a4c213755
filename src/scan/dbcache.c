/*
 * A cache of compiled vectorscan databases.  Compiling every rule takes a
 * few hundred milliseconds, far more than scanning a commit, so a
 * compiled database is kept in a private directory under a name that is a
 * hash of everything it was built from: the vectorscan version, the CPU
 * features, and each expression with its flags and id.  A changed rule set
 * simply gets a new file.  The directory must belong to the user and be
 * closed to others, as the files are loaded into memory as code tables: a
 * user who can write there can already run code as that user.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "engine_int.h"

#define DB_CACHE_MAX (256u * 1024 * 1024)
#define DB_MAGIC "ALHSDB01"	/* then n (u32), n widths (u32), the database */

void
scan_db_key(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, size_t n, unsigned char key[32])
{
	crypto_generichash_state st;
	hs_platform_info_t plat;
	const char *ver = hs_version();
	uint32_t v;
	size_t i;

	memset(&plat, 0, sizeof(plat));
	(void)hs_populate_platform(&plat);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)"airlock-scan-db-2",
	    17);
	crypto_generichash_update(&st, (const unsigned char *)ver,
	    strlen(ver) + 1);
	crypto_generichash_update(&st, (const unsigned char *)&plat,
	    sizeof(plat));
	for (i = 0; i < n; i++) {
		crypto_generichash_update(&st, (const unsigned char *)exprs[i],
		    strlen(exprs[i]) + 1);
		v = flags[i];
		crypto_generichash_update(&st, (const unsigned char *)&v,
		    sizeof(v));
		v = ids[i];
		crypto_generichash_update(&st, (const unsigned char *)&v,
		    sizeof(v));
	}
	crypto_generichash_final(&st, key, 32);
}

static int
cache_path(const char *dir, const unsigned char key[32], char *out,
    size_t outsz)
{
	char hex[65];
	int n;

	al_hex(key, 32, hex);
	n = snprintf(out, outsz, "%s/scan-%.32s.hsdb", dir, hex);
	return n < 0 || (size_t)n >= outsz ? AL_ETOOBIG : 0;
}

hs_database_t *
scan_db_cache_load(const char *dir, const unsigned char key[32],
    unsigned *widths, size_t n)
{
	size_t head = 8 + 4 + n * 4;
	uint32_t v;
	char path[4096];
	struct stat st;
	hs_database_t *db = NULL;
	char *buf = NULL;
	size_t off = 0;
	ssize_t got;
	int fd = -1;

	if (cache_path(dir, key, path, sizeof(path)) != 0 ||
	    al_fs_check_private(dir, 1, NULL) != 0 ||
	    al_fs_check_private(path, 0, NULL) != 0)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > DB_CACHE_MAX ||
	    (buf = malloc((size_t)st.st_size)) == NULL)
		goto out;
	while (off < (size_t)st.st_size) {
		got = read(fd, buf + off, (size_t)st.st_size - off);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			goto out;
		off += (size_t)got;
	}
	if (off <= head || memcmp(buf, DB_MAGIC, 8) != 0)
		goto out;
	memcpy(&v, buf + 8, 4);
	if (v != n)
		goto out;
	memcpy(widths, buf + 12, n * 4);
	if (hs_deserialize_database(buf + head, off - head, &db) !=
	    HS_SUCCESS)
		db = NULL;	/* stale or damaged: compile instead */
out:
	if (fd != -1)
		(void)close(fd);
	free(buf);
	return db;
}

void
scan_db_cache_store(const char *dir, const unsigned char key[32],
    const unsigned *widths, size_t nw, const hs_database_t *db)
{
	char path[4096], tmp[4200];
	char *bytes = NULL, *file = NULL;
	size_t len = 0, head = 8 + 4 + nw * 4;
	uint32_t v = (uint32_t)nw;
	int n;

	if (al_fs_check_private(dir, 1, NULL) != 0 ||
	    cache_path(dir, key, path, sizeof(path)) != 0 ||
	    hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return;
	if ((file = malloc(head + len)) == NULL)
		goto out;
	memcpy(file, DB_MAGIC, 8);
	memcpy(file + 8, &v, 4);
	memcpy(file + 12, widths, nw * 4);
	memcpy(file + head, bytes, len);
	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	/* Written whole, then renamed: readers never see half a file. */
	if (n > 0 && (size_t)n < sizeof(tmp) &&
	    al_fs_write_new(tmp, file, head + len, NULL) == 0 &&
	    rename(tmp, path) != 0)
		(void)unlink(tmp);
out:
	free(file);
	free(bytes);
}

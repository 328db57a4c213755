/* Loading libpq and libcrypto at run time (see pq_dl.h and al_dl_load). */
#include <dlfcn.h>
#include <string.h>

#include "pq_dl.h"

int
pq_dl_open(struct pq_dl *t, struct al_err *err)
{
#define PQ_DL_NAME(fn)	AL_STR(fn),
#define PQ_DL_SLOT(fn)	(void **)&t->fn,
	const char *const pq_names[] = { PQ_DL_FUNCS(PQ_DL_NAME) };
	void **const pq_slots[] = { PQ_DL_FUNCS(PQ_DL_SLOT) };
	const char *const c_names[] = { CRYPTO_DL_FUNCS(PQ_DL_NAME) };
	void **const c_slots[] = { CRYPTO_DL_FUNCS(PQ_DL_SLOT) };
#undef PQ_DL_NAME
#undef PQ_DL_SLOT
	int rc;

	if (t->pq != NULL)
		return 0;
	if (t->crypto == NULL && (rc = al_dl_load(CRYPTO_DL_SONAME,
	    "dynamic credentials need libcrypto", c_names, c_slots,
	    sizeof(c_names) / sizeof(c_names[0]), &t->crypto, err)) != 0)
		return rc;
	if ((rc = al_dl_load(PQ_DL_SONAME, "dynamic PostgreSQL credentials "
	    "need libpq", pq_names, pq_slots, sizeof(pq_names) /
	    sizeof(pq_names[0]), &t->pq, err)) != 0)
		return rc;
	return 0;
}

int
pq_dl_open_curl(struct pq_dl *t, struct al_err *err)
{
#define PQ_DL_NAME(fn)	AL_STR(fn),
#define PQ_DL_SLOT(fn)	(void **)&t->fn,
#define CURL_DL_NAME(field, fn)	AL_STR(fn),
#define CURL_DL_SLOT(field, fn)	(void **)&t->field,
	const char *const u_names[] = { CURL_DL_FUNCS(CURL_DL_NAME) };
	void **const u_slots[] = { CURL_DL_FUNCS(CURL_DL_SLOT) };
#undef CURL_DL_NAME
#undef CURL_DL_SLOT
	const char *const c_names[] = { CRYPTO_DL_FUNCS(PQ_DL_NAME) };
	void **const c_slots[] = { CRYPTO_DL_FUNCS(PQ_DL_SLOT) };
#undef PQ_DL_NAME
#undef PQ_DL_SLOT
	int rc;

	if (t->crypto == NULL && (rc = al_dl_load(CRYPTO_DL_SONAME,
	    "dynamic credentials need libcrypto", c_names, c_slots,
	    sizeof(c_names) / sizeof(c_names[0]), &t->crypto, err)) != 0)
		return rc;
	if (t->curl == NULL && (rc = al_dl_load(CURL_DL_SONAME,
	    "GitHub App credentials need libcurl", u_names, u_slots,
	    sizeof(u_names) / sizeof(u_names[0]), &t->curl, err)) != 0)
		return rc;
	return 0;
}

void
pq_dl_close(struct pq_dl *t)
{
	if (t->pq != NULL)
		(void)dlclose(t->pq);
	if (t->crypto != NULL)
		(void)dlclose(t->crypto);
	if (t->curl != NULL)
		(void)dlclose(t->curl);
	memset(t, 0, sizeof(*t));
}

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
	memset(t, 0, sizeof(*t));
	if ((rc = al_dl_load(PQ_DL_SONAME, "dynamic PostgreSQL credentials "
	    "need libpq", pq_names, pq_slots, sizeof(pq_names) /
	    sizeof(pq_names[0]), &t->pq, err)) != 0 ||
	    (rc = al_dl_load(CRYPTO_DL_SONAME, "dynamic PostgreSQL credentials "
	    "need libcrypto", c_names, c_slots, sizeof(c_names) /
	    sizeof(c_names[0]), &t->crypto, err)) != 0) {
		pq_dl_close(t);
		return rc;
	}
	return 0;
}

void
pq_dl_close(struct pq_dl *t)
{
	if (t->pq != NULL)
		(void)dlclose(t->pq);
	if (t->crypto != NULL)
		(void)dlclose(t->crypto);
	memset(t, 0, sizeof(*t));
}

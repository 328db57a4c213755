/* Loading libmicrohttpd and libcurl at run time (see guard_int.h). */
#include <dlfcn.h>
#include <string.h>

#include "guard_int.h"

int
guard_dl_open(struct guard_dl *t, struct al_err *err)
{
#define GUARD_DL_NAME(field, fn)	AL_STR(fn),
#define GUARD_DL_SLOT(field, fn)	(void **)&t->field,
	const char *const mnames[] = { GUARD_MHD_FUNCS(GUARD_DL_NAME) };
	void **const mslots[] = { GUARD_MHD_FUNCS(GUARD_DL_SLOT) };
	const char *const cnames[] = { GUARD_CURL_FUNCS(GUARD_DL_NAME) };
	void **const cslots[] = { GUARD_CURL_FUNCS(GUARD_DL_SLOT) };
#undef GUARD_DL_NAME
#undef GUARD_DL_SLOT
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = al_dl_load(MHD_DL_SONAME, "airlock guard needs "
	    "libmicrohttpd", mnames, mslots, sizeof(mnames) /
	    sizeof(mnames[0]), &t->mhd_handle, err)) != 0)
		return rc;
	if ((rc = al_dl_load(CURL_DL_SONAME, "airlock guard needs libcurl",
	    cnames, cslots, sizeof(cnames) / sizeof(cnames[0]),
	    &t->curl_handle, err)) != 0) {
		(void)dlclose(t->mhd_handle);
		memset(t, 0, sizeof(*t));
		return rc;
	}
	return 0;
}

/* Loading libmicrohttpd at run time (see mhd_dl.h and al_dl_load). */
#include <dlfcn.h>
#include <string.h>

#include "mhd_dl.h"

int
mhd_dl_open(struct mhd_dl *t, const char *file, struct al_err *err)
{
#define MHD_DL_NAME(field, fn)	AL_STR(fn),
#define MHD_DL_SLOT(field, fn)	(void **)&t->field,
	const char *const names[] = { MHD_DL_FUNCS(MHD_DL_NAME) };
	void **const slots[] = { MHD_DL_FUNCS(MHD_DL_SLOT) };
#undef MHD_DL_NAME
#undef MHD_DL_SLOT

	memset(t, 0, sizeof(*t));
	return al_dl_load(file, "airlock serve needs libmicrohttpd", names,
	    slots, sizeof(names) / sizeof(names[0]), &t->handle, err);
}

void
mhd_dl_close(struct mhd_dl *t)
{
	if (t->handle != NULL)
		(void)dlclose(t->handle);
	memset(t, 0, sizeof(*t));
}

/*
 * Loading libmicrohttpd at run time (see mhd_dl.h).  RTLD_NOW resolves
 * everything before the first request, so a broken library fails at start,
 * not in the middle of serving; RTLD_LOCAL keeps its symbols out of the
 * global scope.
 */
#include <dlfcn.h>
#include <string.h>

#include "mhd_dl.h"

#define MHD_DL_STR_(x)	#x
#define MHD_DL_STR(x)	MHD_DL_STR_(x)

/* NULL when name was found (into *out), else why not. */
static const char *
sym(void *handle, const char *name, void **out)
{
	const char *why;

	(void)dlerror();
	if ((*out = dlsym(handle, name)) != NULL)
		return NULL;
	why = dlerror();
	return why != NULL ? why : name;
}

int
mhd_dl_open(struct mhd_dl *t, const char *file, struct al_err *err)
{
	const char *why = NULL;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	(void)dlerror();
	t->handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (t->handle == NULL) {
		why = dlerror();
		goto out;
	}
	/* POSIX: a function pointer may be stored through a void **. */
#define MHD_DL_SYM(field, fn)						\
	if (why == NULL)						\
		why = sym(t->handle, MHD_DL_STR(fn), (void **)&t->field);
	MHD_DL_FUNCS(MHD_DL_SYM)
#undef MHD_DL_SYM
out:
	if (t->handle == NULL || why != NULL) {
		rc = al_err_set(err, AL_ESYS, "airlock serve needs "
		    "libmicrohttpd (%s): %s", file, why ? why :
		    "unknown error");
		mhd_dl_close(t);
	}
	return rc;
}

void
mhd_dl_close(struct mhd_dl *t)
{
	if (t->handle != NULL)
		(void)dlclose(t->handle);
	memset(t, 0, sizeof(*t));
}

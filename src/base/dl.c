/*
 * Loading a shared library at run time for the one component that uses it
 * (libmicrohttpd, ICU), so no other command maps it.  RTLD_NOW
 * resolves everything at load, so a broken library fails there and not in
 * the middle of a call; RTLD_LOCAL keeps its symbols (and those of the
 * libraries it needs) out of the global scope; RTLD_NODELETE keeps it mapped
 * as a linked library would be, since such libraries keep process-wide
 * caches and exit handlers.
 */
#include <dlfcn.h>

#include "airlock/base.h"

int
al_dl_load(const char *file, const char *needs, const char *const names[],
    void **const slots[], size_t n, void **handle, struct al_err *err)
{
	const char *why = NULL;
	size_t i;
	int rc;

	(void)dlerror();
	if ((*handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) ==
	    NULL && (why = dlerror()) == NULL)
		why = "unknown error";
	for (i = 0; why == NULL && i < n; i++) {
		/* POSIX: a function pointer may be stored through a void **. */
		(void)dlerror();
		if ((*slots[i] = dlsym(*handle, names[i])) == NULL &&
		    (why = dlerror()) == NULL)
			why = names[i];
	}
	if (why == NULL)
		return 0;
	/* why may live in dlerror's buffer: format it before dlclose. */
	rc = al_err_set(err, AL_ESYS, "%s (%s): %s", needs, file, why);
	for (i = 0; i < n; i++)
		*slots[i] = NULL;
	if (*handle != NULL)
		(void)dlclose(*handle);
	*handle = NULL;
	return rc;
}

/*
 * Loading libcurl at run time (see curl_dl.h).  RTLD_NOW resolves
 * everything before the first request, so a broken library fails when the
 * client connects, not halfway through a call; RTLD_LOCAL keeps its symbols
 * (and those of the libraries it needs) out of the global scope.
 */
#include <dlfcn.h>
#include <string.h>

#include "curl_dl.h"

#define CURL_DL_STR_(x)	#x
#define CURL_DL_STR(x)	CURL_DL_STR_(x)

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
curl_dl_open(struct curl_dl *t, const char *file, struct al_err *err)
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
#define CURL_DL_SYM(field, fn)						\
	if (why == NULL)						\
		why = sym(t->handle, CURL_DL_STR(fn), (void **)&t->field);
	CURL_DL_FUNCS(CURL_DL_SYM)
#undef CURL_DL_SYM
out:
	if (t->handle == NULL || why != NULL) {
		rc = al_err_set(err, AL_ESYS, "talking to the broker needs "
		    "libcurl (%s): %s", file, why ? why : "unknown error");
		curl_dl_close(t);
	}
	return rc;
}

void
curl_dl_close(struct curl_dl *t)
{
	if (t->handle != NULL)
		(void)dlclose(t->handle);
	memset(t, 0, sizeof(*t));
}

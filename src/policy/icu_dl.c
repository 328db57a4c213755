/*
 * Loading ICU at run time (see icu_dl.h).  RTLD_NOW resolves every function
 * at load, so a broken library fails when the policy loads, never while a
 * request is being decided; RTLD_LOCAL keeps its symbols to itself.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "icu_dl.h"

/* Two steps, so that ucal_open is renamed (ucal_open_72) before '#'. */
#define ICU_DL_STR_(x)	#x
#define ICU_DL_STR(x)	ICU_DL_STR_(x)

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
icu_dl_new(const char *file, struct icu_dl **out, struct al_err *err)
{
	struct icu_dl *t;
	const char *why = NULL;
	int rc = 0;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	(void)dlerror();
	t->handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (t->handle == NULL) {
		why = dlerror();
		goto out;
	}
	/* POSIX: a function pointer may be stored through a void **. */
#define ICU_DL_SYM(field, fn)						\
	if (why == NULL)						\
		why = sym(t->handle, ICU_DL_STR(fn), (void **)&t->field);
	ICU_DL_FUNCS(ICU_DL_SYM)
#undef ICU_DL_SYM
out:
	if (t != NULL && (t->handle == NULL || why != NULL)) {
		rc = al_err_set(err, AL_ESYS, "a policy with time windows "
		    "('when') needs ICU (%s): %s", file, why ? why :
		    "unknown error");
		icu_dl_free(t);
		t = NULL;
	}
	*out = t;
	return rc;
}

void
icu_dl_free(struct icu_dl *t)
{
	if (t == NULL)
		return;
	if (t->handle != NULL)
		(void)dlclose(t->handle);
	free(t);
}

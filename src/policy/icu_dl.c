/*
 * Loading ICU at run time (see icu_dl.h and al_dl_load).  The names are
 * stringified through AL_STR, so that ucal_open is first renamed by ICU's
 * headers (ucal_open_72) and follows the version built against.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "icu_dl.h"

static int
load(struct icu_dl *t, const char *file, struct al_err *err)
{
#define ICU_DL_NAME(field, fn)	AL_STR(fn),
#define ICU_DL_SLOT(field, fn)	(void **)&t->field,
	const char *const names[] = { ICU_DL_FUNCS(ICU_DL_NAME) };
	void **const slots[] = { ICU_DL_FUNCS(ICU_DL_SLOT) };
#undef ICU_DL_NAME
#undef ICU_DL_SLOT

	return al_dl_load(file, "a policy with time windows ('when') needs "
	    "ICU", names, slots, sizeof(names) / sizeof(names[0]), &t->handle,
	    err);
}

int
icu_dl_new(const char *file, struct icu_dl **out, struct al_err *err)
{
	struct icu_dl *t;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if ((rc = load(t, file, err)) != 0) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
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

/* Loading libcurl at run time (see curl_dl.h and al_dl_load). */
#include <dlfcn.h>
#include <string.h>

#include "curl_dl.h"

int
curl_dl_open(struct curl_dl *t, const char *file, struct al_err *err)
{
#define CURL_DL_NAME(field, fn)	AL_STR(fn),
#define CURL_DL_SLOT(field, fn)	(void **)&t->field,
	const char *const names[] = { CURL_DL_FUNCS(CURL_DL_NAME) };
	void **const slots[] = { CURL_DL_FUNCS(CURL_DL_SLOT) };
#undef CURL_DL_NAME
#undef CURL_DL_SLOT

	memset(t, 0, sizeof(*t));
	return al_dl_load(file, "talking to the broker needs libcurl", names,
	    slots, sizeof(names) / sizeof(names[0]), &t->handle, err);
}

void
curl_dl_close(struct curl_dl *t)
{
	if (t->handle != NULL)
		(void)dlclose(t->handle);
	memset(t, 0, sizeof(*t));
}

/*
 * Private to src/policy: ICU, loaded with dlopen() by the first time window
 * a policy compiles instead of linked, so that no command maps ICU (and
 * libstdc++) unless it reads a policy with a 'when'.
 *
 * The table belongs to the policy that loaded it (struct policy, immutable
 * once loaded, so any thread may call through it): no global state.  Each
 * pointer has the function's declared type, taken from ICU's headers with
 * __typeof__.  ICU's C functions carry the library's major version in their
 * names (ucal_open is ucal_open_72): the headers' own renaming
 * (unicode/urename.h: U_ICU_ENTRY_POINT_RENAME, U_ICU_VERSION_SUFFIX) turns
 * each name below into the versioned one before it is stringified for
 * dlsym, so the names always follow the headers airlock was built with.
 * The library stays mapped once loaded (RTLD_NODELETE): ICU keeps caches
 * for the life of the process.
 */
#ifndef AIRLOCK_POLICY_ICU_DL_H
#define AIRLOCK_POLICY_ICU_DL_H

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "airlock/base.h"

/* field, function: every ICU function the policy calls. */
#define ICU_DL_FUNCS(X)							\
	X(chars_to_uchars, u_charsToUChars)				\
	X(cal_open, ucal_open)						\
	X(cal_close, ucal_close)					\
	X(cal_set_millis, ucal_setMillis)				\
	X(cal_get, ucal_get)						\
	X(cal_canonical_tz, ucal_getCanonicalTimeZoneID)

struct icu_dl {
	void	*handle;
#define ICU_DL_FIELD(field, fn)	__typeof__(&fn) field;
	ICU_DL_FUNCS(ICU_DL_FIELD)
#undef ICU_DL_FIELD
};

/*
 * Load libicui18n from file (ICU_DL_SONAME: the SONAME of the library
 * found when airlock was built; u_charsToUChars comes from libicuuc, which
 * it depends on and which dlsym searches too) into a new table *out.
 * AL_ESYS naming the library and why when it cannot be loaded or lacks a
 * function; AL_ENOMEM.
 */
int	icu_dl_new(const char *file, struct icu_dl **out, struct al_err *err)
	    AL_WUR;
/* Free the table (the library stays mapped).  NULL is a no-op. */
void	icu_dl_free(struct icu_dl *t);

#endif

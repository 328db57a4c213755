/*
 * A secret name that is really a value.  People used to `docker run -e
 * VAR=value` or `env VAR=value` type the value where airlock wants a name;
 * sent to the broker it would be refused, but only after it had crossed
 * the socket.  Refusing it here keeps it out of the broker and out of every
 * message: nothing below ever prints the name it judged.
 */
#include <string.h>

#include "airlock/client.h"

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits anywhere in s. */
static int
has_uuid(const char *s, size_t n)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	size_t i, k, g, at;

	for (i = 0; i + 36 <= n; i++) {
		at = i;
		for (g = 0; g < 5; g++) {
			for (k = 0; k < (size_t)groups[g]; k++)
				if (!is_hex(s[at + k]))
					break;
			if (k != (size_t)groups[g])
				break;
			at += k;
			if (g < 4 && s[at++] != '-')
				break;
		}
		if (g == 5)
			return 1;
	}
	return 0;
}

/*
 * A run of letters and digits with no separator: a name's words are short
 * ("deploy", "token", "2024"); a token's body is one long run mixing both
 * (hex digests, base62 keys).
 */
static int
run_looks_random(const char *s, size_t n)
{
	size_t i, digits = 0, letters = 0;

	for (i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else
			letters++;
	}
	if (n >= 24)
		return 1;
	return n >= 16 && digits >= 2 && letters >= 2;
}

int
client_name_looks_like_value(const char *name)
{
	size_t n = strlen(name), i, start = 0;

	if (has_uuid(name, n))
		return 1;
	for (i = 0; i <= n; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (run_looks_random(name + start, i - start))
			return 1;
		start = i + 1;
	}
	return 0;
}

int
client_name_check(const char *name, struct al_err *err)
{
	if (name == NULL || !client_name_looks_like_value(name))
		return 0;
	return al_err_set(err, AL_EINVAL, "this looks like a value, not a "
	    "secret name (it was not sent to the broker): add it with "
	    "`airlock secret add NAME` and give NAME instead");
}

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

/* 8-4-4-4-12 hex digits at s[i..): 1 yes. */
static int
uuid_at(const char *s, size_t n, size_t i)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	size_t k, g, at = i;

	if (i + 36 > n)
		return 0;
	for (g = 0; g < 5; g++) {
		for (k = 0; k < (size_t)groups[g]; k++)
			if (!is_hex(s[at + k]))
				return 0;
		at += k;
		if (g < 4 && s[at++] != '-')
			return 0;
	}
	return 1;
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

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * The first token-shaped part of s[from..n): a UUID or a random-looking
 * run; its start and length into *at and *len.  1 if there is one.
 */
static int
token_find(const char *s, size_t n, size_t from, size_t *at, size_t *len)
{
	size_t i, start = from;

	for (i = from; i <= n; i++) {
		if (uuid_at(s, n, i)) {
			*at = i;
			*len = 36;
			return 1;
		}
		if (i < n && is_alnum(s[i]))
			continue;
		if (run_looks_random(s + start, i - start)) {
			*at = start;
			*len = i - start;
			return 1;
		}
		start = i + 1;
	}
	return 0;
}

int
client_name_looks_like_value(const char *name)
{
	size_t at, len;

	return token_find(name, strlen(name), 0, &at, &len);
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

/*
 * Free text (a task, an intent, a reason) is judged the same way: words
 * and short numbers pass ("fix-issue-4211", "deploy 2026-12-07", "rotate
 * the staging key"); a token, a key, a digest or a UUID does not.  A
 * value too short or too plain to look like one is the broker's to find:
 * it knows the values and refuses a text holding one of them whole.
 */
int
client_text_check(const char *field, const char *text, struct al_err *err)
{
	if (text == NULL || !client_name_looks_like_value(text))
		return 0;
	return al_err_set(err, AL_EINVAL, "'%s' looks like it holds a value "
	    "(a token, a key, a digest or a UUID), so it was not sent to the "
	    "broker: describe the work in words (a commit id of at most 12 "
	    "characters is fine) and never put a secret's value in '%s'",
	    field, field);
}

void
client_text_mask(char *text)
{
	static const char mask[] = CLIENT_TEXT_WITHHELD;
	size_t n = strlen(text), from = 0, at, len;

	/* A mask is shorter than any part it replaces: text only shrinks. */
	while (token_find(text, n, from, &at, &len)) {
		memcpy(text + at, mask, sizeof(mask) - 1);
		memmove(text + at + sizeof(mask) - 1, text + at + len,
		    n - at - len + 1);
		n -= len - (sizeof(mask) - 1);
		from = at + sizeof(mask) - 1;
	}
}

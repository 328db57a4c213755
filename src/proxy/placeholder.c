/*
 * Placeholders.  A placeholder must say nothing of the value it stands for:
 * it is drawn from the secret's declared format alone (its label
 * airlock.format), or without one is 32 random letters and digits, never
 * from the value's characters or length.  Tools that check a token's form
 * accept it when the format says that form ("ghp_{alnum:36}").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proxy_int.h"

#define FMT_DEFAULT	"{alnum:32}"
#define FMT_GROUP_MAX	256
#define FMT_BITS_MIN	64

struct fmt_class {
	const char	*name;
	const char	*chars;
	unsigned	 millibits;	/* 1000 * log2(strlen(chars)) */
};

static const struct fmt_class classes[] = {
	{ "alnum", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789", 5954 },
	{ "alpha", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
	    5700 },
	{ "lower", "abcdefghijklmnopqrstuvwxyz", 4700 },
	{ "upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4700 },
	{ "digit", "0123456789", 3321 },
	{ "hex", "0123456789abcdef", 4000 },
	{ "HEX", "0123456789ABCDEF", 4000 },
	{ "base64url", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_", 6000 },
	{ NULL, NULL, 0 }
};

static int
literal_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
}

/*
 * Walk fmt: check it and, when out is not NULL, write a placeholder drawn
 * from it (out has room for *len + 1, *len from a first walk).  0, or -1
 * with what is wrong in msg.
 */
static int
fmt_walk(const char *fmt, char *out, size_t *len, char *msg, size_t msgsz)
{
	const struct fmt_class *c;
	const char *p = fmt, *colon, *end;
	unsigned long bits = 0;
	size_t n = 0, k, cl;
	long count;
	char *e;

	while (*p != '\0') {
		if (*p != '{') {
			if (!literal_ok(*p)) {
				(void)snprintf(msg, msgsz, "character %zu is "
				    "neither a letter, a digit, - _ . nor a "
				    "{CLASS:N} group", (size_t)(p - fmt) + 1);
				return -1;
			}
			if (out != NULL)
				out[n] = *p;
			n++;
			p++;
			continue;
		}
		colon = strchr(p, ':');
		end = strchr(p, '}');
		if (colon == NULL || end == NULL || colon > end) {
			(void)snprintf(msg, msgsz, "the group at character %zu "
			    "is not {CLASS:N}", (size_t)(p - fmt) + 1);
			return -1;
		}
		cl = (size_t)(colon - p - 1);
		for (c = classes; c->name != NULL; c++)
			if (strlen(c->name) == cl &&
			    strncmp(c->name, p + 1, cl) == 0)
				break;
		count = strtol(colon + 1, &e, 10);
		if (c->name == NULL || e != end || colon + 1 == end ||
		    count < 1 || count > FMT_GROUP_MAX) {
			(void)snprintf(msg, msgsz, "the group at character %zu "
			    "is not {CLASS:N} with CLASS alnum, alpha, lower, "
			    "upper, digit, hex, HEX or base64url and N from 1 "
			    "to %d", (size_t)(p - fmt) + 1, FMT_GROUP_MAX);
			return -1;
		}
		for (k = 0; k < (size_t)count; k++, n++)
			if (out != NULL)
				out[n] = c->chars[randombytes_uniform(
				    (uint32_t)strlen(c->chars))];
		bits += (unsigned long)count * c->millibits;
		p = end + 1;
	}
	if (bits < FMT_BITS_MIN * 1000UL) {
		(void)snprintf(msg, msgsz, "it gives %lu random bits, fewer "
		    "than %d: add random characters", bits / 1000,
		    FMT_BITS_MIN);
		return -1;
	}
	if (n > PROXY_PLACEHOLDER_MAX) {
		(void)snprintf(msg, msgsz, "it is longer than %d characters",
		    PROXY_PLACEHOLDER_MAX);
		return -1;
	}
	if (out != NULL)
		out[n] = '\0';
	*len = n;
	return 0;
}

int
proxy_format_check(const char *name, const char *fmt, struct al_err *err)
{
	char msg[200];
	size_t n;

	if (fmt == NULL || fmt_walk(fmt, NULL, &n, msg, sizeof(msg)) == 0)
		return 0;
	return al_err_set(err, AL_EINVAL, "secret '%s': its placeholder "
	    "format (label airlock.format) is not usable: %s", name, msg);
}

int
placeholder_new(const char *name, const char *fmt, char **out,
    struct al_err *err)
{
	char msg[200], *ph = NULL;
	size_t n, again;
	int rc;

	*out = NULL;
	if (fmt == NULL)
		fmt = FMT_DEFAULT;
	if ((rc = proxy_format_check(name, fmt, err)) != 0)
		return rc;
	(void)fmt_walk(fmt, NULL, &n, msg, sizeof(msg));
	if ((ph = malloc(n + 1)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (fmt_walk(fmt, ph, &again, msg, sizeof(msg)) != 0 || again != n) {
		free(ph);
		return al_err_set(err, AL_EINVAL, "secret '%s': %s", name,
		    msg);
	}
	*out = ph;
	return 0;
}

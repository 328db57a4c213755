/*
 * Growable byte buffer with a hard maximum.  Sensitive buffers live in
 * libsodium guarded memory and are wiped whenever storage is dropped.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/base.h"

void
al_buf_init(struct al_buf *b, size_t max, int flags)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->flags = flags;
}

static void
buf_drop(struct al_buf *b)
{
	if (b->data == NULL)
		return;
	if (b->flags & AL_BUF_SENSITIVE)
		sodium_free(b->data);	/* wipes */
	else
		free(b->data);
	b->data = NULL;
}

void
al_buf_release(struct al_buf *b)
{
	buf_drop(b);
	b->len = b->cap = 0;
}

void
al_buf_reset(struct al_buf *b)
{
	if (b->data != NULL) {
		if (b->flags & AL_BUF_SENSITIVE)
			sodium_memzero(b->data, b->cap);
		b->data[0] = '\0';
	}
	b->len = 0;
}

int
al_buf_reserve(struct al_buf *b, size_t n)
{
	size_t need, ncap;
	unsigned char *p;

	if (n > b->max || b->len > b->max - n)
		return AL_ETOOBIG;
	need = b->len + n + 1;		/* room for the NUL */
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if (b->flags & AL_BUF_SENSITIVE) {
		/* Never realloc: the old copy must be wiped, not abandoned. */
		if ((p = sodium_malloc(ncap)) == NULL)
			return AL_ENOMEM;
		if (b->len)
			memcpy(p, b->data, b->len);
		buf_drop(b);
	} else if ((p = realloc(b->data, ncap)) == NULL)
		return AL_ENOMEM;
	b->data = p;
	b->cap = ncap;
	b->data[b->len] = '\0';
	return 0;
}

int
al_buf_append(struct al_buf *b, const void *p, size_t n)
{
	int rc;

	if ((rc = al_buf_reserve(b, n)) != 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
al_buf_puts(struct al_buf *b, const char *s)
{
	return al_buf_append(b, s, strlen(s));
}

int
al_buf_putc(struct al_buf *b, int c)
{
	unsigned char ch = (unsigned char)c;

	return al_buf_append(b, &ch, 1);
}

int
al_buf_vprintf(struct al_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return AL_EINVAL;
	if ((rc = al_buf_reserve(b, (size_t)n)) != 0)
		return rc;
	/* reserve guaranteed n + 1 bytes, so this cannot truncate. */
	(void)vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
al_buf_printf(struct al_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = al_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
al_buf_read_fd(struct al_buf *b, int fd, size_t max, const char *path,
    struct al_err *err)
{
	char chunk[8192];
	size_t start = b->len;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return al_err_set(err, AL_EIO, "cannot read %s: %s",
			    path, strerror(errno));
		if (n == 0)
			return 0;
		if (b->len - start + (size_t)n > max ||
		    al_buf_append(b, chunk, (size_t)n) != 0)
			return al_err_set(err, AL_ETOOBIG, "%s is larger than "
			    "%zu bytes", path, max);
	}
}

const char *
al_buf_str(const struct al_buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
al_buf_append_escaped(struct al_buf *b, const void *vp, size_t n)
{
	const unsigned char *p = vp;
	size_t i = 0, l;
	int rc = 0;

	while (i < n && rc == 0) {
		unsigned char c = p[i];

		if (c == '\n')
			rc = al_buf_puts(b, "\\n");
		else if (c == '\t')
			rc = al_buf_puts(b, "\\t");
		else if (c == '\r')
			rc = al_buf_puts(b, "\\r");
		else if (c == '\\')
			rc = al_buf_puts(b, "\\\\");
		else if (c < 0x20 || c == 0x7f)
			rc = al_buf_printf(b, "\\x%02x", c);
		else if ((l = utf8_len(p + i, n - i)) == 0)
			rc = al_buf_printf(b, "\\x%02x", c);
		else {
			rc = al_buf_append(b, p + i, l);
			i += l;
			continue;
		}
		i++;
	}
	return rc;
}

int
al_buf_put_uri_path(struct al_buf *b, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL) {
			if (al_buf_putc(b, *p) != 0)
				return AL_ENOMEM;
		} else if (al_buf_putc(b, '%') != 0 ||
		    al_buf_putc(b, hex[*p >> 4]) != 0 ||
		    al_buf_putc(b, hex[*p & 15]) != 0)
			return AL_ENOMEM;
	}
	return 0;
}

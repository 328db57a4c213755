/*
 * The patterns of one value: the value and its lines, hex, base64 at every
 * alignment, and the escapings tools print a string with.  Every encoded
 * form is built in guarded scratch memory and copied into the guarded
 * arena; duplicates are dropped when the automaton is built.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "redact_int.h"

static const char B64_STD[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char HEX_LO[] = "0123456789abcdef";
static const char HEX_UP[] = "0123456789ABCDEF";

enum esc_mode {
	URL_UP, URL_LO, URL_FORM, URL_JS, URL_PY, URL_ALL, URL_ALL_LO,
	JSON_MIN, JSON_SLASH, JSON_HTML, JSON_UPPER, JSON_ASCII, JSON_ASCII_UP,
	C_HEX, C_OCT, C_PY, PY_STR,
	XML_TEXT, XML_APOS, XML_X27, XML_NUM,
	SH_SQ, SH_SQDQ, SH_BS, SH_DQ, SH_ANSIC, SH_ANSIC_C,
	ESC_NMODES
};

/*
 * What the whole value decides for some modes: Python's repr quotes with
 * '"' when the value has a "'" and no '"' (and then escapes neither), and
 * bash quotes $'...' only a value with a byte it cannot print.
 */
struct esc_ctx {
	int	py_dq;		/* repr() picks double quotes */
	int	sh_ansic;	/* printf %q and ${v@Q} use $'...' */
};

static void
sc_reset(struct gvec *sc)
{
	if (sc->p != NULL)
		sodium_memzero(sc->p, sc->len);
	sc->len = 0;
}

static int
sc_put(struct gvec *sc, const void *p, size_t n)
{
	return gvec_append(sc, p, n);
}

static int
sc_putc(struct gvec *sc, unsigned char c)
{
	return gvec_append(sc, &c, 1);
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Length of the valid UTF-8 sequence at v[0..n) and its code point, or 0. */
static size_t
utf8_decode(const unsigned char *v, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long c;

	if (v[0] < 0x80)
		return 0;
	if (v[0] >= 0xc2 && v[0] <= 0xdf) {
		len = 2;
		c = v[0] & 0x1f;
	} else if (v[0] >= 0xe0 && v[0] <= 0xef) {
		len = 3;
		c = v[0] & 0x0f;
	} else if (v[0] >= 0xf0 && v[0] <= 0xf4) {
		len = 4;
		c = v[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((v[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (v[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return len;
}

/*
 * Python's repr() of a str (os.environ, say): backslash, the quote and
 * \t \n \r escaped, other control characters and DEL as \xhh, printable
 * non-ASCII characters as they are (UTF-8), the unprintable ones among
 * them (C1 controls, no-break and other format spaces) as \xhh or \uhhhh,
 * and a byte that is not UTF-8 as the surrogate \udchh it decodes to.
 */
static int
esc_py_str(struct gvec *sc, const struct esc_ctx *x, const unsigned char *v,
    size_t n, size_t *i, char tmp[static 32])
{
	unsigned char c = v[*i - 1];
	unsigned long cp;
	size_t len;

	switch (c) {
	case '\\':
		return sc_put(sc, "\\\\", 2);
	case '\'':
		return x->py_dq ? sc_putc(sc, c) : sc_put(sc, "\\'", 2);
	case '\n':
		return sc_put(sc, "\\n", 2);
	case '\t':
		return sc_put(sc, "\\t", 2);
	case '\r':
		return sc_put(sc, "\\r", 2);
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f) {
		(void)snprintf(tmp, 32, "\\x%02x", c);
		return sc_put(sc, tmp, 4);
	}
	if (c < 0x80)
		return sc_putc(sc, c);
	if ((len = utf8_decode(v + *i - 1, n - *i + 1, &cp)) == 0) {
		(void)snprintf(tmp, 32, "\\udc%02x", c);
		return sc_put(sc, tmp, 6);
	}
	if (cp <= 0xa0 || cp == 0xad) {
		*i += len - 1;
		(void)snprintf(tmp, 32, "\\x%02lx", cp);
		return sc_put(sc, tmp, 4);
	}
	if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 &&
	    cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) ||
	    cp == 0x3000 || cp == 0xfeff) {
		*i += len - 1;
		(void)snprintf(tmp, 32, "\\u%04lx", cp);
		return sc_put(sc, tmp, 6);
	}
	*i += len - 1;
	return sc_put(sc, v + *i - len, len);
}

/*
 * bash's $'...' quoting (printf %q, ${v@Q}, declare -p of a value it
 * cannot print): ESC as \E, the C escapes by letter, backslash and "'"
 * escaped, other unprintable bytes as three octal digits.  In a UTF-8
 * locale valid multibyte characters pass as they are; in the C locale
 * (c_locale) every byte from 0x80 up is octal.
 */
static int
esc_ansic(struct gvec *sc, int c_locale, const unsigned char *v, size_t n,
    size_t *i, char tmp[static 32])
{
	static const char letters[] = "\033E\aa\bb\ff\nn\rr\tt\vv\\\\''";
	unsigned char c = v[*i - 1];
	unsigned long cp;
	size_t len, k;

	for (k = 0; letters[k] != '\0'; k += 2)
		if ((unsigned char)letters[k] == c) {
			tmp[0] = '\\';
			tmp[1] = letters[k + 1];
			return sc_put(sc, tmp, 2);
		}
	if (c >= 0x20 && c < 0x7f)
		return sc_putc(sc, c);
	if (!c_locale && c >= 0x80 &&
	    (len = utf8_decode(v + *i - 1, n - *i + 1, &cp)) > 0 &&
	    cp >= 0xa0) {
		*i += len - 1;
		return sc_put(sc, v + *i - len, len);
	}
	(void)snprintf(tmp, 32, "\\%03o", c);
	return sc_put(sc, tmp, 4);
}

/*
 * Append the escaped form of the bytes at v[*i] in mode, advancing *i past
 * what was consumed (one byte, or a UTF-8 sequence for JSON_ASCII).
 */
static int
esc_one(struct gvec *sc, enum esc_mode m, const struct esc_ctx *x,
    const unsigned char *v, size_t n, size_t *i, char tmp[static 32])
{
	unsigned char c = v[*i];
	const char *rep = NULL;
	unsigned long cp;
	size_t len;

	(*i)++;
	switch (m) {
	case URL_UP:
	case URL_LO:
	case URL_FORM:
	case URL_JS:
	case URL_PY:
	case URL_ALL:
	case URL_ALL_LO:
		if (m != URL_ALL && m != URL_ALL_LO && (is_unreserved(c) ||
		    (m == URL_JS && strchr("!*'()", c) != NULL && c) ||
		    (m == URL_PY && c == '/')))
			return sc_putc(sc, c);
		if (m == URL_FORM && c == ' ')
			return sc_putc(sc, '+');
		tmp[0] = '%';
		rep = m == URL_LO || m == URL_ALL_LO ? HEX_LO : HEX_UP;
		tmp[1] = rep[c >> 4];
		tmp[2] = rep[c & 15];
		return sc_put(sc, tmp, 3);
	case JSON_MIN:
	case JSON_SLASH:
	case JSON_HTML:
	case JSON_UPPER:
	case JSON_ASCII:
	case JSON_ASCII_UP:
		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '/': rep = m == JSON_SLASH ? "\\/" : NULL; break;
		case '<': rep = m == JSON_HTML ? "\\u003c" : NULL; break;
		case '>': rep = m == JSON_HTML ? "\\u003e" : NULL; break;
		case '&': rep = m == JSON_HTML ? "\\u0026" : NULL; break;
		default: break;
		}
		if (rep != NULL)
			return sc_put(sc, rep, strlen(rep));
		/*
		 * ASCII-only encoders (Python's json.dumps, ensure_ascii)
		 * escape DEL as well.
		 */
		if (c < 0x20 || (c == 0x7f &&
		    (m == JSON_ASCII || m == JSON_ASCII_UP))) {
			(void)snprintf(tmp, 32,
			    m == JSON_UPPER || m == JSON_ASCII_UP ? "\\u%04X" :
			    "\\u%04x", c);
			return sc_put(sc, tmp, 6);
		}
		if ((m == JSON_ASCII || m == JSON_ASCII_UP) &&
		    (len = utf8_decode(v + *i - 1, n - *i + 1, &cp)) > 0) {
			const char *fmt = m == JSON_ASCII ? "\\u%04x" : "\\u%04X";

			*i += len - 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				(void)snprintf(tmp, 32,
				    m == JSON_ASCII ? "\\u%04x\\u%04x" :
				    "\\u%04X\\u%04X",
				    (unsigned int)(0xd800 + ((cp >> 10) & 0x3ff)),
				    (unsigned int)(0xdc00 + (cp & 0x3ff)));
				return sc_put(sc, tmp, 12);
			}
			(void)snprintf(tmp, 32, fmt,
			    (unsigned int)(cp & 0xffff));
			return sc_put(sc, tmp, 6);
		}
		return sc_putc(sc, c);
	case C_HEX:
	case C_OCT:
	case C_PY:
		switch (c) {
		case '\\': rep = "\\\\"; break;
		case '"': rep = m == C_PY ? NULL : "\\\""; break;
		case '\'': rep = m == C_PY && !x->py_dq ? "\\'" : NULL; break;
		case '\n': rep = "\\n"; break;
		case '\t': rep = "\\t"; break;
		case '\r': rep = "\\r"; break;
		case '\a': rep = m == C_PY ? NULL : "\\a"; break;
		case '\b': rep = m == C_PY ? NULL : "\\b"; break;
		case '\f': rep = m == C_PY ? NULL : "\\f"; break;
		case '\v': rep = m == C_PY ? NULL : "\\v"; break;
		default: break;
		}
		if (rep != NULL)
			return sc_put(sc, rep, strlen(rep));
		if (c < 0x20 || c >= 0x7f) {
			if (m == C_OCT) {
				(void)snprintf(tmp, 32, "\\%03o", c);
				return sc_put(sc, tmp, 4);
			}
			(void)snprintf(tmp, 32, "\\x%02x", c);
			return sc_put(sc, tmp, 4);
		}
		return sc_putc(sc, c);
	case PY_STR:
		return esc_py_str(sc, x, v, n, i, tmp);
	case SH_ANSIC:
	case SH_ANSIC_C:
		return esc_ansic(sc, m == SH_ANSIC_C, v, n, i, tmp);
	case XML_TEXT:
	case XML_APOS:
	case XML_X27:
	case XML_NUM:
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"':
			rep = m == XML_TEXT ? NULL :
			    m == XML_NUM ? "&#34;" : "&quot;";
			break;
		case '\'':
			rep = m == XML_TEXT ? NULL : m == XML_APOS ? "&apos;" :
			    m == XML_X27 ? "&#x27;" : "&#39;";
			break;
		default: break;
		}
		if (rep != NULL)
			return sc_put(sc, rep, strlen(rep));
		return sc_putc(sc, c);
	case SH_SQ:
		if (c == '\'')
			return sc_put(sc, "'\\''", 4);
		return sc_putc(sc, c);
	case SH_SQDQ:
		if (c == '\'')
			return sc_put(sc, "'\"'\"'", 5);
		return sc_putc(sc, c);
	case SH_BS:
		/* As bash's printf %q (sh_backslash_quote) quotes a word. */
		if ((c != '\0' && strchr(" \t\n'\"\\|&;()<>!{}*[?]^$`,",
		    c) != NULL) ||
		    (c == '~' && (*i == 1 || v[*i - 2] == '=' ||
		    v[*i - 2] == ':')) || (c == '#' && *i == 1)) {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			return sc_put(sc, tmp, 2);
		}
		return sc_putc(sc, c);
	case SH_DQ:
		if (c == '\\' || c == '"' || c == '$' || c == '`') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			return sc_put(sc, tmp, 2);
		}
		return sc_putc(sc, c);
	case ESC_NMODES:
		break;
	}
	return AL_EINVAL;
}

static int
gen_escapes(struct redact *r, struct gvec *sc, uint32_t value,
    const unsigned char *v, size_t n)
{
	char tmp[32];	/* one escaped byte of the value: wiped below */
	struct esc_ctx x = { 0, 0 };
	size_t i;
	int m, rc = 0;

	x.py_dq = memchr(v, '\'', n) != NULL && memchr(v, '"', n) == NULL;
	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			x.sh_ansic = 1;
	for (m = 0; m < ESC_NMODES && rc == 0; m++) {
		if ((m == SH_ANSIC || m == SH_ANSIC_C) && !x.sh_ansic)
			continue;
		sc_reset(sc);
		for (i = 0; i < n && rc == 0;)
			rc = esc_one(sc, (enum esc_mode)m, &x, v, n, &i, tmp);
		if (rc != 0 || (sc->len == n &&
		    sodium_memcmp(sc->p, v, n) == 0))
			continue;	/* failed, or the same as the value */
		rc = rx_pat_add(r, sc->p, sc->len, value, 0, 0);
	}
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

static int
gen_hex(struct redact *r, struct gvec *sc, uint32_t value,
    const unsigned char *v, size_t n)
{
	const char *digits[2] = { HEX_LO, HEX_UP };
	size_t i, d;
	int rc;

	for (d = 0; d < 2; d++) {
		sc_reset(sc);
		for (i = 0; i < n; i++) {
			if ((rc = sc_putc(sc, digits[d][v[i] >> 4])) != 0 ||
			    (rc = sc_putc(sc, digits[d][v[i] & 15])) != 0)
				return rc;
		}
		if ((rc = rx_pat_add_wrap(r, sc->p, sc->len, value, 0, 0)) != 0)
			return rc;
	}
	return 0;
}

/* Unpadded base64 of k zero bytes followed by v, into sc. */
static int
b64_shifted(struct gvec *sc, const char *alpha, size_t k,
    const unsigned char *v, size_t n)
{
	size_t total = k + n, i, bits = 0;
	unsigned int acc = 0;
	int rc;

	sc_reset(sc);
	for (i = 0; i < total; i++) {
		acc = (acc << 8 | (i < k ? 0 : v[i - k])) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			if ((rc = sc_putc(sc, alpha[(acc >> bits) & 63])) != 0)
				return rc;
		}
	}
	if (bits > 0 && (rc = sc_putc(sc, alpha[(acc << (6 - bits)) & 63])) != 0)
		return rc;
	return 0;
}

/*
 * Base64 of v at byte alignment k inside longer base64 text.  Characters
 * [j0, j1) of the encoding of (k unknown bytes, v, more bytes) depend on v
 * alone: the core.  The character before it carries the top 8k mod 6 bits
 * of v[0] in its low bits (the lead, checked when a match is found); the
 * one after carries the low r bits of v[n-1] in its high bits, so the core
 * followed by each character with those high bits is a pattern, and so is
 * the core with its zero-filled last character and "=" padding.
 */
static int
gen_b64(struct redact *r, struct gvec *sc, struct gvec *pat, uint32_t value,
    const unsigned char *v, size_t n, const char *alpha, size_t k)
{
	size_t total = k + n, j0 = (8 * k + 5) / 6, j1 = 8 * total / 6;
	size_t rbits = 8 * total - 6 * j1, pad = (3 - total % 3) % 3;
	uint8_t lead_mask = 0, lead_val = 0;
	unsigned int fixed;
	size_t f;
	int rc;

	if (k == 1) {
		lead_mask = 0x0f;
		lead_val = v[0] >> 4;
	} else if (k == 2) {
		lead_mask = 0x03;
		lead_val = v[0] >> 6;
	}
	if ((rc = b64_shifted(sc, alpha, k, v, n)) != 0)
		return rc;
	if (j1 <= j0 || j1 - j0 < REDACT_VALUE_MIN)
		return 0;
	sc_reset(pat);
	if ((rc = sc_put(pat, sc->p + j0, j1 - j0)) != 0 ||
	    (rc = rx_pat_add_wrap(r, pat->p, pat->len, value, lead_mask,
	    lead_val)) != 0)
		return rc;
	if (rbits != 0) {
		fixed = v[n - 1] & ((1u << rbits) - 1);
		for (f = 0; f < (1u << (6 - rbits)); f++) {
			pat->len = j1 - j0;
			if ((rc = sc_putc(pat, alpha[fixed << (6 - rbits) |
			    f])) != 0 || (rc = rx_pat_add_wrap(r, pat->p,
			    pat->len, value, lead_mask, lead_val)) != 0)
				return rc;
		}
		pat->len = j1 - j0 + 1;
		pat->p[j1 - j0] = (unsigned char)alpha[fixed << (6 - rbits)];
		if ((rc = sc_put(pat, "==", pad)) != 0 ||
		    (rc = rx_pat_add_wrap(r, pat->p, pat->len, value, lead_mask,
		    lead_val)) != 0)
			return rc;
	}
	return 0;
}

static int
is_armor(const unsigned char *p, size_t n)
{
	return n >= 10 && memcmp(p + n - 5, "-----", 5) == 0 &&
	    ((n >= 11 && memcmp(p, "-----BEGIN ", 11) == 0) ||
	    memcmp(p, "-----END ", 9) == 0);
}

/* The value with other line endings, and each of its lines. */
static int
gen_lines(struct redact *r, struct gvec *sc, uint32_t value,
    const unsigned char *v, size_t n)
{
	size_t i, start, end;
	int rc, crlf;

	if (memchr(v, '\n', n) == NULL)
		return 0;
	for (crlf = 0; crlf < 2; crlf++) {
		sc_reset(sc);
		for (i = 0; i < n; i++) {
			if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n')
				continue;
			if (v[i] == '\n' && crlf && (rc = sc_putc(sc, '\r')) != 0)
				return rc;
			if ((rc = sc_putc(sc, v[i])) != 0)
				return rc;
		}
		if ((rc = rx_pat_add(r, sc->p, sc->len, value, 0, 0)) != 0)
			return rc;
	}
	for (start = 0; start <= n; start = end + 1) {
		for (end = start; end < n && v[end] != '\n'; end++)
			;
		i = end;
		if (i > start && v[i - 1] == '\r')
			i--;
		if (i - start >= REDACT_LINE_MIN && !is_armor(v + start,
		    i - start) && (rc = rx_pat_add(r, v + start, i - start,
		    value, 0, 0)) != 0)
			return rc;
	}
	return 0;
}

int
rx_gen_patterns(struct redact *r, uint32_t value, const unsigned char *v,
    size_t n)
{
	struct gvec sc = { NULL, 0, 0 }, pat = { NULL, 0, 0 };
	const char *alpha[2] = { B64_STD, B64_URL };
	size_t a, k;
	int rc;

	if ((rc = rx_pat_add(r, v, n, value, 0, 0)) != 0 ||
	    (rc = gen_lines(r, &sc, value, v, n)) != 0 ||
	    (rc = gen_hex(r, &sc, value, v, n)) != 0)
		goto out;
	for (a = 0; a < 2; a++)
		for (k = 0; k < 3; k++)
			if ((rc = gen_b64(r, &sc, &pat, value, v, n, alpha[a],
			    k)) != 0)
				goto out;
	rc = gen_escapes(r, &sc, value, v, n);
out:
	gvec_release(&sc);
	gvec_release(&pat);
	return rc;
}

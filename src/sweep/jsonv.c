/*
 * A streaming JSON validator for one line of a JSON Lines file.  It checks
 * structure exactly (brackets, strings, escapes, commas, colons) and
 * scalars loosely (a number or literal is a run of [0-9A-Za-z.+-] starting
 * with a digit, '-', 't', 'f' or 'n'): what it must catch is a mask that
 * broke a string or an escape, and it compares a line before and after
 * masking, so the leniency is the same on both sides.  jansson is not used
 * for this because it copies what it parses into its own heap, and the
 * line before masking holds secret values.
 */
#include <string.h>

#include "sweep_int.h"

enum {
	JV_VALUE,	/* a value is expected (top level, after ':' or ',') */
	JV_VALUE_OR_CLOSE, /* after '[' */
	JV_KEY,		/* after ',' in an object */
	JV_KEY_OR_CLOSE, /* after '{' */
	JV_COLON,
	JV_STRING,
	JV_ESCAPE,
	JV_SCALAR,
	JV_AFTER,	/* after a value */
	JV_END,		/* after the top-level value */
};

void
jv_reset(struct jv *v)
{
	memset(v, 0, sizeof(*v));
	v->st = JV_VALUE;
}

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_scalar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-';
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static void
push(struct jv *v, int obj)
{
	if (v->depth >= JV_DEPTH_MAX) {
		v->bad = 1;
		return;
	}
	if (obj)
		v->obj[v->depth / 8] |= (unsigned char)(1u << (v->depth % 8));
	else
		v->obj[v->depth / 8] &= (unsigned char)~(1u << (v->depth % 8));
	v->depth++;
}

static int
top_is_obj(const struct jv *v)
{
	unsigned d = v->depth - 1;

	return (v->obj[d / 8] >> (d % 8)) & 1;
}

/* The value just ended: where next. */
static void
value_done(struct jv *v)
{
	v->st = v->depth == 0 ? JV_END : JV_AFTER;
}

static void
close_level(struct jv *v, int obj)
{
	if (v->depth == 0 || top_is_obj(v) != obj) {
		v->bad = 1;
		return;
	}
	v->depth--;
	value_done(v);
}

static void
start_value(struct jv *v, unsigned char c)
{
	if (c == '{') {
		push(v, 1);
		v->st = JV_KEY_OR_CLOSE;
	} else if (c == '[') {
		push(v, 0);
		v->st = JV_VALUE_OR_CLOSE;
	} else if (c == '"') {
		v->key = 0;
		v->st = JV_STRING;
	} else if ((c >= '0' && c <= '9') || c == '-' || c == 't' ||
	    c == 'f' || c == 'n')
		v->st = JV_SCALAR;
	else
		v->bad = 1;
}

static void
step(struct jv *v, unsigned char c)
{
	switch (v->st) {
	case JV_VALUE_OR_CLOSE:
		if (c == ']') {
			close_level(v, 0);
			return;
		}
		/* FALLTHROUGH */
	case JV_VALUE:
		if (!is_ws(c))
			start_value(v, c);
		return;
	case JV_KEY_OR_CLOSE:
		if (c == '}') {
			close_level(v, 1);
			return;
		}
		/* FALLTHROUGH */
	case JV_KEY:
		if (is_ws(c))
			return;
		if (c != '"') {
			v->bad = 1;
			return;
		}
		v->key = 1;
		v->st = JV_STRING;
		return;
	case JV_COLON:
		if (c == ':')
			v->st = JV_VALUE;
		else if (!is_ws(c))
			v->bad = 1;
		return;
	case JV_STRING:
		if (v->hex > 0) {
			if (!is_hex(c))
				v->bad = 1;
			v->hex--;
		} else if (c == '\\')
			v->st = JV_ESCAPE;
		else if (c == '"') {
			if (v->key)
				v->st = JV_COLON;
			else
				value_done(v);
		} else if (c < 0x20)
			v->bad = 1;
		return;
	case JV_ESCAPE:
		if (c == 'u')
			v->hex = 4;
		else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
			v->bad = 1;
		v->st = JV_STRING;
		return;
	case JV_SCALAR:
		if (is_scalar(c))
			return;
		value_done(v);
		step(v, c);
		return;
	case JV_AFTER:
		if (is_ws(c))
			return;
		if (c == ',')
			v->st = top_is_obj(v) ? JV_KEY : JV_VALUE;
		else if (c == ']' || c == '}')
			close_level(v, c == '}');
		else
			v->bad = 1;
		return;
	case JV_END:
		if (!is_ws(c))
			v->bad = 1;
		return;
	}
}

void
jv_feed(struct jv *v, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && !v->bad; i++)
		step(v, p[i]);
}

int
jv_valid(struct jv *v)
{
	if (v->bad)
		return 0;
	if (v->st == JV_SCALAR && v->depth == 0)
		return 1;
	return v->st == JV_END;
}

int
sweep_json_valid(const void *p, size_t n)
{
	struct jv v;

	jv_reset(&v);
	jv_feed(&v, p, n);
	return jv_valid(&v);
}

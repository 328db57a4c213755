/*
 * The exec engine: any issuer, by command.  `--issue CMD` gets a JSON
 * request on stdin and prints {"value": ..., "id": ..., "expires": ...};
 * `--revoke CMD` gets the id (as $1 and in a JSON request on stdin) and
 * exits 0 once the credential is gone.  Both run through engine_cmd_run
 * (cmd.c): /bin/sh -c, nothing of them left running at their end, at the
 * timeout, or when the broker dies.
 *
 * What the issuer prints goes straight into guarded memory and is parsed
 * there; the value is decoded into guarded memory of its own.  Neither
 * command's stderr is kept or logged: it may hold what the command was
 * given or made, and airlock cannot tell which bytes are secret.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cred_int.h"

#define EXEC_OUT_MAX	(64 * 1024)
/* Shorter values are not looked for in an id: they occur by chance. */
#define ID_VALUE_MIN	4

/*
 * Run `sh -c cmd sh arg` with in on stdin; stdout into *out (guarded; NULL
 * to discard), exit status in *status.  AL_ETIMEDOUT when it runs past
 * timeout seconds (engine_cmd_run: nothing of it is left running).
 */
static int
run_cmd(const char *what, const char *cmd, const char *arg, const char *in,
    int timeout, struct al_secret **out, int *status, struct al_err *err)
{
	struct engine_cmd c = { what, cmd, arg, in, strlen(in), timeout,
	    EXEC_OUT_MAX, 0 };
	struct al_secret *o = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	rc = engine_cmd_run(&c, &o, NULL, status, err);
	if (rc == 0 && out != NULL)
		*out = o;
	else
		al_secret_free(o);
	return rc;
}

/* ---- the issuer's answer, parsed in guarded memory ---------------------- */

struct scan {
	const unsigned char	*p, *e;
};

static void
ws(struct scan *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hex4(const unsigned char *p, unsigned *v)
{
	int i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		h = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' :
		    p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 :
		    p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10 : -1;
		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

/*
 * A JSON string at s->p, decoded into d (room for at least its encoded
 * length; NULL: skip), length in *dn.  -1 on malformed input.
 */
static int
str(struct scan *s, unsigned char *d, size_t *dn)
{
	size_t k = 0;
	unsigned c, lo;

	if (s->p >= s->e || *s->p != '"')
		return -1;
	s->p++;
	while (s->p < s->e && *s->p != '"') {
		c = *s->p++;
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (s->p >= s->e)
				return -1;
			c = *s->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				if (s->e - s->p < 4 || hex4(s->p, &c) != 0)
					return -1;
				s->p += 4;
				if (c >= 0xd800 && c < 0xdc00) {
					if (s->e - s->p < 6 || s->p[0] != '\\' ||
					    s->p[1] != 'u' ||
					    hex4(s->p + 2, &lo) != 0 ||
					    lo < 0xdc00 || lo >= 0xe000)
						return -1;
					s->p += 6;
					c = 0x10000 + ((c - 0xd800) << 10) +
					    (lo - 0xdc00);
				} else if (c >= 0xdc00 && c < 0xe000)
					return -1;
				/* UTF-8: at most 4 bytes for 6 read. */
				if (d != NULL)
					k += al_utf8_put(c, d + k);
				continue;
			default:
				return -1;
			}
		}
		if (d != NULL)
			d[k++] = (unsigned char)c;
	}
	if (s->p >= s->e)
		return -1;
	s->p++;
	*dn = k;
	return 0;
}

/* Skip any JSON value (nesting counted, strings respected). */
static int
skip(struct scan *s)
{
	size_t depth = 0, dn;

	do {
		ws(s);
		if (s->p >= s->e)
			return -1;
		if (*s->p == '"') {
			if (str(s, NULL, &dn) != 0)
				return -1;
		} else if (*s->p == '{' || *s->p == '[') {
			depth++;
			s->p++;
		} else if (*s->p == '}' || *s->p == ']') {
			if (depth == 0)
				return -1;
			depth--;
			s->p++;
		} else {
			while (s->p < s->e && strchr(",:}] \t\r\n",
			    *s->p) == NULL)
				s->p++;
		}
		ws(s);
		if (depth > 0 && s->p < s->e && (*s->p == ',' || *s->p == ':'))
			s->p++;
	} while (depth > 0);
	return 0;
}

int
engine_json_take(struct al_secret *out, const char *vkey,
    struct al_secret **value, const char *ikey, char ext[ENGINE_EXT_MAX + 1])
{
	struct scan s;
	struct al_secret *v = NULL;
	unsigned char key[16], *d;
	size_t kn, dn, i;
	int rc = AL_EINVAL, got_value = 0;

	*value = NULL;
	if (ext != NULL)
		ext[0] = '\0';
	s.p = al_secret_open(out);
	s.e = s.p + al_secret_len(out);
	if (al_secret_new(al_secret_len(out) + 1, &v) != 0) {
		rc = AL_ENOMEM;
		goto out;
	}
	d = al_secret_open(v);
	ws(&s);
	if (s.p >= s.e || *s.p++ != '{')
		goto out;
	for (;;) {
		ws(&s);
		if (s.p < s.e && *s.p == '}' && !got_value)
			goto out;
		if (s.p < s.e && *s.p == '}')
			break;
		if (s.e - s.p < 2 || s.p[0] != '"')
			goto out;
		/* Keys of interest are short; longer ones are skipped. */
		{
			struct scan k2 = s;

			if (str(&k2, NULL, &kn) != 0)
				goto out;
			if (kn < sizeof(key)) {
				if (str(&s, key, &kn) != 0)
					goto out;
				key[kn] = '\0';
			} else {
				s = k2;
				key[0] = '\0';
			}
		}
		ws(&s);
		if (s.p >= s.e || *s.p++ != ':')
			goto out;
		ws(&s);
		if (strcmp((char *)key, vkey) == 0) {
			if (str(&s, d, &dn) != 0 || dn == 0)
				goto out;
			al_secret_set_len(v, dn);
			got_value = 1;
		} else if (ikey != NULL && strcmp((char *)key, ikey) == 0) {
			struct scan k2 = s;

			if (str(&k2, NULL, &dn) != 0 || dn > ENGINE_EXT_MAX ||
			    str(&s, (unsigned char *)ext, &dn) != 0)
				goto out;
			ext[dn] = '\0';
			for (i = 0; i < dn; i++)
				if ((unsigned char)ext[i] < 0x20 ||
				    ext[i] == 0x7f)
					goto out;
		} else if (skip(&s) != 0)
			goto out;
		ws(&s);
		if (s.p < s.e && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.e && *s.p == '}')
			break;
		goto out;
	}
	if (!got_value)
		goto out;
	al_secret_close(v);
	*value = v;
	v = NULL;
	rc = 0;
out:
	al_secret_close(out);
	al_secret_free(v);
	if (rc != 0 && ext != NULL)
		ext[0] = '\0';
	return rc;
}

/* {"value": "...", "id": "...", ...}: value and ext. */
static int
parse_answer(struct al_secret *out, struct al_secret **value,
    char ext[ENGINE_EXT_MAX + 1], struct al_err *err)
{
	int rc = engine_json_take(out, "value", value, "id", ext);

	if (rc == AL_ENOMEM)
		return al_err_set(err, rc, "out of memory");
	if (rc != 0)
		return al_err_set(err, rc, "the issue command's output is not "
		    "{\"value\": \"...\", \"id\": \"...\"} (a non-empty "
		    "string value, an id of at most %d printable bytes)",
		    ENGINE_EXT_MAX);
	return 0;
}

/*
 * Whether the issuer's id holds the value: an id is stored on disk and
 * given to the revoke command in its argv, which any local user can read.
 */
static int
id_holds_value(const char *ext, struct al_secret *value)
{
	size_t n = al_secret_len(value);
	int rc;

	if (ext[0] == '\0' || n < ID_VALUE_MIN)
		return 0;
	rc = memmem(ext, strlen(ext), al_secret_open(value), n) != NULL;
	al_secret_close(value);
	return rc;
}

/* ---- ops ------------------------------------------------------------------ */

static int
exec_check(const struct pq_dl *dl, const struct engine_config *c,
    const struct al_secret *root, struct al_err *err)
{
	(void)dl;
	(void)root;
	return engine_config_check(c, err);
}

/* Append s as a JSON string (s is a name, id or number: printable). */
static int
json_str(struct al_buf *b, const char *s)
{
	int rc = al_buf_putc(b, '"');

	for (; rc == 0 && *s; s++)
		rc = (*s == '"' || *s == '\\') ? al_buf_printf(b, "\\%c", *s) :
		    (unsigned char)*s < 0x20 ? al_buf_printf(b, "\\u%04x",
		    (unsigned char)*s) : al_buf_putc(b, *s);
	return rc == 0 ? al_buf_putc(b, '"') : rc;
}

static int
exec_mint(struct engine_source *s, struct engine_slot *h, const char *role,
    const struct engine_for *why,
    int64_t valid_until, struct al_secret **value, char ext[ENGINE_EXT_MAX + 1],
    struct al_secret **keep, struct al_err *err)
{
	struct al_secret *out = NULL;
	struct al_buf req;
	int rc, status = 0;

	(void)h;
	*keep = NULL;
	*value = NULL;
	ext[0] = '\0';
	al_buf_init(&req, 4096, 0);
	if (al_buf_puts(&req, "{\"secret\":") != 0 ||
	    json_str(&req, s->name) != 0 ||
	    al_buf_puts(&req, ",\"name\":") != 0 || json_str(&req, role) ||
	    (why && why->task && why->task[0] &&
	    (al_buf_puts(&req, ",\"task\":") != 0 ||
	    json_str(&req, why->task) != 0)) ||
	    (why && why->repo && why->repo[0] &&
	    (al_buf_puts(&req, ",\"repo\":") != 0 ||
	    json_str(&req, why->repo) != 0)) ||
	    al_buf_printf(&req, ",\"expires\":%lld,\"ttl\":%lld}\n",
	    (long long)valid_until, (long long)(valid_until -
	    (int64_t)time(NULL))) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = run_cmd("the issue command", s->cfg.issue, role,
	    al_buf_str(&req), s->cfg.timeout, &out, &status, err)) != 0)
		goto out;
	if (status != 0) {
		rc = al_err_set(err, AL_EUNAVAIL, "the issue command exited "
		    "with status %d (its stderr is not kept)", status);
		goto out;
	}
	if ((rc = parse_answer(out, value, ext, err)) == 0 &&
	    id_holds_value(ext, *value)) {
		al_secret_free(*value);
		*value = NULL;
		ext[0] = '\0';	/* revoked by its name, then */
		rc = al_err_set(err, AL_EPROTO, "the issue command's id holds "
		    "the credential's value (an id is stored on disk and given "
		    "to the revoke command as $1): nothing was handed out, and "
		    "the credential is revoked by its name; make the issuer "
		    "print an id of its own");
	}
out:
	al_secret_free(out);
	al_buf_release(&req);
	return rc;
}

static int
exec_destroy(struct engine_source *s, struct engine_slot *h, const char *role,
    const char *ext, struct al_secret *keep, int first, struct al_err *err)
{
	struct al_buf req;
	const char *id = ext[0] ? ext : role;
	int rc, status = 0;

	(void)h;
	(void)keep;
	(void)first;
	al_buf_init(&req, 4096, 0);
	if (al_buf_puts(&req, "{\"secret\":") != 0 ||
	    json_str(&req, s->name) != 0 ||
	    al_buf_puts(&req, ",\"name\":") != 0 || json_str(&req, role) ||
	    al_buf_puts(&req, ",\"id\":") != 0 || json_str(&req, id) ||
	    al_buf_puts(&req, "}\n") != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = run_cmd("the revoke command", s->cfg.revoke, id,
	    al_buf_str(&req), s->cfg.timeout, NULL, &status, err)) != 0)
		goto out;
	if (status != 0)
		rc = al_err_set(err, AL_EUNAVAIL, "the revoke command exited "
		    "with status %d (its stderr is not kept)", status);
out:
	al_buf_release(&req);
	return rc;
}

static void
exec_close(const struct pq_dl *dl, void *h)
{
	(void)dl;
	(void)h;
}

const struct engine_ops engine_exec_ops = {
	.name = "exec",
	.check_pq = 0,
	.check = exec_check,
	.mint = exec_mint,
	.destroy = exec_destroy,
	.roles = NULL,
	.close = exec_close,
};

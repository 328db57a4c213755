/*
 * The [mcp_servers.airlock] table of Codex's config.toml, edited in place.
 *
 * Debian packages no TOML library for C (only C++ and Rust ones), and a
 * parse-and-reserialise would lose the user's comments and layout anyway.
 * So this edits text, carefully and minimally: it finds the table header
 * [mcp_servers.airlock] (and its sub-tables [mcp_servers.airlock.*]) at the
 * start of a line outside multi-line strings, replaces exactly those lines
 * with the new table, or appends the table at the end.  Any other way of
 * defining the same server (an inline table, dotted keys) is refused with
 * the line number rather than guessed at.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"

/* Append s as a TOML basic string. */
static int
toml_quote(struct al_buf *b, const char *s)
{
	int rc;

	if ((rc = al_buf_putc(b, '"')) != 0)
		return rc;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc = al_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc = al_buf_printf(b, "\\u%04x", c);
		else
			rc = al_buf_putc(b, c);
		if (rc != 0)
			return rc;
	}
	return al_buf_putc(b, '"');
}

/* Skip spaces and tabs. */
static const char *
ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * If line is a table header ("[a.b]" or "[[a.b]]"), write its dotted name
 * without spaces or quotes around "airlock" into name and return 1.
 */
static int
header_name(const char *line, size_t len, char *name, size_t namesz)
{
	const char *p = ws(line), *end = line + len;
	size_t n = 0;

	if (p >= end || *p != '[')
		return 0;
	p++;
	if (p < end && *p == '[')
		p++;
	for (; p < end && *p != ']'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '"' || *p == '\'')
			continue;
		if (n + 1 < namesz)
			name[n++] = *p;
	}
	name[n] = '\0';
	return p < end;
}

static int
is_ours(const char *name)
{
	return strcmp(name, "mcp_servers.airlock") == 0 ||
	    strncmp(name, "mcp_servers.airlock.", 20) == 0;
}

/* Count toggles of multi-line string delimiters on a line. */
static void
track_multiline(const char *line, size_t len, int *in_basic, int *in_lit)
{
	size_t i;

	for (i = 0; i + 3 <= len; i++) {
		if (!*in_lit && memcmp(line + i, "\"\"\"", 3) == 0) {
			*in_basic = !*in_basic;
			i += 2;
		} else if (!*in_basic && memcmp(line + i, "'''", 3) == 0) {
			*in_lit = !*in_lit;
			i += 2;
		}
	}
}

/*
 * Whether a key line defines our server outside its own table: inside
 * [mcp_servers] as `airlock = {...}` or `airlock.command = ...`, or at the
 * top level as `mcp_servers.airlock... = ...`.
 */
static int
defined_elsewhere(const char *cur, const char *p)
{
	const char *eq, *a;

	if (strcmp(cur, "mcp_servers") == 0) {
		if (strncmp(p, "\"airlock\"", 9) == 0)
			p += 9;
		else if (strncmp(p, "airlock", 7) == 0)
			p += 7;
		else
			return 0;
		p = ws(p);
		return *p == '=' || *p == '.';
	}
	if (cur[0] == '\0' && strncmp(p, "mcp_servers", 11) == 0) {
		eq = strchr(p, '=');
		a = strstr(p, "airlock");
		return eq != NULL && a != NULL && a < eq;
	}
	return 0;
}

struct span {
	size_t	start, end;	/* byte offsets of our table(s) in text */
	int	found;
};

/*
 * Find our table.  Returns 0, or AL_EINVAL with the line number when the
 * server is defined in another form or twice.
 */
static int
find_table(const char *path, const char *text, struct span *sp,
    struct al_err *err)
{
	const char *line = text, *nl;
	char name[256], cur[256] = "";
	size_t len, lineno = 0;
	int in_basic = 0, in_lit = 0, in_ours = 0, was_ml;

	memset(sp, 0, sizeof(*sp));
	for (; *line != '\0'; line = nl + 1) {
		lineno++;
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		was_ml = in_basic || in_lit;
		track_multiline(line, len, &in_basic, &in_lit);
		if (!was_ml && header_name(line, len, name, sizeof(name))) {
			(void)snprintf(cur, sizeof(cur), "%s", name);
			if (is_ours(name)) {
				if (sp->found && !in_ours)
					return al_err_set(err, AL_EINVAL,
					    "%s:%zu: a second [mcp_servers."
					    "airlock] table; merge them by hand "
					    "and run again", path, lineno);
				if (!sp->found)
					sp->start = (size_t)(line - text);
				sp->found = 1;
				in_ours = 1;
			} else if (in_ours) {
				sp->end = (size_t)(line - text);
				in_ours = 0;
			}
		} else if (!was_ml) {
			/* Other ways to define the same server. */
			if (defined_elsewhere(cur, ws(line)))
				return al_err_set(err, AL_EINVAL, "%s:%zu: "
				    "mcp_servers.airlock is defined with "
				    "dotted keys or an inline table; replace "
				    "it with a [mcp_servers.airlock] table (or "
				    "remove it) and run again", path, lineno);
		}
		if (nl == NULL) {
			line += len;
			break;
		}
	}
	if (in_basic || in_lit)
		return al_err_set(err, AL_EINVAL, "%s: a multi-line string "
		    "is not closed; fix the file and run again", path);
	if (in_ours)
		sp->end = (size_t)(line - text);
	return 0;
}

/*
 * Before a table appended at the end of text (n bytes, already in b): the
 * last line ended, then one blank line; nothing for an empty file.
 */
static int
blank_line(struct al_buf *b, const char *text, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if (text[n - 1] != '\n' && (rc = al_buf_putc(b, '\n')) != 0)
		return rc;
	return al_buf_putc(b, '\n');
}

/*
 * The end of an edit: the new text into *out (malloc'ed) when rc is 0, an
 * error naming path for a failure that has none yet, the buffers released.
 */
static int
finish(struct al_buf *b, struct al_buf *table, int rc, char **out,
    const char *path, struct al_err *err)
{
	if (rc == 0 && (*out = strdup(al_buf_str(b))) == NULL)
		rc = AL_ENOMEM;
	if (rc != 0 && rc != AL_EINVAL && err != NULL && err->code == 0)
		al_err_set(err, rc, "cannot edit %s", path);
	al_buf_release(b);
	al_buf_release(table);
	return rc;
}

int
agent_toml_set_server(const char *path, const char *old, const char *command,
    const char *airlock_home, char **out, struct al_err *err)
{
	struct al_buf b, table;
	struct span sp;
	const char *text = old != NULL ? old : "";
	size_t n = strlen(text);
	int rc;

	*out = NULL;
	al_buf_init(&b, 16u * 1024 * 1024, 0);
	al_buf_init(&table, 64 * 1024, 0);
	if ((rc = find_table(path, text, &sp, err)) != 0)
		goto out;
	if ((rc = al_buf_puts(&table, "[mcp_servers.airlock]\n"
	    "command = ")) != 0 ||
	    (rc = toml_quote(&table, command)) != 0 ||
	    (rc = al_buf_puts(&table, "\nargs = [\"mcp\"]\n")) != 0)
		goto out;
	if (airlock_home != NULL &&
	    ((rc = al_buf_puts(&table, "\n[mcp_servers.airlock.env]\n"
	    "AIRLOCK_HOME = ")) != 0 ||
	    (rc = toml_quote(&table, airlock_home)) != 0 ||
	    (rc = al_buf_putc(&table, '\n')) != 0))
		goto out;
	if (sp.found) {
		/* Keep a blank line between our table and the next one. */
		if (sp.end < n && (rc = al_buf_putc(&table, '\n')) != 0)
			goto out;
		if ((rc = al_buf_append(&b, text, sp.start)) != 0 ||
		    (rc = al_buf_append(&b, table.data, table.len)) != 0 ||
		    (rc = al_buf_append(&b, text + sp.end, n - sp.end)) != 0)
			goto out;
	} else {
		if ((rc = al_buf_append(&b, text, n)) != 0)
			goto out;
		if ((rc = blank_line(&b, text, n)) != 0)
			goto out;
		if ((rc = al_buf_append(&b, table.data, table.len)) != 0)
			goto out;
	}
out:
	return finish(&b, &table, rc, out, path, err);
}

int
agent_toml_get_server(const char *text, char *out, size_t outsz)
{
	struct span sp;
	const char *p, *end, *q;
	size_t n;

	out[0] = '\0';
	if (text == NULL)
		return 0;
	if (find_table("config.toml", text, &sp, NULL) != 0)
		return -1;
	if (!sp.found)
		return 0;
	end = text + sp.end;
	for (p = text + sp.start; p < end; p = q + 1) {
		if ((q = memchr(p, '\n', (size_t)(end - p))) == NULL)
			q = end;
		p = ws(p);
		if (strncmp(p, "command", 7) == 0 && *ws(p + 7) == '=') {
			p = ws(ws(p + 7) + 1);
			if (*p == '"' || *p == '\'') {
				char quote = *p++;

				for (n = 0; p < q && *p != quote &&
				    n + 1 < outsz; p++)
					out[n++] = *p;
				out[n] = '\0';
			}
			break;
		}
		if (q == end)
			break;
	}
	return 1;
}

/* ---- the guard's model provider ---------------------------------------- */

#define GUARD_PROVIDER	"airlock-guard"

/* Where the guard's lines are: the selecting key and the provider table. */
struct guard_spans {
	size_t	key_start, key_end;	/* model_provider = "airlock-guard" */
	int	key_found;
	size_t	tab_start, tab_end;	/* [model_providers.airlock-guard] */
	int	tab_found;
};

/*
 * A top-level "model_provider = VALUE" line: VALUE (unquoted) into val and
 * 1; 0 for any other line.
 */
static int
provider_key(const char *line, size_t len, char *val, size_t valsz)
{
	const char *p = ws(line), *end = line + len;
	size_t n = 0;
	char q;

	if (strncmp(p, "model_provider", 14) != 0)
		return 0;
	p = ws(p + 14);
	if (p >= end || *p != '=')
		return 0;
	p = ws(p + 1);
	val[0] = '\0';
	if (p < end && (*p == '"' || *p == '\'')) {
		q = *p++;
		while (p < end && *p != q && n + 1 < valsz)
			val[n++] = *p++;
	} else {
		while (p < end && !isspace((unsigned char)*p) && *p != '#' &&
		    n + 1 < valsz)
			val[n++] = *p++;
	}
	val[n] = '\0';
	return 1;
}

static int
find_guard(const char *path, const char *text, struct guard_spans *sp,
    struct al_err *err)
{
	const char *line = text, *nl;
	char name[256], cur[256] = "", val[256];
	size_t len, lineno = 0, next;
	int in_basic = 0, in_lit = 0, in_ours = 0, was_ml;

	memset(sp, 0, sizeof(*sp));
	for (; *line != '\0'; line = text + next) {
		lineno++;
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		next = (size_t)(line - text) + len + (nl != NULL);
		was_ml = in_basic || in_lit;
		track_multiline(line, len, &in_basic, &in_lit);
		if (was_ml)
			continue;
		if (header_name(line, len, name, sizeof(name))) {
			(void)snprintf(cur, sizeof(cur), "%s", name);
			if (strcmp(name, "model_providers." GUARD_PROVIDER) ==
			    0 || strncmp(name, "model_providers." GUARD_PROVIDER
			    ".", sizeof("model_providers." GUARD_PROVIDER)) ==
			    0) {
				if (sp->tab_found && !in_ours)
					return al_err_set(err, AL_EINVAL,
					    "%s:%zu: a second [model_providers."
					    GUARD_PROVIDER "] table; remove "
					    "them by hand and run again", path,
					    lineno);
				if (!sp->tab_found)
					sp->tab_start = (size_t)(line - text);
				sp->tab_found = in_ours = 1;
			} else if (in_ours) {
				sp->tab_end = (size_t)(line - text);
				in_ours = 0;
			}
		} else if (cur[0] == '\0' &&
		    provider_key(line, len, val, sizeof(val))) {
			if (strcmp(val, GUARD_PROVIDER) != 0)
				return al_err_set(err, AL_EINVAL, "%s:%zu: "
				    "model_provider already selects '%s'; "
				    "remove that line first to put airlock "
				    "guard there", path, lineno, val);
			sp->key_start = (size_t)(line - text);
			sp->key_end = next;
			sp->key_found = 1;
		}
	}
	if (in_basic || in_lit)
		return al_err_set(err, AL_EINVAL, "%s: a multi-line string "
		    "is not closed; fix the file and run again", path);
	if (in_ours)
		sp->tab_end = strlen(text);
	return 0;
}

int
agent_toml_set_guard(const char *path, const char *old, const char *url,
    char **out, struct al_err *err)
{
	struct al_buf b, table;
	struct guard_spans sp;
	const char *text = old != NULL ? old : "";
	size_t n = strlen(text), ts, te;
	int rc;

	*out = NULL;
	al_buf_init(&b, 16u * 1024 * 1024, 0);
	al_buf_init(&table, 64 * 1024, 0);
	if ((rc = find_guard(path, text, &sp, err)) != 0)
		goto out;
	if (url != NULL && ((rc = al_buf_puts(&table, "[model_providers."
	    GUARD_PROVIDER "]\nname = \"airlock guard\"\nbase_url = ")) != 0 ||
	    (rc = toml_quote(&table, url)) != 0 ||
	    (rc = al_buf_puts(&table, "\nenv_key = \"OPENAI_API_KEY\"\n"
	    "wire_api = \"responses\"\n")) != 0))
		goto out;
	/* The key goes first: a top-level key must precede every table. */
	if (url != NULL && !sp.key_found &&
	    (rc = al_buf_puts(&b, "model_provider = \"" GUARD_PROVIDER
	    "\"\n")) != 0)
		goto out;
	ts = sp.tab_found ? sp.tab_start : n;
	te = sp.tab_found ? sp.tab_end : n;
	/*
	 * Removing: the blank line setup put before the table goes with it,
	 * so that the file is again the one it was.
	 */
	if (url == NULL && sp.tab_found && te == n && ts >= 2 &&
	    text[ts - 1] == '\n' && text[ts - 2] == '\n')
		ts--;
	if (url == NULL && sp.key_found) {
		if ((rc = al_buf_append(&b, text, sp.key_start)) != 0 ||
		    (rc = al_buf_append(&b, text + sp.key_end,
		    ts - sp.key_end)) != 0)
			goto out;
	} else if ((rc = al_buf_append(&b, text, ts)) != 0)
		goto out;
	if (url != NULL) {
		if (sp.tab_found) {
			if (te < n && (rc = al_buf_putc(&table, '\n')) != 0)
				goto out;
		} else {
			if ((rc = blank_line(&b, text, n)) != 0)
				goto out;
		}
		if ((rc = al_buf_append(&b, table.data, table.len)) != 0)
			goto out;
	}
	if ((rc = al_buf_append(&b, text + te, n - te)) != 0)
		goto out;
out:
	return finish(&b, &table, rc, out, path, err);
}

/*
 * Report writers: text for people, JSON for scripts, SARIF 2.1.0 for code
 * scanning dashboards.  None of them ever sees a secret: a finding holds a
 * preview and, with a baseline key, a keyed hash.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "scan_int.h"

#define C_RESET "\033[0m"
#define C_PATH "\033[35m"
#define C_NUM "\033[32m"
#define C_ERR "\033[1;31m"
#define C_WARN "\033[1;33m"
#define C_DIM "\033[2m"

static const char *
sev_name(int s)
{
	return s == SCAN_SEV_ERROR ? "error" : "warning";
}

int
scan_report_write_text(const struct scan_report *r, FILE *out, int color)
{
	struct al_buf path;
	const struct scan_finding *f;
	size_t i;
	int rc = 0;

	al_buf_init(&path, 64 * 1024, 0);
	for (i = 0; i < r->nfindings && rc == 0; i++) {
		f = &r->findings[i];
		al_buf_reset(&path);
		if ((rc = al_buf_append_escaped(&path, f->path,
		    strlen(f->path))) != 0)
			break;
		fprintf(out, "%s%s%s:%s%u%s:%s%u%s: %s%s%s %s", color ? C_PATH :
		    "", al_buf_str(&path), color ? C_RESET : "",
		    color ? C_NUM : "", f->line, color ? C_RESET : "",
		    color ? C_NUM : "", f->col, color ? C_RESET : "",
		    color ? (f->rule->severity == SCAN_SEV_ERROR ? C_ERR :
		    C_WARN) : "", f->rule->id, color ? C_RESET : "",
		    f->preview);
		if (f->commit != NULL) {
			al_buf_reset(&path);
			if ((rc = al_buf_append_escaped(&path, f->commit->author,
			    strlen(f->commit->author))) != 0)
				break;
			fprintf(out, " %s(commit %.12s, %s, %s",
			    color ? C_DIM : "", f->commit->id, al_buf_str(&path),
			    f->commit->date);
			if (f->occ != NULL && f->count > 1)
				fprintf(out, "; seen %zu times, last in "
				    "commit %.12s", f->count, f->last->id);
			fprintf(out, ")%s", color ? C_RESET : "");
		}
		fputc('\n', out);
	}
	al_buf_release(&path);
	if (rc == 0 && ferror(out))
		rc = AL_EIO;
	return rc;
}

static int
put(json_t *o, const char *k, json_t *v)
{
	/* json_object_set_new steals v even on failure. */
	return v == NULL || json_object_set_new(o, k, v) != 0 ? AL_ENOMEM : 0;
}

/* A JSON string of s; bytes that are not UTF-8 become \xNN escapes. */
static json_t *
jstr(const char *s)
{
	struct al_buf b;
	json_t *v;

	if ((v = json_string(s)) != NULL)
		return v;
	al_buf_init(&b, 256 * 1024, 0);
	if (al_buf_append_escaped(&b, s, strlen(s)) == 0)
		v = json_string(al_buf_str(&b));
	al_buf_release(&b);
	return v;
}

static int
dump_chunk(const char *p, size_t n, void *arg)
{
	return al_buf_append(arg, p, n) == 0 ? 0 : -1;
}

/*
 * The document is dumped into memory and written at once: jansson hands
 * over a few bytes at a time, and a stdio call for each cost more than
 * building the document.
 */
static int
dump(json_t *root, FILE *out)
{
	struct al_buf b;
	int rc = 0;

	al_buf_init(&b, SIZE_MAX / 2, 0);
	if (json_dump_callback(root, dump_chunk, &b, JSON_INDENT(2) |
	    JSON_ENSURE_ASCII | JSON_REAL_PRECISION(4)) != 0 ||
	    al_buf_putc(&b, '\n') != 0)
		rc = AL_ENOMEM;
	else if (fwrite(b.data, 1, b.len, out) != b.len || ferror(out))
		rc = AL_EIO;
	al_buf_release(&b);
	return rc;
}

/* ---- the JSON writer ------------------------------------------------ */

/*
 * A string value as jansson prints it (JSON_ENSURE_ASCII): printable ASCII
 * is written here, with " and \ escaped; anything else (control bytes,
 * UTF-8, bytes that are not UTF-8) goes through jansson itself, via jstr
 * when lenient (bytes that are not UTF-8 become \xNN), else json_string,
 * which refuses them.
 */
static int
jw_str(struct al_buf *b, const char *s, int lenient)
{
	const unsigned char *p;
	json_t *v;
	char *d;
	int rc;

	for (p = (const unsigned char *)s; *p >= 0x20 && *p < 0x7f; p++)
		;
	if (*p == '\0') {
		const char *q = s, *e;

		if (al_buf_putc(b, '"') != 0)
			return AL_ENOMEM;
		while ((e = strpbrk(q, "\"\\")) != NULL) {
			if (al_buf_append(b, q, (size_t)(e - q)) != 0 ||
			    al_buf_putc(b, '\\') != 0 || al_buf_putc(b, *e) != 0)
				return AL_ENOMEM;
			q = e + 1;
		}
		return al_buf_puts(b, q) != 0 || al_buf_putc(b, '"') != 0 ?
		    AL_ENOMEM : 0;
	}
	if ((v = lenient ? jstr(s) : json_string(s)) == NULL)
		return AL_ENOMEM;
	d = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	json_decref(v);
	if (d == NULL)
		return AL_ENOMEM;
	rc = al_buf_puts(b, d) == 0 ? 0 : AL_ENOMEM;
	free(d);
	return rc;
}

/* The separator and key of a member at depth (in spaces). */
static int
jw_key(struct al_buf *b, int *first, size_t depth, const char *k)
{
	static const char sp[] = "                ";
	int rc;

	rc = al_buf_puts(b, *first ? "\n" : ",\n") != 0 ||
	    al_buf_append(b, sp, depth < sizeof(sp) ? depth : sizeof(sp) - 1)
	    != 0 || al_buf_putc(b, '"') != 0 || al_buf_puts(b, k) != 0 ||
	    al_buf_puts(b, "\": ") != 0;
	*first = 0;
	return rc ? AL_ENOMEM : 0;
}

static int
jw_kstr(struct al_buf *b, int *first, size_t depth, const char *k,
    const char *v, int lenient)
{
	int rc;

	if ((rc = jw_key(b, first, depth, k)) != 0)
		return rc;
	return jw_str(b, v, lenient);
}

static int
jw_kint(struct al_buf *b, int *first, size_t depth, const char *k,
    long long v)
{
	char d[24], *q = d + sizeof(d);
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v :
	    (unsigned long long)v;
	int rc;

	if ((rc = jw_key(b, first, depth, k)) != 0)
		return rc;
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	return al_buf_append(b, q, (size_t)(d + sizeof(d) - q)) == 0 ? 0 :
	    AL_ENOMEM;
}

/* A real as jansson prints it with JSON_REAL_PRECISION(4). */
static int
jw_kreal(struct al_buf *b, int *first, size_t depth, const char *k,
    double v)
{
	char d[32];
	json_t *j;
	char *s;
	int rc;

	if ((rc = jw_key(b, first, depth, k)) != 0)
		return rc;
	(void)snprintf(d, sizeof(d), "%.4g", v);
	if (strspn(d, "0123456789.-") == strlen(d)) {
		if (strchr(d, '.') == NULL)
			(void)strcat(d, ".0");
		return al_buf_puts(b, d) == 0 ? 0 : AL_ENOMEM;
	}
	if ((j = json_real(v)) == NULL)		/* exponents, inf, nan */
		return AL_ENOMEM;
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(4));
	json_decref(j);
	if (s == NULL)
		return AL_ENOMEM;
	rc = al_buf_puts(b, s) == 0 ? 0 : AL_ENOMEM;
	free(s);
	return rc;
}

/* The closing of an object or array opened at depth - 2. */
static int
jw_close(struct al_buf *b, size_t depth, char c)
{
	static const char sp[] = "                ";

	return al_buf_putc(b, '\n') != 0 || al_buf_append(b, sp,
	    depth - 2 < sizeof(sp) ? depth - 2 : sizeof(sp) - 1) != 0 ||
	    al_buf_putc(b, c) != 0 ? AL_ENOMEM : 0;
}

/* A finding as an object whose members sit at depth 6. */
static int
jw_finding(struct al_buf *b, const struct scan_finding *f)
{
	char fp[SCAN_FINGERPRINT_MAX];
	size_t i;
	int first = 1, ofirst, rc = 0;

	rc |= al_buf_putc(b, '{') != 0;
	rc |= jw_kstr(b, &first, 6, "rule", f->rule->id, 0);
	rc |= jw_kstr(b, &first, 6, "description", f->rule->description, 0);
	rc |= jw_kstr(b, &first, 6, "severity", sev_name(f->rule->severity),
	    0);
	rc |= jw_kstr(b, &first, 6, "category", f->rule->category ==
	    SCAN_CAT_SECRET ? "secret" : "unsafe", 0);
	rc |= jw_kstr(b, &first, 6, "path", f->path, 1);
	rc |= jw_kint(b, &first, 6, "line", f->line);
	rc |= jw_kint(b, &first, 6, "column", f->col);
	rc |= jw_kint(b, &first, 6, "end_line", f->end_line);
	rc |= jw_kstr(b, &first, 6, "preview", f->preview, 0);
	rc |= jw_kreal(b, &first, 6, "entropy",
	    (double)(int)(f->entropy * 100) / 100);
	if (f->hash[0] != '\0' && scan_fingerprint(f, fp, sizeof(fp)) == 0)
		rc |= jw_kstr(b, &first, 6, "fingerprint", fp, 0);
	if (f->commit != NULL) {
		rc |= jw_kstr(b, &first, 6, "commit", f->commit->id, 0);
		rc |= jw_kstr(b, &first, 6, "author", f->commit->author, 1);
		rc |= jw_kstr(b, &first, 6, "date", f->commit->date, 0);
	}
	if (f->occ != NULL) {
		rc |= jw_kint(b, &first, 6, "count", (long long)f->count);
		rc |= jw_kstr(b, &first, 6, "last_commit", f->last->id, 0);
		rc |= jw_kstr(b, &first, 6, "last_date", f->last->date, 0);
		rc |= jw_key(b, &first, 6, "occurrences");
		rc |= al_buf_putc(b, '[') != 0;
		for (i = 0; i < f->count && rc == 0; i++) {
			ofirst = 1;
			rc |= al_buf_puts(b, i ? ",\n        {" :
			    "\n        {") != 0;
			rc |= jw_kstr(b, &ofirst, 10, "commit",
			    f->occ[i].commit->id, 0);
			rc |= jw_kstr(b, &ofirst, 10, "date",
			    f->occ[i].commit->date, 0);
			rc |= jw_kint(b, &ofirst, 10, "line", f->occ[i].line);
			rc |= jw_kint(b, &ofirst, 10, "column",
			    f->occ[i].col);
			rc |= jw_close(b, 10, '}');
		}
		rc |= f->count ? jw_close(b, 8, ']') : al_buf_putc(b, ']');
	}
	rc |= jw_close(b, 6, '}');
	return rc ? AL_ENOMEM : 0;
}

/*
 * The document is written straight into a buffer, byte for byte what
 * jansson prints for the same tree (JSON_INDENT(2), JSON_ENSURE_ASCII,
 * JSON_REAL_PRECISION(4)), and flushed every 64 KiB: building a jansson
 * object per finding cost more than the rest of the report.
 */
int
scan_report_write_json(const struct scan_report *r, FILE *out)
{
	struct al_buf b;
	size_t i;
	int first = 1, rc = 0;

	al_buf_init(&b, SIZE_MAX / 2, 0);
	if (al_buf_puts(&b, "{\n  \"version\": 1,\n  \"findings\": [") != 0)
		rc = AL_ENOMEM;
	for (i = 0; rc == 0 && i < r->nfindings; i++) {
		if (al_buf_puts(&b, i ? ",\n    " : "\n    ") != 0)
			rc = AL_ENOMEM;
		else
			rc = jw_finding(&b, &r->findings[i]);
		if (rc == 0 && b.len >= 64 * 1024) {
			if (fwrite(b.data, 1, b.len, out) != b.len)
				rc = AL_EIO;
			al_buf_reset(&b);
		}
	}
	if (rc == 0) {
		rc |= al_buf_puts(&b, r->nfindings ? "\n  ],\n  \"summary\": {" :
		    "],\n  \"summary\": {") != 0;
		rc |= jw_kint(&b, &first, 4, "files", (long long)r->files);
		rc |= jw_kint(&b, &first, 4, "bytes", (long long)r->bytes);
		rc |= jw_kint(&b, &first, 4, "skipped", (long long)r->skipped);
		rc |= jw_kint(&b, &first, 4, "errors", (long long)r->errors);
		rc |= jw_kint(&b, &first, 4, "commits", (long long)r->commits);
		rc |= jw_kint(&b, &first, 4, "findings",
		    (long long)r->nfindings);
		rc |= jw_close(&b, 4, '}');
		rc |= al_buf_puts(&b, "\n}\n") != 0;
		if (rc != 0)
			rc = AL_ENOMEM;
	}
	if (rc == 0 && (fwrite(b.data, 1, b.len, out) != b.len || ferror(out)))
		rc = AL_EIO;
	al_buf_release(&b);
	return rc;
}

/* A path as a relative URI reference: unreserved bytes and '/' kept. */
static json_t *
uri_of(const char *path)
{
	struct al_buf b;
	json_t *s = NULL;

	al_buf_init(&b, 64 * 1024, 0);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (al_buf_put_uri_path(&b, path) == 0)
		s = json_string(al_buf_str(&b));
	al_buf_release(&b);
	return s;
}

static json_t *
sarif_rule(const struct scan_rule_info *ri, int *bad)
{
	json_t *o = json_object(), *d, *props, *tags;

	if (o == NULL || (d = json_object()) == NULL)
		goto fail;
	*bad |= put(o, "id", json_string(ri->id));
	*bad |= put(d, "text", json_string(ri->description));
	*bad |= put(o, "shortDescription", d);
	if ((d = json_object()) == NULL)
		goto fail;
	*bad |= put(d, "level", json_string(sev_name(ri->severity)));
	*bad |= put(o, "defaultConfiguration", d);
	if ((props = json_object()) == NULL || (tags = json_array()) == NULL)
		goto fail;
	*bad |= json_array_append_new(tags, json_string("security")) != 0;
	*bad |= json_array_append_new(tags, json_string(ri->category ==
	    SCAN_CAT_SECRET ? "secret" : "unsafe-secret-handling")) != 0;
	*bad |= put(props, "tags", tags);
	*bad |= put(o, "properties", props);
	return o;
fail:
	*bad = 1;
	json_decref(o);
	return NULL;
}

static json_t *
sarif_result(const struct scan_finding *f, size_t index, int *bad)
{
	char fp[SCAN_FINGERPRINT_MAX], msg[512];
	json_t *o = json_object(), *m, *locs, *loc, *phys, *art, *reg, *pf,
	    *props;

	if (o == NULL)
		goto fail;
	(void)snprintf(msg, sizeof(msg), "%s: %s", f->rule->description,
	    f->preview);		/* may truncate */
	*bad |= put(o, "ruleId", json_string(f->rule->id));
	*bad |= put(o, "ruleIndex", json_integer((json_int_t)index));
	*bad |= put(o, "level", json_string(sev_name(f->rule->severity)));
	if ((m = json_object()) == NULL)
		goto fail;
	*bad |= put(m, "text", json_string(msg));
	*bad |= put(o, "message", m);
	if ((locs = json_array()) == NULL || (loc = json_object()) == NULL ||
	    (phys = json_object()) == NULL || (art = json_object()) == NULL ||
	    (reg = json_object()) == NULL)
		goto fail;
	*bad |= put(art, "uri", uri_of(f->path));
	*bad |= put(phys, "artifactLocation", art);
	*bad |= put(reg, "startLine", json_integer(f->line ? f->line : 1));
	*bad |= put(reg, "startColumn", json_integer(f->col ? f->col : 1));
	*bad |= put(reg, "endLine", json_integer(f->end_line >= f->line ?
	    f->end_line : f->line));
	*bad |= put(phys, "region", reg);
	*bad |= put(loc, "physicalLocation", phys);
	*bad |= json_array_append_new(locs, loc) != 0;
	*bad |= put(o, "locations", locs);
	if (f->hash[0] != '\0' && scan_fingerprint(f, fp, sizeof(fp)) == 0) {
		if ((pf = json_object()) == NULL)
			goto fail;
		*bad |= put(pf, "airlock/v1", json_string(fp));
		*bad |= put(o, "partialFingerprints", pf);
	}
	if (f->commit != NULL) {
		if ((props = json_object()) == NULL)
			goto fail;
		*bad |= put(props, "commit", json_string(f->commit->id));
		*bad |= put(props, "author", jstr(f->commit->author));
		*bad |= put(props, "date", json_string(f->commit->date));
		if (f->occ != NULL) {
			*bad |= put(props, "count",
			    json_integer((json_int_t)f->count));
			*bad |= put(props, "lastCommit",
			    json_string(f->last->id));
		}
		*bad |= put(o, "properties", props);
	}
	return o;
fail:
	*bad = 1;
	json_decref(o);
	return NULL;
}

int
scan_report_write_sarif(const struct scan_report *r,
    const struct scan_engine *e, FILE *out)
{
	json_t *root = json_object(), *runs = json_array(), *run = json_object(),
	    *tool = json_object(), *driver = json_object(),
	    *rules = json_array(), *results = json_array();
	size_t i, k, n = scan_engine_rule_count(e);
	int bad = !root || !runs || !run || !tool || !driver || !rules ||
	    !results, rc;

	for (i = 0; !bad && i < n; i++)
		bad |= json_array_append_new(rules,
		    sarif_rule(scan_engine_rule(e, i), &bad)) != 0;
	for (i = 0; !bad && i < r->nfindings; i++) {
		for (k = 0; k < n; k++)
			if (scan_engine_rule(e, k) == r->findings[i].rule)
				break;
		bad |= json_array_append_new(results,
		    sarif_result(&r->findings[i], k, &bad)) != 0;
	}
	if (!bad) {
		bad |= put(driver, "name", json_string("airlock"));
		bad |= put(driver, "version", json_string(AIRLOCK_VERSION));
		bad |= put(driver, "semanticVersion",
		    json_string(AIRLOCK_VERSION));
		bad |= put(driver, "rules", rules);
		rules = NULL;
		bad |= put(tool, "driver", driver);
		driver = NULL;
		bad |= put(run, "tool", tool);
		tool = NULL;
		bad |= put(run, "results", results);
		results = NULL;
		bad |= json_array_append_new(runs, run) != 0;
		run = NULL;
		bad |= put(root, "$schema", json_string(
		    "https://json.schemastore.org/sarif-2.1.0.json"));
		bad |= put(root, "version", json_string("2.1.0"));
		bad |= put(root, "runs", runs);
		runs = NULL;
	}
	rc = bad ? AL_ENOMEM : dump(root, out);
	json_decref(results);
	json_decref(rules);
	json_decref(driver);
	json_decref(tool);
	json_decref(run);
	json_decref(runs);
	json_decref(root);
	return rc;
}

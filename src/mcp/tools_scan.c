/*
 * The `scan` tool: find hardcoded secrets in a file or a piece of text,
 * through the scanner's engine and built-in rules.  Findings carry
 * previews only (at most the first 4 and last 2 characters of a secret).
 * A file is read into guarded memory, which is wiped when the call ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/scan.h"
#include "mcp_int.h"

#define SCAN_TOOL_MAX_FILE	(10u * 1024 * 1024)
#define SCAN_TOOL_DEFAULT_MAX	100

static const char scan_input[] =
"{\"type\":\"object\",\"additionalProperties\":false,"
"\"properties\":{"
"\"path\":{\"type\":\"string\",\"minLength\":1,\"description\":"
"\"A file (at most 10 MiB) or a directory (walked as `airlock scan` "
"does, honouring .gitignore) to scan, relative to the server's working "
"directory. Give path or text, not both.\"},"
"\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4194304,"
"\"description\":\"Text to scan, e.g. a file you are about to write or a "
"command you are about to run.\"},"
"\"max_findings\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
"\"description\":\"Report at most this many findings (default 100).\"}}}";

static const char scan_output[] =
"{\"type\":\"object\","
"\"required\":[\"clean\",\"count\",\"truncated\",\"findings\",\"files_scanned\"],"
"\"properties\":{"
"\"clean\":{\"type\":\"boolean\"},"
"\"count\":{\"type\":\"integer\"},"
"\"truncated\":{\"type\":\"boolean\"},"
"\"files_scanned\":{\"type\":\"integer\"},"
"\"findings\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
"\"required\":[\"rule\",\"description\",\"severity\",\"path\",\"line\","
"\"column\",\"preview\"],"
"\"properties\":{"
"\"rule\":{\"type\":\"string\"},"
"\"description\":{\"type\":\"string\"},"
"\"severity\":{\"type\":\"string\",\"enum\":[\"warning\",\"error\"]},"
"\"category\":{\"type\":\"string\",\"enum\":[\"secret\",\"unsafe-code\"]},"
"\"path\":{\"type\":\"string\"},"
"\"line\":{\"type\":\"integer\"},"
"\"column\":{\"type\":\"integer\"},"
"\"preview\":{\"type\":\"string\"}}}}}}";

struct collect {
	const unsigned char	*buf;
	const char		*label;
	json_t			*list;
	size_t			 count, max;
};

/* At most the first 4 and last 2 characters, as `airlock scan` shows. */
static void
preview(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	size_t i, k = 0;

	if (n < 10) {
		(void)snprintf(out, outsz, "***");
		return;
	}
	for (i = 0; i < 4; i++)
		out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[k++] = '.';
	out[k++] = '.';
	out[k++] = '.';
	for (i = n - 2; i < n; i++)
		out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[k] = '\0';
	(void)outsz;
}

static int
on_match(const struct scan_match *m, const unsigned char *buf, size_t n,
    void *arg)
{
	struct collect *col = arg;
	char pv[16];
	size_t i, line = 1, bol = 0;
	json_t *f;

	(void)n;
	col->count++;
	if (col->count > col->max)
		return 0;
	for (i = 0; i < m->off; i++) {
		if (buf[i] == '\n') {
			line++;
			bol = i + 1;
		}
	}
	preview(buf + m->off, m->len, pv, sizeof(pv));
	f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s}",
	    "rule", m->rule->id, "description", m->rule->description,
	    "severity", m->rule->severity == SCAN_SEV_ERROR ? "error" :
	    "warning", "category", m->rule->category == SCAN_CAT_UNSAFE ?
	    "unsafe-code" : "secret", "path", col->label, "line", (int)line,
	    "column", (int)(m->off - bol + 1), "preview", pv);
	if (f == NULL || json_array_append_new(col->list, f) != 0)
		return AL_ENOMEM;
	return 0;
}

/* Read a regular file of at most SCAN_TOOL_MAX_FILE bytes. */
static int
read_file(const char *path, struct al_buf *b, struct al_err *err)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return al_err_set(err, AL_ENOENT, "cannot read %s: %s", path,
		    strerror(errno));
	rc = al_buf_read_fd(b, fd, SCAN_TOOL_MAX_FILE, path, err);
	(void)close(fd);
	return rc;
}

/* The engine is read-only once built: compile it once per server. */
int
mcp_scan_engine(struct mcp_server *s, const struct scan_engine **out,
    struct al_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&s->scan_lock);
	if (s->scan == NULL)
		rc = scan_engine_new_builtin(0, &s->scan, err);
	*out = s->scan;
	pthread_mutex_unlock(&s->scan_lock);
	return rc;
}

int
mcp_redact_rules(struct mcp_server *s, const struct scan_engine **out,
    struct al_err *err)
{
	struct scan_rules *rules = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->scan_lock);
	if (s->redact_rules == NULL &&
	    (rc = scan_rules_builtin(&rules, err)) == 0)
		rc = scan_engine_new_cached(rules, SCAN_ENGINE_SECRETS_ONLY |
		    SCAN_ENGINE_NO_EXAMPLES, s->cfg.cache_dir, &s->redact_rules,
		    err);
	*out = s->redact_rules;
	pthread_mutex_unlock(&s->scan_lock);
	scan_rules_free(rules);
	return rc;
}

void
mcp_tools_release(struct mcp_server *s)
{
	scan_engine_free(s->scan);
	s->scan = NULL;
	scan_engine_free(s->redact_rules);
	s->redact_rules = NULL;
}

static void
dir_progress(const struct scan_progress *p, void *arg)
{
	char msg[64];

	(void)snprintf(msg, sizeof(msg), "%llu files scanned",
	    (unsigned long long)p->files);
	mcp_call_progress(arg, (double)p->files, (double)p->total_files, msg);
}

static void
dir_warn(const char *msg, void *arg)
{
	struct mcp_call *c = arg;

	mcp_log(c->srv, "scan: %s", msg);
}

/* A directory, through the scanner's walker (.gitignore, size limits). */
static int
scan_dir(struct mcp_call *c, const char *dir, size_t max,
    struct mcp_result *r, struct al_err *err)
{
	const struct scan_engine *e = NULL;
	struct scan_report *rep = NULL;
	struct scan_opts o;
	const struct scan_finding *f;
	char *paths[1];
	json_t *list = NULL, *j;
	size_t i;
	int rc;

	if ((rc = mcp_scan_engine(c->srv, &e, err)) != 0)
		return rc;
	memset(&o, 0, sizeof(o));
	paths[0] = (char *)dir;
	o.source = SCAN_SRC_PATHS;
	o.paths = paths;
	o.npaths = 1;
	o.threads = 1;
	o.progress = dir_progress;
	o.progress_arg = c;
	o.warn = dir_warn;
	o.warn_arg = c;
	if ((rc = scan_run(e, &o, &rep, err)) != 0) {
		rc = mcp_result_error(r, "scan: %s", err->msg);
		goto out;
	}
	if ((list = json_array()) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	for (i = 0; i < rep->nfindings && i < max; i++) {
		f = &rep->findings[i];
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s}",
		    "rule", f->rule->id, "description", f->rule->description,
		    "severity", f->rule->severity == SCAN_SEV_ERROR ? "error" :
		    "warning", "category", f->rule->category ==
		    SCAN_CAT_UNSAFE ? "unsafe-code" : "secret", "path",
		    f->path, "line", (int)f->line, "column", (int)f->col,
		    "preview", f->preview);
		if (j == NULL || json_array_append_new(list, j) != 0) {
			rc = AL_ENOMEM;
			goto out;
		}
	}
	r->structured = json_pack("{s:b, s:i, s:b, s:i, s:O}", "clean",
	    rep->nfindings == 0, "count", (int)rep->nfindings, "truncated",
	    rep->nfindings > max, "files_scanned", (int)rep->files,
	    "findings", list);
	rc = r->structured == NULL ? AL_ENOMEM : 0;
out:
	json_decref(list);
	scan_report_free(rep);
	return rc;
}

static int
scan_call(struct mcp_call *c, json_t *args, struct mcp_result *r,
    struct al_err *err)
{
	const struct scan_engine *e = NULL;
	struct scan_scratch *sc = NULL;
	struct collect col;
	struct al_buf file;
	struct stat st;
	json_t *path, *text, *maxf;
	const void *p;
	size_t n;
	int rc;

	memset(&col, 0, sizeof(col));
	al_buf_init(&file, SCAN_TOOL_MAX_FILE, AL_BUF_SENSITIVE);
	path = json_object_get(args, "path");
	text = json_object_get(args, "text");
	maxf = json_object_get(args, "max_findings");
	if ((path == NULL) == (text == NULL)) {
		r->bad_args = 1;
		r->text = strdup("Invalid arguments for tool scan: give "
		    "exactly one of arguments.path and arguments.text");
		return r->text == NULL ? AL_ENOMEM : 0;
	}
	col.max = maxf != NULL ? (size_t)json_integer_value(maxf) :
	    SCAN_TOOL_DEFAULT_MAX;
	if (path != NULL) {
		col.label = json_string_value(path);
		if (stat(col.label, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = scan_dir(c, col.label, col.max, r, err);
			goto out;
		}
		if (stat(col.label, &st) != 0 || !S_ISREG(st.st_mode)) {
			/* The model named something it cannot scan here. */
			r->is_error = 1;
			rc = asprintf(&r->text, "scan: %s is not a readable "
			    "file or directory", col.label) < 0 ? AL_ENOMEM : 0;
			goto out;
		}
		if ((rc = read_file(col.label, &file, err)) != 0) {
			r->is_error = 1;
			rc = (r->text = strdup(err->msg)) == NULL ?
			    AL_ENOMEM : 0;
			goto out;
		}
		p = file.data != NULL ? file.data : (const void *)"";
		n = file.len;
	} else {
		col.label = "text";
		p = json_string_value(text);
		n = json_string_length(text);
	}
	col.buf = p;
	if ((col.list = json_array()) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	if ((rc = mcp_scan_engine(c->srv, &e, err)) != 0 ||
	    (rc = scan_scratch_new(e, &sc, err)) != 0)
		goto out;
	mcp_call_progress(c, 0, 1, "scanning");
	if ((rc = scan_buffer(e, sc, path != NULL ? col.label : NULL, p, n,
	    on_match, &col, err)) != 0)
		goto out;
	mcp_call_progress(c, 1, 1, "scanned");
	r->structured = json_pack("{s:b, s:i, s:b, s:i, s:O}", "clean",
	    col.count == 0, "count", (int)col.count, "truncated",
	    col.count > col.max, "files_scanned", path != NULL ? 1 : 0,
	    "findings", col.list);
	rc = r->structured == NULL ? AL_ENOMEM : 0;
out:
	json_decref(col.list);
	al_buf_release(&file);
	scan_scratch_free(sc);
	return rc;
}

const struct mcp_tool mcp_tool_scan = {
	.name = "scan",
	.title = "Scan for hardcoded secrets",
	.description = "Scan a file or a piece of text for "
	    "hardcoded secrets (API keys, tokens, private keys, passwords) and "
	    "unsafe secret-loading code, with airlock's rules: a file, a whole "
	    "directory, or text. Use it before "
	    "writing a file or committing. Findings show only a short preview "
	    "of each secret, never the secret itself. Give `path` or `text`.",
	.input_schema = scan_input,
	.output_schema = scan_output,
	.read_only = 1,
	.destructive = 0,
	.idempotent = 1,
	.open_world = 0,
	.slow = 1,
	.call = scan_call,
};

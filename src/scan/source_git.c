/*
 * Git sources.
 *
 * --staged and --git RANGE read a zero-context diff (`git diff --cached
 * -U0`, `git log -p -U0 RANGE`) and scan, per file and commit, only the
 * added lines, kept contiguous so a multi-line key added in one hunk is
 * still one match; a line map turns offsets back into file lines.
 * (--git alone, the whole history, is source_hist.c.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_int.h"

#define LINE_MAX_BYTES (16u * 1024 * 1024)

/* ---- added lines of a diff -------------------------------------------- */

struct added {
	struct al_buf	 text;
	uint32_t	*lines;
	size_t		 nlines, cap;
	char		*path;
	int		 over;	/* past the size limit: dropped */
};

static int
added_flush(struct run *r, struct added *a, const struct scan_commit *c)
{
	struct run_job *j;
	int rc = 0;

	if (a->path != NULL && a->text.len > 0 && !a->over) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			rc = AL_ENOMEM;
		else {
			j->path = a->path;
			j->data = a->text.data;
			j->len = a->text.len;
			j->lines = a->lines;
			j->nlines = a->nlines;
			j->commit = c;
			a->path = NULL;
			a->lines = NULL;
			a->text.data = NULL;
			a->text.len = a->text.cap = 0;
			rc = run_push(r, j);
		}
	} else if (a->over)
		atomic_fetch_add(&r->skipped, 1);
	free(a->path);
	free(a->lines);
	a->path = NULL;
	a->lines = NULL;
	a->nlines = a->cap = 0;
	a->over = 0;
	al_buf_release(&a->text);
	al_buf_init(&a->text, r->max_size, 0);
	return rc;
}

static int
added_line(struct added *a, const char *s, size_t n, uint32_t lineno)
{
	uint32_t *nv;

	if (a->over)
		return 0;
	if (al_buf_append(&a->text, s, n) != 0 ||
	    al_buf_putc(&a->text, '\n') != 0) {
		a->over = 1;
		return 0;
	}
	if (a->nlines == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		if ((nv = realloc(a->lines, a->cap * sizeof(*nv))) == NULL)
			return AL_ENOMEM;
		a->lines = nv;
	}
	a->lines[a->nlines++] = lineno;
	return 0;
}

int
run_source_diff(struct run *r, int staged, struct al_err *err)
{
	/*
	 * --text: a "binary" or "-diff" attribute (which the changes scanned
	 * may add themselves) must not hide a text file's lines; a file with
	 * a NUL byte is still skipped and counted, by run_scan_bytes.
	 */
	char *staged_argv[] = { "git", "-c", "core.quotePath=false", "diff",
	    "--cached", "--text", "--no-color", "--no-ext-diff",
	    "--no-textconv", "--no-renames", "-U0", "--diff-filter=ACMRT",
	    NULL };
	char *range_argv[] = { "git", "-c", "core.quotePath=false", "log",
	    "-p", "--text", "-U0", "--no-color", "--no-ext-diff", "--no-textconv",
	    "--no-renames", "--format=\x01%H\x1f%an <%ae>\x1f%aI",
	    (char *)r->o->range, "--", NULL };
	struct scan_child ch;
	struct run_reader rd;
	struct added a;
	const struct scan_commit *commit = NULL;
	char *s, *plus;
	size_t n;
	uint32_t next = 0;
	int rc = 0, frc, in_hunk = 0;

	memset(&rd, 0, sizeof(rd));
	memset(&a, 0, sizeof(a));
	al_buf_init(&a.text, r->max_size, 0);
	if (!staged && (r->o->range == NULL || r->o->range[0] == '-'))
		return al_err_set(err, AL_EINVAL, "bad range '%s' (expected "
		    "A..B, a commit, or a branch)", r->o->range ?
		    r->o->range : "");
	if ((rc = scan_child_start(r->o->git_dir, staged ? staged_argv :
	    range_argv, 0, &ch, err)) != 0)
		return rc;
	rd.fd = ch.out_fd;
	rd.cap = LINE_MAX_BYTES;
	if ((rd.buf = malloc(rd.cap)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	while (rc == 0 && (s = run_reader_line(&rd, &n)) != NULL) {
		if (s[0] == '\x01') {
			if ((rc = added_flush(r, &a, commit)) != 0)
				break;
			if (run_git_commit(r, s + 1, &commit) != 0) {
				rc = al_err_set(err, AL_EPROTO, "cannot parse "
				    "git log output");
				break;
			}
			in_hunk = 0;
		} else if (strncmp(s, "diff --git ", 11) == 0) {
			rc = added_flush(r, &a, commit);
			in_hunk = 0;
		} else if (!in_hunk && strncmp(s, "+++ ", 4) == 0) {
			free(a.path);
			a.path = NULL;
			if (strncmp(s + 4, "b/", 2) == 0 ||
			    strncmp(s + 4, "\"b/", 3) == 0) {
				/* A name with a space ends in a tab (for patch). */
				if (s[4] == 'b' && n > 4 && s[n - 1] == '\t')
					s[n - 1] = '\0';
				run_git_unquote(s + 4);
				if ((a.path = strdup(s + 6)) == NULL)
					rc = AL_ENOMEM;
			}
		} else if (strncmp(s, "@@ ", 3) == 0) {
			in_hunk = 1;
			plus = strstr(s, " +");
			next = plus ? (uint32_t)strtoul(plus + 2, NULL, 10) : 0;
		} else if (in_hunk && s[0] == '+') {
			rc = added_line(&a, s + 1, n - 1, next++);
		}
		run_tick(r);
	}
	if (rc == 0)
		rc = added_flush(r, &a, commit);
	if (rc == AL_ENOMEM)
		(void)al_err_set(err, rc, "out of memory");
out:
	frc = scan_child_finish(&ch, staged ? "git diff --cached" :
	    "git log", rc == 0 ? err : NULL);
	if (rc == 0)
		rc = frc;
	free(a.path);
	free(a.lines);
	al_buf_release(&a.text);
	free(rd.buf);
	return rc;
}

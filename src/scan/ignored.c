/*
 * What a path scan leaves out because git ignores it, so the summary can
 * say so: an ignored .env is the file a user most wants checked.  Counted
 * with git itself, as the walk is (source_fs.c): ignored directories count
 * once (`--directory`), and files that look like credentials are found
 * inside them too (a second listing limited to those names).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

#define IGNORED_LIST_MAX	(64u * 1024 * 1024)
#define RISKY_MAX		100

int
scan_git_inside(const char *dir, int work_tree)
{
	char *wt[] = { "git", "rev-parse", "--is-inside-work-tree", NULL };
	char *gd[] = { "git", "rev-parse", "--git-dir", NULL };
	struct al_buf out;
	int inside;

	if (!scan_git_maybe(dir ? dir : "."))
		return 0;
	if (scan_git_capture(dir ? dir : ".", work_tree ? wt : gd,
	    SCAN_CHILD_QUIET, 64 * 1024, &out, NULL) != 0)
		return 0;
	inside = work_tree ? out.len >= 4 && memcmp(out.data, "true", 4) == 0 :
	    out.len > 0;
	al_buf_release(&out);
	return inside;
}

static int
count_nul(const struct al_buf *b)
{
	size_t i;
	int n = 0;

	for (i = 0; i < b->len; i++)
		n += b->data[i] == '\0';
	return n;
}

static int
add_risky(struct scan_ignored *ig, const char *dir, const char *p)
{
	char **nr;

	if (ig->nrisky >= RISKY_MAX)
		return 0;
	if ((nr = realloc(ig->risky, (ig->nrisky + 1) * sizeof(*nr))) == NULL)
		return AL_ENOMEM;
	ig->risky = nr;
	if (strcmp(dir, ".") == 0)
		ig->risky[ig->nrisky] = strdup(p);
	else if (asprintf(&ig->risky[ig->nrisky], "%s%s%s", dir,
	    dir[strlen(dir) - 1] == '/' ? "" : "/", p) < 0)
		ig->risky[ig->nrisky] = NULL;
	if (ig->risky[ig->nrisky] == NULL)
		return AL_ENOMEM;
	ig->nrisky++;
	return 0;
}

static int
one_dir(const char *dir, struct scan_ignored *ig, struct al_err *err)
{
	char *count[] = { "git", "-c", "core.quotePath=false", "ls-files",
	    "-z", "--others", "--ignored", "--exclude-standard", "--directory",
	    "--no-empty-directory", NULL };
	char *risky[] = { "git", "-c", "core.quotePath=false", "ls-files",
	    "-z", "--others", "--ignored", "--exclude-standard", "--",
	    ":(glob)**/.env*", ":(glob)**/*.pem", ":(glob)**/*.key",
	    ":(glob)**/id_*", ":(glob)**/credentials*", NULL };
	struct al_buf out;
	const char *p, *end;
	int rc;

	if ((rc = scan_git_capture(dir, count, SCAN_CHILD_QUIET,
	    IGNORED_LIST_MAX, &out, err)) != 0)
		return rc;
	ig->n += (size_t)count_nul(&out);
	al_buf_release(&out);
	if ((rc = scan_git_capture(dir, risky, SCAN_CHILD_QUIET,
	    IGNORED_LIST_MAX, &out, err)) != 0)
		return rc;
	/* Nothing captured leaves data NULL: no offset on it. */
	p = (const char *)out.data;
	end = p != NULL ? p + out.len : p;
	for (; rc == 0 && p < end; p += strlen(p) + 1)
		rc = add_risky(ig, dir, p);
	al_buf_release(&out);
	return rc == 0 ? 0 : al_err_set(err, rc, "out of memory");
}

int
scan_paths_ignored(const struct scan_opts *o, struct scan_ignored *ig,
    struct al_err *err)
{
	static char *const dot[] = { ".", NULL };
	char *const *paths = o->npaths ? o->paths : dot;
	size_t i, n = o->npaths ? o->npaths : 1;
	struct stat st;
	int rc = 0;

	memset(ig, 0, sizeof(*ig));
	if (o->source != SCAN_SRC_PATHS || o->no_ignore)
		return 0;
	for (i = 0; i < n && rc == 0; i++) {
		if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode) ||
		    !scan_git_inside(paths[i], 1))
			continue;
		rc = one_dir(paths[i], ig, err);
	}
	if (rc != 0)
		scan_ignored_release(ig);
	return rc;
}

void
scan_ignored_release(struct scan_ignored *ig)
{
	size_t i;

	if (ig == NULL)
		return;
	for (i = 0; i < ig->nrisky; i++)
		free(ig->risky[i]);
	free(ig->risky);
	memset(ig, 0, sizeof(*ig));
}

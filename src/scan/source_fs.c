/*
 * Paths: files as given, directories walked.
 *
 * Inside a git work tree a directory's files come from
 * `git ls-files --cached --others --exclude-standard`: tracked files plus
 * untracked ones git does not ignore.  That applies every ignore source
 * (nested .gitignore files, .git/info/exclude, core.excludesFile) with
 * git's own semantics, negations included, in one process.  The
 * alternative, `git check-ignore --stdin`, would need each walked path
 * piped through git and back, and would still leave tracked-but-ignored
 * files to special-case.  Outside a work tree (or with --no-ignore) the
 * directory is walked, skipping .git directories and symbolic links.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_int.h"

#define LS_FILES_MAX (1024u * 1024 * 1024)

static char *
join(const char *dir, const char *name)
{
	char *s;
	int n;

	if (strcmp(dir, ".") == 0)
		return strdup(name);
	n = asprintf(&s, "%s%s%s", dir,
	    dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
	return n < 0 ? NULL : s;
}

static int
push_path(struct run *r, char *path, char *rel, int regular,
    struct al_err *err)
{
	struct run_job *j;

	if (path == NULL || (j = calloc(1, sizeof(*j))) == NULL) {
		free(path);
		free(rel);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	j->path = path;
	j->rel = rel;
	j->regular = regular;
	return run_push(r, j);
}

/* Is dir inside a git work tree?  Sets *prefix (its path from the root). */
static int
git_prefix(const char *dir, char **prefix)
{
	char *argv[] = { "git", "rev-parse", "--is-inside-work-tree",
	    "--show-prefix", NULL };
	struct al_buf out;
	char *nl;
	int inside = 0;

	*prefix = NULL;
	if (!scan_git_maybe(dir) || scan_git_capture(dir, argv,
	    SCAN_CHILD_QUIET, 64 * 1024, &out, NULL) != 0)
		return 0;
	if (out.len >= 5 && memcmp(out.data, "true\n", 5) == 0) {
		inside = 1;
		*prefix = strdup((char *)out.data + 5);
		if (*prefix != NULL && (nl = strchr(*prefix, '\n')) != NULL)
			*nl = '\0';
		if (*prefix == NULL)
			inside = 0;
	}
	al_buf_release(&out);
	return inside;
}

static int
walk_git(struct run *r, const char *dir, const char *prefix,
    struct al_err *err)
{
	char *argv[] = { "git", "-c", "core.quotePath=false", "ls-files", "-z",
	    "--cached", "--others", "--exclude-standard", NULL };
	struct al_buf out;
	const char *p, *end, *last = NULL;
	char *rel;
	int rc;

	if ((rc = scan_git_capture(dir, argv, 0, LS_FILES_MAX, &out,
	    err)) != 0)
		return rc;
	p = (const char *)out.data;
	end = p + out.len;
	for (; p < end; p += strlen(p) + 1) {
		/* An unmerged path is listed once per stage: keep one. */
		if (last != NULL && strcmp(last, p) == 0)
			continue;
		last = p;
		if (asprintf(&rel, "%s%s", prefix, p) < 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			break;
		}
		if ((rc = push_path(r, join(dir, p), rel, 0, err)) != 0)
			break;
		run_tick(r);
	}
	al_buf_release(&out);
	return rc;
}

static int
walk_dir(struct run *r, const char *dir, int depth, struct al_err *err)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char *path;
	int rc = 0, isdir, isreg;

	if (depth > 256)
		return 0;	/* a loop through bind mounts: stop */
	if ((d = opendir(dir)) == NULL) {
		run_warn(r, "cannot read directory %s: %s", dir,
		    strerror(errno));
		return 0;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".git") == 0)
			continue;
		if ((path = join(dir, de->d_name)) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			break;
		}
		isdir = de->d_type == DT_DIR;
		isreg = de->d_type == DT_REG;
		if (de->d_type == DT_UNKNOWN && lstat(path, &st) == 0) {
			isdir = S_ISDIR(st.st_mode);
			isreg = S_ISREG(st.st_mode);
		}
		if (isdir) {
			rc = walk_dir(r, path, depth + 1, err);
			free(path);
		} else if (isreg) {
			rc = push_path(r, path, NULL,
			    de->d_type == DT_REG, err);
		} else
			free(path);
		run_tick(r);
	}
	(void)closedir(d);
	return rc;
}

int
run_source_paths(struct run *r, struct al_err *err)
{
	static char *const dot[] = { ".", NULL };
	char *const *paths = r->o->npaths ? r->o->paths : dot;
	size_t i, n = r->o->npaths ? r->o->npaths : 1;
	struct stat st;
	char *prefix;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if (stat(paths[i], &st) == -1) {
			run_warn(r, "cannot read %s: %s", paths[i],
			    strerror(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			/* A file named on the command line is always read. */
			rc = push_path(r, strdup(paths[i]), NULL, 0, err);
			continue;
		}
		if (!r->o->no_ignore && git_prefix(paths[i], &prefix)) {
			rc = walk_git(r, paths[i], prefix, err);
			free(prefix);
		} else
			rc = walk_dir(r, paths[i], 0, err);
	}
	return rc;
}

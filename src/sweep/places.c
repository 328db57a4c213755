/*
 * Where agents and shells leave text: the usual places, and the walk of a
 * directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sweep_int.h"

#define SWEEP_TMP_TAG	".airlock-sweep."
#define SWEEP_TMP_STALE	3600	/* seconds before a stray temp is removed */

struct place_def {
	const char	*kind;
	const char	*pattern;
	const char	*rel;		/* under home */
	const char	*prefix, *suffix;
};

/*
 * Claude Code keeps a JSON Lines transcript per session under
 * ~/.claude/projects, the prompt history in ~/.claude/history.jsonl (in
 * ~/.claude.json before), and the shell environment it captured in
 * ~/.claude/shell-snapshots; Codex CLI keeps sessions under
 * ~/.codex/sessions, ~/.codex/history.jsonl and its log in ~/.codex/log.
 * Cursor keeps its state in SQLite databases, which are not plain text and
 * are not rewritten; its chat exports are plain files wherever the user
 * saved them (name them as paths).
 */
static const struct place_def defs[] = {
	{ "claude-code", "~/.claude/projects/.../*.jsonl", ".claude/projects",
	    "", ".jsonl" },
	{ "claude-code", "~/.claude/history.jsonl", ".claude/history.jsonl",
	    "", "" },
	{ "claude-code", "~/.claude.json", ".claude.json", "", "" },
	{ "claude-code", "~/.claude/shell-snapshots/...",
	    ".claude/shell-snapshots", "", "" },
	{ "codex", "~/.codex/sessions/...", ".codex/sessions", "", "" },
	{ "codex", "~/.codex/history.jsonl", ".codex/history.jsonl", "", "" },
	{ "codex", "~/.codex/log/...", ".codex/log", "", "" },
	{ "bash", "~/.bash_history", ".bash_history", "", "" },
	{ "zsh", "~/.zsh_history", ".zsh_history", "", "" },
	{ "zsh", "~/.histfile", ".histfile", "", "" },
	{ "fish", "~/.local/share/fish/fish_history",
	    ".local/share/fish/fish_history", "", "" },
};

void
sweep_places_free(struct sweep_place *p, size_t n)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		free(p[i].path);
	free(p);
}

int
sweep_places(const char *home, const char *repo, struct sweep_place **out,
    size_t *n, struct al_err *err)
{
	size_t ndef = sizeof(defs) / sizeof(defs[0]), i, k = 0;
	struct sweep_place *p;

	*out = NULL;
	*n = 0;
	if ((p = calloc(ndef + 1, sizeof(*p))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < ndef; i++, k++) {
		p[k].kind = defs[i].kind;
		p[k].pattern = defs[i].pattern;
		p[k].prefix = defs[i].prefix;
		p[k].suffix = defs[i].suffix;
		if (asprintf(&p[k].path, "%s/%s", home, defs[i].rel) < 0)
			goto oom;
	}
	if (repo != NULL) {
		p[k].kind = "dotenv";
		p[k].pattern = "<repository>/.../.env*";
		p[k].prefix = ".env";
		p[k].suffix = "";
		if ((p[k].path = strdup(repo)) == NULL)
			goto oom;
		k++;
	}
	*out = p;
	*n = k;
	return 0;
oom:
	sweep_places_free(p, k);
	return al_err_set(err, AL_ENOMEM, "out of memory");
}

static int
starts_with(const char *s, const char *pre)
{
	return strncmp(s, pre, strlen(pre)) == 0;
}

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static int
oom(struct al_err *err)
{
	return al_err_set(err, AL_ENOMEM, "out of memory");
}

/*
 * Walk dir.  Directories that are not worth searching (.git holds git's
 * compressed objects, node_modules other people's code) are skipped.
 */
static int
walk(struct sweep *s, const char *dir, const char *prefix, const char *suffix,
    int depth, struct al_err *err)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX];
	int n, rc = 0;

	if (depth > 64)
		return sweep_problemf(s, dir, 1, "nested too deep: skipped") ?
		    oom(err) : 0;
	if ((d = opendir(dir)) == NULL)
		return sweep_problemf(s, dir, 1, "cannot read: %s",
		    strerror(errno)) ? oom(err) : 0;
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			rc = sweep_problemf(s, dir, 1, "a name in it is too "
			    "long: skipped") ? oom(err) : 0;
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = sweep_problemf(s, path, 1, "cannot read: %s",
			    strerror(errno)) ? oom(err) : 0;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (strcmp(de->d_name, ".git") == 0 ||
			    strcmp(de->d_name, "node_modules") == 0)
				continue;
			rc = walk(s, path, prefix, suffix, depth + 1, err);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (strstr(de->d_name, SWEEP_TMP_TAG) != NULL) {
			/* What a killed --fix left: masked bytes only. */
			if (de->d_name[0] == '.' &&
			    st.st_mtime + SWEEP_TMP_STALE < time(NULL))
				(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (!starts_with(de->d_name, prefix) ||
		    !ends_with(de->d_name, suffix))
			continue;
		rc = sweep_search_file(s, path, err);
	}
	if (rc == 0 && errno != 0)
		rc = sweep_problemf(s, dir, 1, "cannot read: %s",
		    strerror(errno)) ? oom(err) : 0;
	closedir(d);
	return rc;
}

/*
 * A place named by the user or in the list may be a symbolic link (a
 * history kept with the other dotfiles): it is resolved once, here, so the
 * file searched and rewritten is its target and the link stays.  Inside a
 * walked directory links are not followed.
 */
static int
search_top(struct sweep *s, const char *path, const char *prefix,
    const char *suffix, int must_exist, struct al_err *err)
{
	struct stat st;
	char *real;
	int rc;

	if ((real = realpath(path, NULL)) == NULL) {
		if (errno == ENOENT && !must_exist && lstat(path, &st) != 0)
			return 0;
		return sweep_problemf(s, path, 1, "cannot read: %s",
		    strerror(errno)) ? oom(err) : 0;
	}
	if (lstat(real, &st) != 0)
		rc = sweep_problemf(s, path, 1, "cannot read: %s",
		    strerror(errno)) ? oom(err) : 0;
	else if (S_ISDIR(st.st_mode))
		rc = walk(s, real, prefix, suffix, 0, err);
	else
		rc = sweep_search_file(s, real, err);
	free(real);
	return rc;
}

int
sweep_path(struct sweep *s, const char *path, int must_exist,
    struct al_err *err)
{
	return search_top(s, path, "", "", must_exist, err);
}

int
sweep_place(struct sweep *s, const struct sweep_place *p,
    struct al_err *err)
{
	return search_top(s, p->path, p->prefix, p->suffix, 0, err);
}

/* Loading, deciding and linting policies. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "icu_dl.h"
#include "policy_int.h"

const char *
policy_effect_name(enum policy_effect e)
{
	switch (e) {
	case POLICY_ALLOW:	return "allow";
	case POLICY_APPROVAL:	return "approval";
	default:		return "deny";
	}
}

static void
globs_release(struct pglobs *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->v);
}

static void
sels_release(struct psels *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].pattern);
	free(s->v);
}

void
prule_release(struct prule *r)
{
	size_t i;

	sels_release(&r->callers);
	sels_release(&r->approvers);
	globs_release(&r->secrets);
	globs_release(&r->intents);
	globs_release(&r->tasks);
	globs_release(&r->repos);
	for (i = 0; i < r->nlabels; i++) {
		free(r->labels[i].key);
		free(r->labels[i].glob);
	}
	free(r->labels);
	for (i = 0; i < r->nwhen; i++)
		free(r->when[i].tz);
	free(r->when);
	free(r->reason);
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++)
		prule_release(&p->rules[i]);
	free(p->rules);
	free(p->name);
	icu_dl_free(p->icu);
	free(p);
}

size_t
policy_nrules(const struct policy *p)
{
	return p->nrules;
}

int
policy_needs_repo(const struct policy *p)
{
	size_t i;

	for (i = 0; p != NULL && i < p->nrules; i++)
		if (p->rules[i].has_repos)
			return 1;
	return 0;
}

const char *
policy_name(const struct policy *p)
{
	return p->name;
}

/* Parse and compile; the diagnostics are left in d for the caller. */
static int
build(const char *text, size_t len, struct policy **out, struct pdiags *d,
    struct al_err *err)
{
	struct pnode *root = NULL;
	struct policy *p = NULL;
	int rc;

	*out = NULL;
	if (len > POLICY_TEXT_MAX) {
		rc = al_err_set(err, AL_ETOOBIG, "policy is %zu bytes; at most "
		    "%d", len, POLICY_TEXT_MAX);
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	rc = ptree_parse(text, len, &root, d);
	if (rc == 0)
		(void)pcompile(root, p, d);
	if (rc == AL_ENOMEM || d->nomem) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory reading the "
		    "policy");
		goto out;
	}
	if (d->librc != 0) {
		rc = al_err_set(err, d->librc, "%s", d->liberr.msg);
		goto out;
	}
	pdiag_sort(d);
	rc = 0;
	*out = p;
	p = NULL;
out:
	ptree_free(root);
	policy_free(p);
	return rc;
}

int
policy_load_text(const char *text, size_t len, const char *name,
    struct policy **out, struct al_err *err)
{
	struct pdiags d;
	struct policy *p = NULL;
	size_t more;
	int rc;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	if ((rc = build(text, len, &p, &d, err)) != 0)
		goto out;
	if (d.n > 0) {
		more = d.n - 1 + d.dropped;
		if (d.v[0].line > 0)
			rc = al_err_set(err, AL_EINVAL, "%s:%d: %s%s", name,
			    d.v[0].line, d.v[0].msg, more ? " (and more "
			    "errors: run `airlock policy lint`)" : "");
		else
			rc = al_err_set(err, AL_EINVAL, "%s: %s", name,
			    d.v[0].msg);
		goto out;
	}
	if ((p->name = strdup(name)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	*out = p;
	p = NULL;
out:
	free(d.v);
	policy_free(p);
	return rc;
}

int
policy_lint_text(const char *text, size_t len, struct policy_diag **out,
    size_t *n, struct al_err *err)
{
	struct pdiags d;
	struct policy *p = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	memset(&d, 0, sizeof(d));
	if ((rc = build(text, len, &p, &d, err)) != 0)
		goto out;
	if (d.dropped > 0) {
		d.dropped = 0;
		d.n--;	/* make room for the summary */
		pdiag_add(&d, 0, "too many errors; only the first %d are "
		    "shown", POLICY_DIAG_MAX - 1);
	}
	*out = d.v;
	*n = d.n;
	d.v = NULL;
out:
	free(d.v);
	policy_free(p);
	return rc;
}

int
policy_read_file(const char *path, struct al_buf *out, struct al_err *err)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return al_err_set(err, errno == ENOENT ? AL_ENOENT : AL_ESYS,
		    "cannot open %s: %s", path, strerror(errno));
	rc = al_buf_read_fd(out, fd, POLICY_TEXT_MAX, path, err);
	(void)close(fd);
	return rc;
}

int
policy_load_file(const char *path, struct policy **out, struct al_err *err)
{
	struct al_buf text;
	struct stat st;
	int fd = -1, rc;

	*out = NULL;
	al_buf_init(&text, POLICY_TEXT_MAX + 1, 0);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			rc = al_err_set(err, AL_ENOENT, "no policy at %s",
			    path);
		else if (errno == ELOOP)
			rc = al_err_set(err, AL_EPERM, "%s is a symbolic link; "
			    "the policy must be a regular file", path);
		else
			rc = al_err_set(err, AL_ESYS, "cannot open %s: %s",
			    path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot stat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = al_err_set(err, AL_EPERM, "%s is not a regular file",
		    path);
		goto out;
	}
	/* Whoever can change the policy decides who gets secrets. */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		rc = al_err_set(err, AL_EPERM, "%s is owned by uid %u, not by "
		    "you or root; refusing to trust it", path,
		    (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		rc = al_err_set(err, AL_EPERM, "%s is writable by group or "
		    "others (mode %04o): run `chmod go-w %s`", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((rc = al_buf_read_fd(&text, fd, POLICY_TEXT_MAX, path, err)) != 0)
		goto out;
	rc = policy_load_text((const char *)text.data, text.len, path, out,
	    err);
out:
	if (fd >= 0)
		(void)close(fd);
	al_buf_release(&text);
	return rc;
}

int
policy_load_default(unsigned uid, struct policy **out, struct al_err *err)
{
	struct al_buf text;
	int rc;

	*out = NULL;
	al_buf_init(&text, 64 * 1024, 0);
	if (policy_default_render(uid, &text) != 0)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	else
		rc = policy_load_text(al_buf_str(&text), text.len,
		    "built-in default", out, err);
	al_buf_release(&text);
	return rc;
}

/*
 * Environment files, as `op run --env-file` and dotenv read them: lines
 * VAR=VALUE, where a VALUE of "airlock:SECRET" names a secret to lease and
 * anything else is passed to the command as it is.  A plain value may well
 * be a credential of its own, so the file is held in guarded memory, wiped
 * when released, and errors name a line, never its content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/exec.h"

#define ENVFILE_MAX	((size_t)1024 * 1024)
#define REF_PREFIX	"airlock:"

/* The file into a new guarded buffer, left open, NUL-terminated. */
static int
read_all(const char *path, struct al_secret **out, struct al_err *err)
{
	struct al_secret *raw = NULL, *s = NULL;
	struct stat st;
	unsigned char *p;
	size_t n;
	int fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return al_err_set(err, errno == ENOENT ? AL_ENOENT : AL_EIO,
		    "cannot open the env file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = al_err_set(err, AL_EINVAL, "the env file %s is not a "
		    "regular file", path);
		goto out;
	}
	rc = al_secret_read_fd(fd, ENVFILE_MAX, &raw, err);
	if (rc == AL_ETOOBIG)
		rc = al_err_set(err, rc, "the env file %s is larger than 1 MiB",
		    path);
	else if (rc != 0)
		rc = al_err_set(err, rc, "cannot read the env file %s", path);
	if (rc != 0)
		goto out;
	/* One more byte for the NUL the parser works with. */
	n = al_secret_len(raw);
	if ((rc = al_secret_new(n + 1, &s)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	p = al_secret_open(s);
	memcpy(p, al_secret_open(raw), n);
	al_secret_close(raw);
	p[n] = '\0';
	al_secret_set_len(s, n);
	*out = s;
	s = NULL;
out:
	al_secret_free(raw);
	al_secret_free(s);
	(void)close(fd);
	return rc;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Parse one line in place (NUL-terminated, no newline) into *var and
 * *val, both pointing into line.  Returns 1 for a binding, 0 for a blank or
 * comment line, -1 when malformed (*why says how, without the content).
 */
static int
parse_line(char *line, char **var, char **val, const char **why)
{
	char *p = line, *e, *w;

	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
		p += 6;
		while (is_space(*p))
			p++;
	}
	*var = p;
	while (*p != '\0' && *p != '=' && !is_space(*p))
		p++;
	e = p;
	while (is_space(*p))
		p++;
	if (*p != '=') {
		*why = "expected VAR=VALUE";
		return -1;
	}
	*e = '\0';
	if (!exec_var_name_ok(*var) || strlen(*var) > EXEC_VAR_NAME_MAX) {
		*why = "the variable name is not letters, digits and '_' "
		    "(not starting with a digit)";
		return -1;
	}
	p++;
	while (is_space(*p))
		p++;
	if (*p == '\'' || *p == '"') {
		char q = *p++;

		*val = w = p;
		for (; *p != '\0' && *p != q; p++) {
			if (q == '"' && *p == '\\' && p[1] != '\0') {
				p++;
				*w++ = *p == 'n' ? '\n' : *p == 't' ? '\t' :
				    *p;
			} else
				*w++ = *p;
		}
		if (*p != q) {
			*why = "a quoted value does not end on its line "
			    "(values over several lines are not supported)";
			return -1;
		}
		p++;
		while (is_space(*p))
			p++;
		if (*p != '\0' && *p != '#') {
			*why = "text after the closing quote";
			return -1;
		}
		*w = '\0';
		return 1;
	}
	*val = p;
	/* An unquoted value ends at " #" (a comment) or the line's end. */
	for (e = p; *e != '\0'; e++)
		if (*e == '#' && e > p && is_space(e[-1]))
			break;
	while (e > p && is_space(e[-1]))
		e--;
	*e = '\0';
	return 1;
}

static int
seen(const struct exec_env_file *f, const char *var)
{
	size_t i, n = strlen(var);

	for (i = 0; i < f->nrefs; i++)
		if (strcmp(f->refs[i].var, var) == 0)
			return 1;
	for (i = 0; i < f->nplain; i++)
		if (strncmp(f->plain[i], var, n) == 0 && f->plain[i][n] == '=')
			return 1;
	return 0;
}

int
exec_env_file_load(const char *path, struct exec_env_file *f,
    struct al_err *err)
{
	char *line, *next, *var, *val;
	const char *why = NULL;
	size_t lineno = 0, cap = 0;
	int rc, k;

	memset(f, 0, sizeof(*f));
	if ((rc = read_all(path, &f->mem, err)) != 0)
		return rc;
	f->buf = (char *)al_secret_open(f->mem);
	f->len = al_secret_len(f->mem);
	if (memchr(f->buf, '\0', f->len) != NULL) {
		rc = al_err_set(err, AL_EINVAL, "the env file %s holds a NUL "
		    "byte", path);
		goto fail;
	}
	for (line = f->buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((k = parse_line(line, &var, &val, &why)) == 0)
			continue;
		if (k < 0) {
			rc = al_err_set(err, AL_EINVAL, "%s:%zu: %s", path,
			    lineno, why);
			goto fail;
		}
		if (seen(f, var)) {
			rc = al_err_set(err, AL_EINVAL, "%s:%zu: %s is given "
			    "twice", path, lineno, var);
			goto fail;
		}
		if (strncmp(val, REF_PREFIX, strlen(REF_PREFIX)) == 0) {
			val += strlen(REF_PREFIX);
			if (strncmp(val, "//", 2) == 0)
				val += 2;
			if (*val == '\0') {
				rc = al_err_set(err, AL_EINVAL, "%s:%zu: no "
				    "secret name after airlock:", path,
				    lineno);
				goto fail;
			}
			if (f->nrefs >= EXEC_VARS_MAX) {
				rc = al_err_set(err, AL_EINVAL, "%s:%zu: at "
				    "most %d secrets per run", path, lineno,
				    EXEC_VARS_MAX);
				goto fail;
			}
			(void)strcpy(f->refs[f->nrefs].var, var); /* fits */
			f->refs[f->nrefs].secret = val;
			f->line[f->nrefs] = lineno;
			f->nrefs++;
			continue;
		}
		if (f->nplain == cap) {
			char **np;

			cap = cap ? cap * 2 : 16;
			if ((np = realloc(f->plain, cap * sizeof(*np))) ==
			    NULL) {
				rc = al_err_set(err, AL_ENOMEM, "out of memory");
				goto fail;
			}
			f->plain = np;
		}
		/* "VAR=value" in place: the name's end becomes '=' again. */
		{
			size_t vn = strlen(var);

			var[vn] = '=';
			if (val != var + vn + 1)
				memmove(var + vn + 1, val, strlen(val) + 1);
		}
		f->plain[f->nplain++] = var;
	}
	return 0;
fail:
	exec_env_file_release(f);
	return rc;
}

void
exec_env_file_release(struct exec_env_file *f)
{
	if (f == NULL)
		return;
	al_secret_free(f->mem);	/* wiped */
	free(f->plain);
	memset(f, 0, sizeof(*f));
}

int
exec_env_build(char *const *base, const struct exec_env_file *f,
    char ***out, struct al_err *err)
{
	char **env;
	size_t nb = 0, i, j, k = 0, n;

	*out = NULL;
	while (base != NULL && base[nb] != NULL)
		nb++;
	if ((env = calloc(nb + f->nplain + 1, sizeof(*env))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < nb; i++) {
		for (j = 0; j < f->nplain; j++) {
			n = strcspn(f->plain[j], "=");
			if (strncmp(base[i], f->plain[j], n) == 0 &&
			    base[i][n] == '=')
				break;
		}
		if (j == f->nplain)
			env[k++] = base[i];
	}
	for (j = 0; j < f->nplain; j++)
		env[k++] = f->plain[j];
	env[k] = NULL;
	*out = env;
	return 0;
}

/*
 * A secret's engine configuration, kept in its labels (metadata: readable
 * without the vault key, shown by `secret show`), and its root credential.
 * The connection string must not carry a password: the password is the
 * secret's value, encrypted like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cred_int.h"
#include "pq_dl.h"

/* The root credential's format, in its first byte. */
#define ROOT_V1		0x01

const struct engine_ops *
engine_ops_find(const char *name)
{
	if (strcmp(name, engine_pg_ops.name) == 0)
		return &engine_pg_ops;
	if (strcmp(name, engine_exec_ops.name) == 0)
		return &engine_exec_ops;
	if (strcmp(name, engine_gh_ops.name) == 0)
		return &engine_gh_ops;
	return NULL;
}

int
engine_kv_is_dynamic(const struct engine_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, ENGINE_L_ENGINE) == 0)
			return 1;
	return 0;
}

void
engine_config_release(struct engine_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->connection);
	free(c->group);
	free(c->reassign_to);
	free(c->issue);
	free(c->revoke);
	free(c->app_id);
	free(c->installation);
	free(c->api_url);
	for (i = 0; i < c->nperms; i++)
		free(c->perms[i]);
	for (i = 0; i < c->ngrants; i++)
		free(c->grants[i]);
	memset(c, 0, sizeof(*c));
}

static int
dup_to(char **dst, const char *s, struct al_err *err)
{
	free(*dst);
	if ((*dst = strdup(s)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

int
engine_config_from_kv(const struct engine_kv *kv, size_t n,
    struct engine_config *out, struct al_err *err)
{
	struct engine_config c;
	const char *k;
	long idx;
	char *end;
	size_t i;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	(void)snprintf(c.prefix, sizeof(c.prefix), "%s",
	    ENGINE_PREFIX_DEFAULT);
	c.timeout = ENGINE_EXEC_TIMEOUT;
	for (i = 0; i < n && rc == 0; i++) {
		k = kv[i].key;
		if (strcmp(k, ENGINE_L_ENGINE) == 0) {
			if (snprintf(c.engine, sizeof(c.engine), "%s",
			    kv[i].value) >= (int)sizeof(c.engine))
				rc = al_err_set(err, AL_EINVAL, "label '%s': "
				    "unknown engine", k);
		} else if (strcmp(k, ENGINE_L_CONNECTION) == 0)
			rc = dup_to(&c.connection, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_GROUP) == 0)
			rc = dup_to(&c.group, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_REASSIGN) == 0)
			rc = dup_to(&c.reassign_to, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_APP_ID) == 0)
			rc = dup_to(&c.app_id, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_INSTALLATION) == 0)
			rc = dup_to(&c.installation, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_API_URL) == 0)
			rc = dup_to(&c.api_url, kv[i].value, err);
		else if (strncmp(k, ENGINE_L_PERMISSION,
		    strlen(ENGINE_L_PERMISSION)) == 0) {
			idx = strtol(k + strlen(ENGINE_L_PERMISSION), &end, 10);
			if (*end != '\0' || idx < 1 || idx > ENGINE_GRANTS_MAX)
				rc = al_err_set(err, AL_EINVAL, "label '%s': "
				    "permissions are numbered 1 to %d", k,
				    ENGINE_GRANTS_MAX);
			else if ((size_t)idx > c.nperms)
				c.nperms = (size_t)idx;
			if (rc == 0)
				rc = dup_to(&c.perms[idx - 1], kv[i].value,
				    err);
		} else if (strcmp(k, ENGINE_L_ISSUE) == 0)
			rc = dup_to(&c.issue, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_REVOKE) == 0)
			rc = dup_to(&c.revoke, kv[i].value, err);
		else if (strcmp(k, ENGINE_L_TIMEOUT) == 0) {
			idx = strtol(kv[i].value, &end, 10);
			if (*end != '\0' || idx < 1 || idx > 600)
				rc = al_err_set(err, AL_EINVAL, "--timeout: "
				    "1 to 600 seconds");
			else
				c.timeout = (int)idx;
		}
		else if (strcmp(k, ENGINE_L_PREFIX) == 0) {
			if (snprintf(c.prefix, sizeof(c.prefix), "%s",
			    kv[i].value) >= (int)sizeof(c.prefix))
				rc = al_err_set(err, AL_EINVAL, "label '%s' "
				    "is too long", k);
		} else if (strncmp(k, ENGINE_L_GRANT,
		    strlen(ENGINE_L_GRANT)) == 0) {
			idx = strtol(k + strlen(ENGINE_L_GRANT), &end, 10);
			if (*end != '\0' || idx < 1 || idx > ENGINE_GRANTS_MAX)
				rc = al_err_set(err, AL_EINVAL, "label '%s': "
				    "grants are numbered 1 to %d", k,
				    ENGINE_GRANTS_MAX);
			else if ((size_t)idx > c.ngrants)
				c.ngrants = (size_t)idx;
			if (rc == 0)
				rc = dup_to(&c.grants[idx - 1], kv[i].value,
				    err);
		}
	}
	for (i = 0; rc == 0 && i < c.nperms; i++)
		if (c.perms[i] == NULL)
			rc = al_err_set(err, AL_EINVAL, "label '%s%zu' is "
			    "missing", ENGINE_L_PERMISSION, i + 1);
	for (i = 0; rc == 0 && i < c.ngrants; i++)
		if (c.grants[i] == NULL)
			rc = al_err_set(err, AL_EINVAL, "label '%s%zu' is "
			    "missing", ENGINE_L_GRANT, i + 1);
	if (rc == 0)
		rc = engine_config_check(&c, err);
	if (rc != 0) {
		engine_config_release(&c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Digits only, 1 to 20 of them. */
static int
is_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= 20 && strspn(s, "0123456789") == n;
}

static int
gh_config_check(const struct engine_config *c, struct al_err *err)
{
	const char *u = c->api_url, *lvl;
	size_t i, n;

	if (!is_id(c->app_id) || !is_id(c->installation))
		return al_err_set(err, AL_EINVAL, "--engine github-app needs "
		    "--app-id N and --installation-id N (digits)");
	if (c->connection || c->group || c->ngrants || c->issue || c->revoke)
		return al_err_set(err, AL_EINVAL, "--engine github-app takes "
		    "no --connection, --group, --grant, --issue or --revoke");
	/* TLS, except to this machine (a test or a local proxy). */
	if (u != NULL && strncmp(u, "https://", 8) != 0 &&
	    strncmp(u, "http://127.0.0.1:", 17) != 0 &&
	    strncmp(u, "http://[::1]:", 13) != 0)
		return al_err_set(err, AL_EINVAL, "--api-url must be https:// "
		    "(or http:// to 127.0.0.1)");
	if (u != NULL && (strlen(u) > 512 || strpbrk(u, " \"\\?#") != NULL))
		return al_err_set(err, AL_EINVAL, "--api-url: a base URL, "
		    "without spaces, query or fragment");
	for (i = 0; i < c->nperms; i++) {
		lvl = strchr(c->perms[i], '=');
		n = lvl ? (size_t)(lvl - c->perms[i]) : 0;
		if (n == 0 || n > 64 || strspn(c->perms[i],
		    "abcdefghijklmnopqrstuvwxyz_") != n || (strcmp(lvl + 1,
		    "read") != 0 && strcmp(lvl + 1, "write") != 0 &&
		    strcmp(lvl + 1, "admin") != 0))
			return al_err_set(err, AL_EINVAL, "--permission %zu: "
			    "NAME=read|write|admin, e.g. contents=read", i + 1);
	}
	return 0;
}

int
engine_config_check(const struct engine_config *c, struct al_err *err)
{
	size_t i;

	if (engine_ops_find(c->engine) == NULL)
		return al_err_set(err, AL_EINVAL, "--engine: unknown engine "
		    "'%s' (known: postgres, exec, github-app)", c->engine);
	if (strcmp(c->engine, engine_gh_ops.name) == 0)
		return gh_config_check(c, err);
	if (strcmp(c->engine, engine_exec_ops.name) == 0) {
		if (c->issue == NULL || c->issue[0] == '\0' ||
		    c->revoke == NULL || c->revoke[0] == '\0')
			return al_err_set(err, AL_EINVAL, "--engine exec needs "
			    "--issue CMD and --revoke CMD");
		if (c->connection || c->group || c->ngrants || c->reassign_to)
			return al_err_set(err, AL_EINVAL, "--engine exec takes "
			    "no --connection, --group, --grant or "
			    "--reassign-to");
		return 0;
	}
	if (c->issue || c->revoke)
		return al_err_set(err, AL_EINVAL, "--issue and --revoke are "
		    "for --engine exec");
	if (c->connection == NULL || c->connection[0] == '\0')
		return al_err_set(err, AL_EINVAL, "--engine %s needs "
		    "--connection CONNINFO", c->engine);
	if (strstr(c->connection, "password") != NULL)
		return al_err_set(err, AL_EINVAL, "--connection must not hold "
		    "a password: give it on stdin (it is stored encrypted)");
	if (c->group == NULL && c->ngrants == 0)
		return al_err_set(err, AL_EINVAL, "--engine %s needs --group "
		    "ROLE or at least one --grant SQL", c->engine);
	if (c->prefix[0] == '\0')
		return al_err_set(err, AL_EINVAL, "--role-prefix must not be "
		    "empty");
	for (i = 0; c->prefix[i]; i++)
		if (!((c->prefix[i] >= 'a' && c->prefix[i] <= 'z') ||
		    (c->prefix[i] >= '0' && c->prefix[i] <= '9') ||
		    c->prefix[i] == '_'))
			return al_err_set(err, AL_EINVAL, "--role-prefix: only "
			    "a-z, 0-9 and _ (byte %zu)", i + 1);
	if (strlen(c->prefix) < 3)
		return al_err_set(err, AL_EINVAL, "--role-prefix must be at "
		    "least 3 characters: roles starting with it that no "
		    "lease holds are dropped");
	return 0;
}

int
engine_root_make(const struct al_secret *password, struct al_secret **out)
{
	size_t n = password ? al_secret_len(password) : 0;
	unsigned char *d;
	const unsigned char *s;
	int rc;

	*out = NULL;
	if ((rc = al_secret_new(n + 1, out)) != 0)
		return rc;
	d = al_secret_open(*out);
	d[0] = ROOT_V1;
	if (n > 0) {
		s = al_secret_open((struct al_secret *)password);
		memcpy(d + 1, s, n);
		al_secret_close((struct al_secret *)password);
	}
	al_secret_set_len(*out, n + 1);
	al_secret_close(*out);
	return 0;
}

int
engine_check_live(const struct engine_config *c, const struct al_secret *root,
    struct al_err *err)
{
	const struct engine_ops *ops = engine_ops_find(c->engine);
	struct pq_dl dl;
	int rc;

	if (ops == NULL)
		return al_err_set(err, AL_EINVAL, "unknown engine '%s'",
		    c->engine);
	memset(&dl, 0, sizeof(dl));
	if (ops->check_pq && (rc = pq_dl_open(&dl, err)) != 0)
		return rc;
	rc = ops->check(&dl, c, root, err);
	pq_dl_close(&dl);
	return rc;
}

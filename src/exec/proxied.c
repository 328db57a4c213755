/*
 * `run --proxy`: use without possession.
 *
 *   lease each secret (bound to this connection) without fetching it ->
 *   the broker starts a proxy holding the values and answers with
 *   placeholders, the proxy's address and credential and the run's CA ->
 *   the command runs with the placeholders in place of the values, the
 *   proxy variables set (and NO_PROXY removed), and a CA bundle (the
 *   system's CAs and the run's) named by every variable common tools read
 *   -> the proxy ends, the bundle is removed, the leases are revoked.
 *
 * This process never holds a value: only placeholders, which are useless
 * anywhere but through this run's proxy, while the run lasts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "airlock/client.h"
#include "airlock/exec.h"
#include "airlock/redact.h"
#include "exec_int.h"

extern char **environ;

#define SYSTEM_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
#define CA_BUNDLE_MAX	(16 * 1024 * 1024)
#define BUNDLE_STALE_S	(25 * 3600)	/* longer than any lease */

/* Variables the run sets itself, or removes so nothing bypasses the proxy. */
static const char *const replaced[] = { "HTTPS_PROXY", "https_proxy",
    "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
    "no_proxy", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "SSL_CERT_DIR", NULL };
static const char *const proxy_vars[] = { "HTTPS_PROXY", "https_proxy",
    "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", NULL };
static const char *const ca_vars[] = { "SSL_CERT_FILE", "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", NULL };

struct pleased {
	const char		*secret;
	struct client_lease	 lease;
	int			 have;
};

static size_t
find(const struct pleased *l, size_t n, const char *secret)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(l[i].secret, secret) == 0)
			return i;
	return n;
}

static int
lease_one(const struct exec_boundary *b, const char *secret,
    struct client_lease *out, struct al_err *err)
{
	struct client_lease_req req;
	struct client_approval a;
	int rc;

	memset(&req, 0, sizeof(req));
	req.secret = secret;
	req.task = b->task;
	req.intent = b->intent;
	req.ttl = b->ttl;
	req.bind = 1;
	rc = client_lease_request(b->client, &req, out, &a, err);
	if (rc == AL_EPENDING && b->approval_wait_s > 0) {
		if ((rc = client_approval_wait(b->client, a.id,
		    b->approval_wait_s, &a, err)) != 0)
			return rc;
		rc = client_lease_get(b->client, a.lease, out, err);
	}
	return rc;
}

static int
is_replaced(const char *entry)
{
	size_t i, n;

	for (i = 0; replaced[i] != NULL; i++) {
		n = strlen(replaced[i]);
		if (strncmp(entry, replaced[i], n) == 0 && entry[n] == '=')
			return 1;
	}
	return 0;
}

/* The caller's environment without the replaced names, plus ours. */
static char **
build_env(const struct client_proxy *px, const char *bundle)
{
	size_t n = 0, i, k = 0;
	char **env, *s;
	int len;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 16, sizeof(char *))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (!is_replaced(environ[i]))
			env[k++] = environ[i];
	/* Ours are allocated and follow a NULL marker slot for freeing. */
	for (i = 0; proxy_vars[i] != NULL; i++) {
		len = asprintf(&s, "%s=http://%s:%s@%s:%d", proxy_vars[i],
		    px->user, px->credential, px->host, px->port);
		if (len < 0)
			goto fail;
		env[k++] = s;
	}
	for (i = 0; ca_vars[i] != NULL; i++) {
		if (asprintf(&s, "%s=%s", ca_vars[i], bundle) < 0)
			goto fail;
		env[k++] = s;
	}
	env[k] = NULL;
	return env;
fail:
	env[k] = NULL;
	return env;	/* incomplete: the caller checks for the last var */
}

static void
free_env(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++) {
		if (is_replaced(env[i]))
			free(env[i]);
	}
	free(env);
}

static int
env_complete(char **env)
{
	size_t i, n = 0;

	for (i = 0; env[i] != NULL; i++)
		n += is_replaced(env[i]);
	return n == 11;
}

/*
 * A run killed with SIGKILL leaves its bundle behind (certificates only).
 * No lease lives a day, so a bundle older than that belongs to a run that
 * is over: remove it.
 */
static void
sweep_bundles(const char *dir)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "proxy-ca-", 9) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime < BUNDLE_STALE_S)
			continue;
		(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	(void)closedir(d);
}

/*
 * The CA bundle: the caller's (SSL_CERT_FILE) or the system's CAs, then the
 * run's CA.  Certificates are public; the CA's key never leaves the broker.
 */
static int
write_bundle(const struct exec_boundary *b, const struct client_proxy *px,
    char *path, size_t pathsz, struct al_err *err)
{
	struct al_buf buf;
	const char *sys = getenv("SSL_CERT_FILE");
	int fd, rc;

	if (snprintf(path, pathsz, "%s/proxy-ca-%s.pem", b->state_dir,
	    px->id) >= (int)pathsz)
		return al_err_set(err, AL_ETOOBIG, "state directory path too "
		    "long");
	al_buf_init(&buf, CA_BUNDLE_MAX, 0);
	if (sys == NULL || sys[0] == '\0')
		sys = SYSTEM_CA_FILE;
	if ((fd = open(sys, O_RDONLY | O_CLOEXEC)) >= 0) {
		/* Without the system's CAs, only the proxy's is trusted. */
		if (al_buf_read_fd(&buf, fd, CA_BUNDLE_MAX / 2, sys,
		    NULL) != 0)
			al_buf_reset(&buf);
		close(fd);
		if (buf.len > 0 && buf.data[buf.len - 1] != '\n' &&
		    al_buf_putc(&buf, '\n') != 0)
			al_buf_reset(&buf);
	}
	if ((rc = al_buf_puts(&buf, px->ca_pem)) != 0)
		rc = al_err_set(err, rc, "CA bundle too large");
	else
		rc = al_fs_write_new(path, buf.data, buf.len, err);
	al_buf_release(&buf);
	if (rc != 0)
		path[0] = '\0';
	return rc;
}

int
exec_proxied_run(const struct exec_boundary *b, struct exec_spec *spec,
    struct exec_result *res, struct al_err *err)
{
	struct pleased *l = NULL;
	struct exec_var *vars = NULL;
	struct al_secret **ph = NULL;
	struct client_proxy px;
	struct exec_netns ns;
	struct redact *r = NULL;
	struct redact_stream *so = NULL, *se = NULL;
	const char **ids = NULL;
	struct exec_lease_watch lw = { NULL, NULL };
	char bundle[4096], **env = NULL;
	size_t nl = 0, i, k;
	int rc, have_proxy = 0, isolated = 0;

	memset(res, 0, sizeof(*res));
	memset(&px, 0, sizeof(px));
	memset(&ns, 0, sizeof(ns));
	ns.listen_fd = ns.netns_fd = ns.userns_fd = ns.stop_fd = -1;
	res->status = EXEC_STATUS_FAIL;
	bundle[0] = '\0';
	if (b->nvars == 0 || b->nvars > EXEC_VARS_MAX || b->state_dir == NULL)
		return al_err_set(err, AL_EINVAL, "a proxied run needs 1 to %d "
		    "secrets", EXEC_VARS_MAX);
	if ((l = calloc(b->nvars, sizeof(*l))) == NULL ||
	    (vars = calloc(b->nvars, sizeof(*vars))) == NULL ||
	    (ph = calloc(b->nvars, sizeof(*ph))) == NULL ||
	    (ids = calloc(b->nvars, sizeof(*ids))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < b->nvars; i++) {
		if (find(l, nl, b->vars[i].secret) < nl)
			continue;
		l[nl].secret = b->vars[i].secret;
		if ((rc = lease_one(b, l[nl].secret, &l[nl].lease, err)) != 0)
			goto out;
		l[nl].have = 1;
		ids[nl] = l[nl].lease.id;
		nl++;
	}
	/*
	 * The namespace first, so the broker knows whether the command will
	 * be isolated (a `use: proxy-isolated` rule refuses it otherwise).
	 * No isolation is not fatal by itself: the command holds
	 * placeholders only.
	 */
	if (!b->no_isolation) {
		struct al_err nerr;

		al_err_clear(&nerr);
		if (exec_netns_open(&ns, &nerr) == 0)
			isolated = 1;
		else if (b->warn != NULL)
			b->warn(b->warn_arg, nerr.msg);
	}
	if ((rc = client_proxy_start(b->client, ids, nl, isolated, &px,
	    err)) != 0)
		goto out;
	have_proxy = 1;
	if (isolated) {
		if ((rc = exec_netns_start(&ns, px.port, px.handoff, err)) != 0)
			goto out;
		spec->flags |= EXEC_NETNS;
		spec->netns_fd = ns.netns_fd;
		spec->userns_fd = ns.userns_fd;
		/* Inside, the proxy is the relay's socket. */
		px.port = ns.inner_port;
	}
	sweep_bundles(b->state_dir);
	if ((rc = write_bundle(b, &px, bundle, sizeof(bundle), err)) != 0)
		goto out;
	if ((env = build_env(&px, bundle)) == NULL || !env_complete(env)) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * The placeholders are masked in the output too, so it reads as it
	 * would with the values (and one run's placeholder is never shown).
	 */
	if ((rc = redact_new(&r, err)) != 0)
		goto out;
	for (i = 0; i < nl; i++) {
		if ((rc = al_secret_from(px.placeholders[i],
		    strlen(px.placeholders[i]), &ph[i])) != 0) {
			rc = al_err_set(err, rc, "out of memory");
			goto out;
		}
		if ((rc = redact_add_value(r, l[i].secret, ph[i], err)) != 0)
			goto out;
	}
	if ((rc = exec_redactor_ready(b, r, &so, &se, err)) != 0)
		goto out;
	for (i = 0; i < b->nvars; i++) {
		k = find(l, nl, b->vars[i].secret);
		vars[i].name = b->vars[i].var;
		vars[i].value = ph[k];
		vars[i].kind = b->vars[i].kind;
	}
	spec->envp = env;
	spec->vars = vars;
	spec->nvars = b->nvars;
	spec->out.ops = &exec_redact_filter;
	spec->out.st = so;
	spec->err.ops = &exec_redact_filter;
	spec->err.st = se;
	if ((rc = exec_watch_start(&lw, b->client, ids, nl, spec, res,
	    err)) != 0)
		goto out;
	rc = exec_run(spec, res, err);
	exec_watch_status(res);
	if (rc != 0 && redact_rule_error(r) != NULL)
		(void)al_err_set(err, rc, "the scanner's rules could not be "
		    "loaded, so the output of '%s' was not shown and the task "
		    "was ended: %s (--no-rules masks the secrets only)",
		    spec->argv[0], redact_rule_error(r));
out:
	exec_watch_stop(&lw, spec);
	/* The proxy first: its credential must stop working at once. */
	if (have_proxy && client_proxy_end(b->client, px.id, NULL) != 0)
		have_proxy = 0;	/* the connection's close ends it */
	exec_netns_close(&ns);
	spec->flags &= ~EXEC_NETNS;
	spec->netns_fd = spec->userns_fd = -1;
	if (bundle[0] != '\0' && unlink(bundle) != 0 && errno != ENOENT)
		bundle[0] = '\0';
	for (i = 0; i < nl; i++)
		if (l[i].have && client_lease_revoke(b->client, l[i].lease.id,
		    NULL) != 0)
			l[i].have = 0;
	for (i = 0; ph != NULL && i < b->nvars; i++)
		al_secret_free(ph[i]);
	client_proxy_release(&px);
	redact_stream_free(so);
	redact_stream_free(se);
	redact_free(r);
	free_env(env);
	spec->envp = NULL;
	spec->vars = NULL;
	spec->nvars = 0;
	spec->out.ops = spec->err.ops = NULL;
	free(ids);
	free(ph);
	free(vars);
	free(l);
	return rc;
}

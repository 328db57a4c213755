/*
 * The github-app engine: the App's private key is the root credential; a
 * use of a lease signs a JWT with it (RS256, valid 9 minutes) and asks the
 * GitHub REST API for an installation access token limited to the caller's
 * repository and the secret's permissions (POST
 * /app/installations/{id}/access_tokens); the lease's end deletes the
 * token (DELETE /installation/token, authenticated by the token itself).
 *
 * The token is kept in guarded memory for its revocation only; it is not
 * written anywhere, so after a broker restart a token minted before can no
 * longer be deleted and lapses at its own expiry (one hour, GitHub's).
 * OpenSSL keeps its own copy of the private key while it signs (freed at
 * once); libcurl sees the JWT and the token in its request headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cred_int.h"
#include "pq_dl.h"

#define GH_BODY_MAX	(64 * 1024)
#define GH_TIMEOUT_S	10L

static const char *
api_base(const struct engine_source *s)
{
	return s->cfg.api_url ? s->cfg.api_url : ENGINE_GH_API_DEFAULT;
}

static int
gh_load(struct pq_dl *dl, struct al_err *err)
{
	return pq_dl_open_curl(dl, err);
}

/* base64url (no padding) of p[0..n) onto b. */
static int
b64url(struct al_buf *b, const void *p, size_t n)
{
	size_t m = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	int rc;

	if ((rc = al_buf_reserve(b, m)) != 0)
		return rc;
	sodium_bin2base64((char *)b->data + b->len, m, p, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	b->len += strlen((char *)b->data + b->len);
	return 0;
}

/* The App's JWT, signed with root (version byte + PEM) onto jwt. */
static int
make_jwt(const struct pq_dl *dl, const struct engine_source *s,
    struct al_secret *root, struct al_buf *jwt, struct al_err *err)
{
	static const char hdr[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	char claims[128];
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	time_t now = time(NULL);
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio;
	int rc = 0, n;

	n = snprintf(claims, sizeof(claims), "{\"iat\":%lld,\"exp\":%lld,"
	    "\"iss\":\"%s\"}", (long long)now - 60, (long long)now + 540,
	    s->cfg.app_id);
	if (n < 0 || (size_t)n >= sizeof(claims))
		return al_err_set(err, AL_EINVAL, "app id too long");
	if (b64url(jwt, hdr, strlen(hdr)) != 0 || al_buf_putc(jwt, '.') != 0 ||
	    b64url(jwt, claims, (size_t)n) != 0)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	bio = dl->BIO_new_mem_buf(al_secret_open(root) + 1,
	    (int)al_secret_len(root) - 1);
	if (bio != NULL)
		key = dl->PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (bio != NULL)
		dl->BIO_free(bio);
	al_secret_close(root);
	if (key == NULL || dl->EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		rc = al_err_set(err, AL_EINVAL, "the secret's value is not the "
		    "App's RSA private key (PEM)");
		goto out;
	}
	if ((md = dl->EVP_MD_CTX_new()) == NULL ||
	    dl->EVP_DigestSignInit(md, NULL, dl->EVP_sha256(), NULL, key) != 1 ||
	    dl->EVP_DigestSign(md, sig, &siglen, (const unsigned char *)
	    jwt->data, jwt->len) != 1) {
		rc = al_err_set(err, AL_ECRYPTO, "cannot sign the App's JWT");
		goto out;
	}
	if (al_buf_putc(jwt, '.') != 0 || b64url(jwt, sig, siglen) != 0)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
out:
	if (md != NULL)
		dl->EVP_MD_CTX_free(md);
	if (key != NULL)
		dl->EVP_PKEY_free(key);
	return rc;
}

/* libcurl's body callback: into guarded memory, at most GH_BODY_MAX. */
static size_t
on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct al_buf *b = arg;

	if (nm != 0 && sz > GH_BODY_MAX / nm)
		return 0;
	return al_buf_append(b, p, sz * nm) == 0 ? sz * nm : 0;
}

/*
 * One request: method to base + path with auth ("Bearer JWT" or "token
 * T", in guarded auth) and JSON body (may be NULL); the status in *status,
 * the reply in reply (sensitive).
 */
static int
call(const struct pq_dl *dl, const struct engine_source *s,
    const char *method, const char *path, const struct al_buf *auth,
    const char *body, long *status, struct al_buf *reply, struct al_err *err)
{
	struct curl_slist *h = NULL, *h2;
	struct al_buf url, hdr;
	CURL *c = NULL;
	CURLcode cc;
	char ebuf[CURL_ERROR_SIZE];
	int rc = 0;

	*status = 0;
	ebuf[0] = '\0';
	al_buf_init(&url, 2048, 0);
	al_buf_init(&hdr, 8192, AL_BUF_SENSITIVE);
	if (al_buf_printf(&url, "%s%s", api_base(s), path) != 0 ||
	    al_buf_puts(&hdr, "Authorization: ") != 0 ||
	    al_buf_append(&hdr, auth->data, auth->len) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((c = dl->easy_init()) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "cannot start an HTTP request");
		goto out;
	}
	/* The header list is libcurl's copy: freed (not wiped) below. */
	if ((h2 = dl->slist_append(h, al_buf_str(&hdr))) == NULL ||
	    (h = h2, (h2 = dl->slist_append(h, "Accept: "
	    "application/vnd.github+json")) == NULL) ||
	    (h = h2, (h2 = dl->slist_append(h, "X-GitHub-Api-Version: "
	    "2022-11-28")) == NULL) ||
	    (h = h2, (h2 = dl->slist_append(h, "Content-Type: "
	    "application/json")) == NULL)) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	h = h2;
	dl->easy_setopt(c, CURLOPT_URL, al_buf_str(&url));
	dl->easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	dl->easy_setopt(c, CURLOPT_HTTPHEADER, h);
	dl->easy_setopt(c, CURLOPT_USERAGENT, "airlock");
	dl->easy_setopt(c, CURLOPT_TIMEOUT, GH_TIMEOUT_S);
	dl->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	dl->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	dl->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	dl->easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	dl->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	dl->easy_setopt(c, CURLOPT_WRITEDATA, reply);
	if (body != NULL)
		dl->easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if ((cc = dl->easy_perform(c)) != CURLE_OK) {
		rc = al_err_set(err, AL_EUNAVAIL, "GitHub API %s: %s",
		    api_base(s), ebuf[0] ? ebuf : dl->easy_strerror(cc));
		goto out;
	}
	dl->easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
out:
	if (c != NULL)
		dl->easy_cleanup(c);
	if (h != NULL)
		dl->slist_free_all(h);
	al_buf_release(&url);
	al_buf_release(&hdr);
	return rc;
}

/* The repository's name from a normalized remote ("host/owner/name"). */
static const char *
repo_name(const char *repo)
{
	const char *p = repo ? strrchr(repo, '/') : NULL;

	return p != NULL && p[1] != '\0' ? p + 1 : NULL;
}

static int
gh_check(const struct pq_dl *dl, const struct engine_config *c,
    const struct al_secret *root, struct al_err *err)
{
	struct engine_source s;
	struct al_buf jwt;
	struct pq_dl t;
	int rc;

	(void)dl;
	if ((rc = engine_config_check(c, err)) != 0)
		return rc;
	/* The key must sign: a JWT is made, not sent. */
	memset(&t, 0, sizeof(t));
	if ((rc = pq_dl_open_curl(&t, err)) != 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.cfg = *c;
	al_buf_init(&jwt, 8192, AL_BUF_SENSITIVE);
	rc = make_jwt(&t, &s, (struct al_secret *)root, &jwt, err);
	al_buf_release(&jwt);
	pq_dl_close(&t);
	return rc;
}

static int
gh_mint(struct engine_source *s, struct engine_slot *h, const char *role,
    const struct engine_for *why,
    int64_t valid_until, struct al_secret **value, char ext[ENGINE_EXT_MAX + 1],
    struct al_secret **keep, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	const char *name = repo_name(why ? why->repo : NULL), *eq;
	struct al_buf auth, jwt, body, reply, path;
	struct al_secret *tok = NULL;
	long status;
	size_t i;
	int rc;

	(void)role;
	(void)valid_until;
	*value = NULL;
	*keep = NULL;
	ext[0] = '\0';
	if (name == NULL)
		return al_err_set(err, AL_EDENIED, "the caller's repository is "
		    "unknown (no git remote in its working directory): a "
		    "GitHub App token is limited to it");
	al_buf_init(&auth, 8192, AL_BUF_SENSITIVE);
	al_buf_init(&jwt, 8192, AL_BUF_SENSITIVE);
	al_buf_init(&body, 8192, 0);
	al_buf_init(&reply, GH_BODY_MAX, AL_BUF_SENSITIVE);
	al_buf_init(&path, 512, 0);
	if ((rc = make_jwt(dl, s, h->root, &jwt, err)) != 0)
		goto out;
	if (al_buf_puts(&auth, "Bearer ") != 0 ||
	    al_buf_append(&auth, jwt.data, jwt.len) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	/* Names and levels were checked at add: plain characters. */
	rc = al_buf_printf(&body, "{\"repositories\":[\"%s\"]", name);
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != strlen(name)) {
		rc = al_err_set(err, AL_EINVAL, "repository name '%.64s' has "
		    "unexpected characters", name);
		goto out;
	}
	for (i = 0; rc == 0 && i < s->cfg.nperms; i++) {
		eq = strchr(s->cfg.perms[i], '=');
		rc = al_buf_printf(&body, "%s\"%.*s\":\"%s\"", i ?
		    "," : ",\"permissions\":{", (int)(eq - s->cfg.perms[i]),
		    s->cfg.perms[i], eq + 1);
	}
	if (rc == 0 && s->cfg.nperms > 0)
		rc = al_buf_putc(&body, '}');
	if (rc == 0)
		rc = al_buf_putc(&body, '}');
	if (rc == 0)
		rc = al_buf_printf(&path, "/app/installations/%s/access_tokens",
		    s->cfg.installation);
	if (rc != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = call(dl, s, "POST", al_buf_str(&path), &auth,
	    al_buf_str(&body), &status, &reply, err)) != 0)
		goto out;
	if (status != 201) {
		rc = al_err_set(err, status == 401 || status == 403 ||
		    status == 404 || status == 422 ? AL_EDENIED : AL_EUNAVAIL,
		    "GitHub API: HTTP %ld for an installation token (app %s, "
		    "installation %s, repository %s)", status, s->cfg.app_id,
		    s->cfg.installation, name);
		goto out;
	}
	{
		struct al_secret *j = NULL;

		if (al_secret_from(reply.data, reply.len, &j) != 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		al_secret_close(j);
		rc = engine_json_take(j, "token", &tok, NULL, NULL);
		al_secret_free(j);
		if (rc != 0) {
			rc = al_err_set(err, AL_EPROTO, "GitHub API: no token "
			    "in the answer");
			goto out;
		}
	}
	/* One copy for the holder, one kept to delete it. */
	{
		const unsigned char *p = al_secret_open(tok);

		rc = al_secret_from(p, al_secret_len(tok), keep);
		al_secret_close(tok);
		if (rc != 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		al_secret_close(*keep);
	}
	*value = tok;
	tok = NULL;
out:
	al_secret_free(tok);
	al_buf_release(&jwt);
	al_buf_release(&auth);
	al_buf_release(&body);
	al_buf_release(&reply);
	al_buf_release(&path);
	return rc;
}

static int
gh_destroy(struct engine_source *s, struct engine_slot *h, const char *role,
    const char *ext, struct al_secret *keep, int first, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	struct al_buf auth, reply;
	long status;
	int rc;

	(void)h;
	(void)first;
	(void)role;
	(void)ext;
	if (keep == NULL)
		return 0;	/* minted before a restart: lapses on its own */
	al_buf_init(&auth, 8192, AL_BUF_SENSITIVE);
	al_buf_init(&reply, GH_BODY_MAX, AL_BUF_SENSITIVE);
	if (al_buf_puts(&auth, "token ") != 0 ||
	    al_buf_append(&auth, al_secret_open(keep),
	    al_secret_len(keep)) != 0) {
		al_secret_close(keep);
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	al_secret_close(keep);
	if ((rc = call(dl, s, "DELETE", "/installation/token", &auth, NULL,
	    &status, &reply, err)) != 0)
		goto out;
	/* 401: the token is no longer valid (gone already). */
	if (status != 204 && status != 401)
		rc = al_err_set(err, AL_EUNAVAIL, "GitHub API: HTTP %ld "
		    "deleting the token", status);
out:
	al_buf_release(&auth);
	al_buf_release(&reply);
	return rc;
}

static void
gh_close(const struct pq_dl *dl, void *h)
{
	(void)dl;
	(void)h;
}

const struct engine_ops engine_gh_ops = {
	.name = "github-app",
	.check_pq = 0,
	.load = gh_load,
	.check = gh_check,
	.mint = gh_mint,
	.destroy = gh_destroy,
	.roles = NULL,
	.close = gh_close,
};

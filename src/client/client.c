/*
 * The broker client: one libcurl easy handle over the Unix socket, reused
 * for every request so that the connection (and what is bound to it) lives
 * as long as the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "airlock/api.h"
#include "client_int.h"

#define JSON_REPLY_MAX	(8 * 1024 * 1024)

/*
 * Where a reply body goes: a JSON buffer, or guarded memory for a value,
 * allocated at the first byte to the announced length and kept open until
 * the transfer ends (one allocation and one close per value).
 */
struct sink {
	struct al_buf		*json;
	int			 want_value;
	struct al_secret	*value;
	size_t			 value_len;
	size_t			 clen;		/* Content-Length, 0: unknown */
	int			 overflow;
	char			 ctype[64];
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->want_value) {
		if (s->value == NULL && al_secret_new(s->clen > 0 &&
		    s->clen <= API_VALUE_MAX ? s->clen : API_VALUE_MAX,
		    &s->value) != 0)
			return 0;
		if (n > al_secret_cap(s->value) - s->value_len) {
			s->overflow = 1;
			return 0;	/* aborts the transfer */
		}
		memcpy(al_secret_open(s->value) + s->value_len, p, n);
		sodium_memzero(p, n);	/* libcurl's receive buffer */
		s->value_len += n;
		al_secret_set_len(s->value, s->value_len);
		return n;
	}
	if (al_buf_append(s->json, p, n) != 0) {
		s->overflow = 1;
		return 0;
	}
	return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, k = strlen("content-type:");
	size_t i, len, kl = strlen("content-length:");
	unsigned long long cl;
	char num[24];

	if (n > kl && n - kl < sizeof(num) &&
	    strncasecmp(p, "content-length:", kl) == 0) {
		memcpy(num, p + kl, n - kl);
		num[n - kl] = '\0';
		if (sscanf(num, "%llu", &cl) == 1)
			s->clen = cl <= SIZE_MAX ? (size_t)cl : SIZE_MAX;
	}
	if (n > k && strncasecmp(p, "content-type:", k) == 0) {
		p += k;
		len = n - k;
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
		    p[len - 1] == ' '))
			len--;
		for (i = 0; i < len && i < sizeof(s->ctype) - 1; i++)
			s->ctype[i] = p[i];
		s->ctype[i] = '\0';
	}
	return n;
}

static int
code_for(long status, const char *name)
{
	if (status == 403 && name && strcmp(name, API_E_DENIED) == 0)
		return AL_EDENIED;
	switch (status) {
	case 400:	return AL_EINVAL;
	case 403:	return AL_EPERM;
	case 404:	return AL_ENOENT;
	case 405:	return AL_EPROTO;
	case 409:	return AL_EEXIST;
	case 410:	return AL_EEXPIRED;
	case 413:	return AL_ETOOBIG;
	case 429:	return AL_EBUSY;
	case 503:	return AL_EUNAVAIL;
	default:	return AL_EIO;
	}
}

/* Turn an error reply into err; keep the reply for callers that want it. */
static int
error_from(long status, json_t *j, struct al_err *err)
{
	json_t *e = json_object_get(j, API_F_ERROR);
	const char *name = json_string_value(json_object_get(e, API_F_CODE));
	const char *msg = json_string_value(json_object_get(e, API_F_MESSAGE));
	const char *rule = json_string_value(json_object_get(e, API_F_RULE));
	int code = code_for(status, name);

	if (msg == NULL)
		return al_err_set(err, AL_EPROTO, "the broker answered HTTP "
		    "%ld without an error message", status);
	if (code == AL_EDENIED && rule && rule[0])
		return al_err_set(err, code, "denied by policy rule '%s': %s",
		    rule, msg);
	if (code == AL_EDENIED)
		return al_err_set(err, code, "denied: %s", msg);
	return al_err_set(err, code, "%s", msg);
}

int
client_call(struct client *cl, const char *method, const char *path,
    json_t *body, struct al_secret **value, long *status, json_t **out,
    struct al_err *err)
{
	const struct curl_dl *cu = &cl->lib;
	struct curl_slist *hdr = NULL;
	struct al_buf reply;
	struct sink s;
	json_error_t jerr;
	json_t *j = NULL;
	char url[1024], *payload = NULL, ebuf[CURL_ERROR_SIZE];
	CURLcode cc;
	long st = 0;
	int rc;

	if (out)
		*out = NULL;
	al_buf_init(&reply, JSON_REPLY_MAX, 0);
	memset(&s, 0, sizeof(s));
	s.json = &reply;
	s.want_value = value != NULL;
	if (value)
		*value = NULL;
	ebuf[0] = '\0';
	if (snprintf(url, sizeof(url), "http://airlock%s", path) >=
	    (int)sizeof(url)) {
		rc = al_err_set(err, AL_ETOOBIG, "request path too long");
		goto out;
	}
	if (body != NULL && (payload = json_dumps(body, JSON_COMPACT)) ==
	    NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	cu->easy_setopt(cl->curl, CURLOPT_URL, url);
	cu->easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST, method);
	cu->easy_setopt(cl->curl, CURLOPT_WRITEDATA, &s);
	cu->easy_setopt(cl->curl, CURLOPT_HEADERDATA, &s);
	cu->easy_setopt(cl->curl, CURLOPT_ERRORBUFFER, ebuf);
	cu->easy_setopt(cl->curl, CURLOPT_TIMEOUT_MS, (long)cl->timeout_ms);
	if (payload != NULL) {
		hdr = cu->slist_append(hdr, "Content-Type: application/json");
		cu->easy_setopt(cl->curl, CURLOPT_POSTFIELDS, payload);
		cu->easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(payload));
	} else {
		cu->easy_setopt(cl->curl, CURLOPT_POSTFIELDS, NULL);
		cu->easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
		cu->easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	/* curl would send "Expect: 100-continue" for large bodies. */
	hdr = cu->slist_append(hdr, "Expect:");
	cu->easy_setopt(cl->curl, CURLOPT_HTTPHEADER, hdr);
	cc = cu->easy_perform(cl->curl);
	cu->easy_setopt(cl->curl, CURLOPT_HTTPHEADER, NULL);
	if (cc != CURLE_OK) {
		if (s.overflow)
			rc = al_err_set(err, AL_ETOOBIG, "the broker's reply is "
			    "too large");
		else if (cc == CURLE_COULDNT_CONNECT)
			rc = al_err_set(err, AL_EUNAVAIL, "no broker answers on "
			    "%s", cl->socket_path);
		else if (cc == CURLE_OPERATION_TIMEDOUT)
			rc = al_err_set(err, AL_ETIMEDOUT, "the broker did not "
			    "answer within %d ms", cl->timeout_ms);
		else
			rc = al_err_set(err, AL_EUNAVAIL, "talking to the broker "
			    "on %s failed: %s", cl->socket_path, ebuf[0] ? ebuf :
			    cu->easy_strerror(cc));
		goto out;
	}
	cu->easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &st);
	if (status)
		*status = st;
	if (value != NULL && st == 200) {
		if (strcmp(s.ctype, API_CT_VALUE) != 0) {
			rc = al_err_set(err, AL_EPROTO, "the broker sent a value "
			    "of type '%.40s'", s.ctype);
			goto out;
		}
		if (s.value == NULL && (rc = al_secret_new(0, &s.value)) != 0) {
			rc = al_err_set(err, rc, "cannot allocate guarded "
			    "memory");
			goto out;
		}
		al_secret_close(s.value);
		*value = s.value;
		s.value = NULL;
		rc = 0;
		goto out;
	}
	if (s.value != NULL) {
		/* An error reply went into the value sink: re-read as JSON. */
		rc = al_buf_append(&reply, al_secret_open(s.value),
		    s.value_len);
		if (rc != 0) {
			rc = al_err_set(err, AL_EPROTO, "malformed reply");
			goto out;
		}
	}
	if (strncmp(s.ctype, API_CT_JSON, strlen(API_CT_JSON)) == 0) {
		j = json_loadb((const char *)reply.data, reply.len, 0, &jerr);
		if (j == NULL) {
			rc = al_err_set(err, AL_EPROTO, "the broker sent malformed "
			    "JSON (HTTP %ld)", st);
			goto out;
		}
	} else if (st < 300 && out != NULL) {
		/* Only /metrics is text; callers of JSON routes get an error. */
		j = json_stringn((const char *)reply.data, reply.len);
	}
	if (st >= 400) {
		rc = error_from(st, j, err);
		goto out;
	}
	if (out) {
		*out = j;
		j = NULL;
	}
	rc = 0;
out:
	al_secret_free(s.value);	/* wipes what did not reach *value */
	json_decref(j);
	cu->slist_free_all(hdr);
	if (payload != NULL)	/* it may hold the approver PIN */
		sodium_memzero(payload, strlen(payload));
	free(payload);
	al_buf_release(&reply);
	return rc;
}

int
client_connect(struct client *cl, struct al_err *err)
{
	const struct curl_dl *cu = &cl->lib;
	CURL *c;
	int rc;

	if (cu->handle == NULL &&
	    (rc = curl_dl_open(&cl->lib, CURL_DL_SONAME, err)) != 0)
		return rc;
	if ((c = cu->easy_init()) == NULL)
		return al_err_set(err, AL_ENOMEM, "cannot start libcurl");
	cu->easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, cl->socket_path);
	cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	cu->easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	/* Never follow anything, never use a proxy: only this socket. */
	cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cu->easy_setopt(c, CURLOPT_PROXY, "");
	cu->easy_setopt(c, CURLOPT_NOPROXY, "*");
	cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	/*
	 * Keep the one connection as long as we live: leases may be bound
	 * to it, and curl would otherwise drop it after two idle minutes.
	 */
	cu->easy_setopt(c, CURLOPT_MAXAGE_CONN, 365L * 86400);
	cu->easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
	cu->easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
	cl->curl = c;
	return 0;
}

void
client_close(struct client *cl)
{
	if (cl == NULL)
		return;
	if (cl->curl)
		cl->lib.easy_cleanup(cl->curl);
	curl_dl_close(&cl->lib);
	free(cl);
}

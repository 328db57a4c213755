/* Secret metadata: validation, status, copies and list encoding. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store_int.h"

int
vault_name_check(const char *name, struct al_err *err)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > VAULT_NAME_MAX)
		goto bad;
	/*
	 * Parts separated by '/' (work/aws/key, as pass has them), each
	 * starting with a letter or digit: no empty part, no "." or "..".
	 */
	for (i = 0; i < n; i++) {
		char c = name[i];
		int first = i == 0 || name[i - 1] == '/';

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (!first && (c == '.' || c == '_' || c == '-'))
			continue;
		if (!first && c == '/' && i + 1 < n)
			continue;
		goto bad;
	}
	return 0;
bad:
	return al_err_set(err, AL_EINVAL, "invalid secret name: a name is 1 "
	    "to 64 characters of letters, digits, '.', '_' and '-', in parts "
	    "separated by '/' (GITHUB_TOKEN, work/aws/key), each part "
	    "starting with a letter or digit");
}

int
vault_text_check(const char *s, const char *what, struct al_err *err)
{
	size_t i, n = strlen(s);

	if (n == 0)
		return al_err_set(err, AL_EINVAL, "%s must not be empty", what);
	if (n > VAULT_TEXT_MAX)
		return al_err_set(err, AL_EINVAL, "%s is longer than %d bytes",
		    what, VAULT_TEXT_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return al_err_set(err, AL_EINVAL, "%s contains a "
			    "control character at byte %zu", what, i + 1);
	return 0;
}

enum vault_status
vault_meta_status(const struct vault_meta *m, int64_t now)
{
	if (m->status == VAULT_ACTIVE && m->expires != 0 && m->expires <= now)
		return VAULT_EXPIRED;
	return m->status;
}

int
vault_meta_rotation_due(const struct vault_meta *m, int64_t now)
{
	int64_t base = m->last_rotated ? m->last_rotated : m->created;

	if (m->status == VAULT_EXPOSED)
		return 1;
	return m->rotate_every > 0 && now >= base + m->rotate_every;
}

const char *
vault_status_name(enum vault_status s)
{
	switch (s) {
	case VAULT_ACTIVE:	return "active";
	case VAULT_EXPIRED:	return "expired";
	case VAULT_EXPOSED:	return "exposed";
	case VAULT_REVOKED:	return "revoked";
	}
	return "unknown";
}

void
vault_meta_release(struct vault_meta *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->owner);
	free(m->purpose);
	for (i = 0; i < m->nhosts; i++)
		free(m->hosts[i]);
	free(m->hosts);
	for (i = 0; i < m->nlabels; i++) {
		free(m->labels[i].key);
		free(m->labels[i].value);
	}
	free(m->labels);
	memset(m, 0, sizeof(*m));
}

void
vault_meta_list_free(struct vault_meta *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		vault_meta_release(&list[i]);
	free(list);
}

static char *
dup_or_null(const char *s, int *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = 1;
	return d;
}

int
vault_meta_copy(struct vault_meta *dst, const struct vault_meta *src)
{
	size_t i;
	int fail = 0;

	*dst = *src;
	dst->owner = dst->purpose = NULL;
	dst->hosts = NULL;
	dst->labels = NULL;
	dst->nhosts = dst->nlabels = 0;
	dst->owner = dup_or_null(src->owner, &fail);
	dst->purpose = dup_or_null(src->purpose, &fail);
	if (src->nhosts &&
	    (dst->hosts = calloc(src->nhosts, sizeof(char *))) == NULL)
		fail = 1;
	for (i = 0; !fail && i < src->nhosts; i++) {
		dst->hosts[i] = dup_or_null(src->hosts[i], &fail);
		dst->nhosts++;
	}
	if (!fail && src->nlabels &&
	    (dst->labels = calloc(src->nlabels, sizeof(*dst->labels))) == NULL)
		fail = 1;
	for (i = 0; !fail && i < src->nlabels; i++) {
		dst->labels[i].key = dup_or_null(src->labels[i].key, &fail);
		dst->labels[i].value = dup_or_null(src->labels[i].value, &fail);
		dst->nlabels++;
	}
	if (fail) {
		vault_meta_release(dst);
		return AL_ENOMEM;
	}
	return 0;
}

int
store_meta_lists_encode(const struct vault_meta *m, char **hosts,
    char **labels)
{
	json_t *h = json_array(), *l = json_object();
	size_t i;
	int rc = AL_ENOMEM;

	*hosts = *labels = NULL;
	if (h == NULL || l == NULL)
		goto out;
	for (i = 0; i < m->nhosts; i++)
		if (json_array_append_new(h, json_string(m->hosts[i])) != 0)
			goto out;
	for (i = 0; i < m->nlabels; i++)
		if (json_object_set_new(l, m->labels[i].key,
		    json_string(m->labels[i].value)) != 0)
			goto out;
	*hosts = json_dumps(h, JSON_COMPACT);
	*labels = json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);
	if (*hosts == NULL || *labels == NULL) {
		free(*hosts);
		free(*labels);
		*hosts = *labels = NULL;
		goto out;
	}
	rc = 0;
out:
	json_decref(h);
	json_decref(l);
	return rc;
}

int
store_meta_lists_decode(struct vault_meta *m, const char *hosts,
    const char *labels)
{
	json_t *h = NULL, *l = NULL, *v;
	const char *k;
	size_t i;
	int rc = AL_ECORRUPT;

	h = json_loads(hosts, JSON_REJECT_DUPLICATES, NULL);
	l = json_loads(labels, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(h) || !json_is_object(l) ||
	    json_array_size(h) > VAULT_LIST_MAX ||
	    json_object_size(l) > VAULT_LIST_MAX)
		goto out;
	if (json_array_size(h) &&
	    (m->hosts = calloc(json_array_size(h), sizeof(char *))) == NULL)
		goto out;
	json_array_foreach(h, i, v) {
		if (!json_is_string(v) ||
		    (m->hosts[m->nhosts] = strdup(json_string_value(v))) == NULL)
			goto out;
		m->nhosts++;
	}
	if (json_object_size(l) && (m->labels = calloc(json_object_size(l),
	    sizeof(*m->labels))) == NULL)
		goto out;
	json_object_foreach(l, k, v) {
		struct vault_label *lb = &m->labels[m->nlabels];

		if (!json_is_string(v))
			goto out;
		lb->key = strdup(k);
		lb->value = strdup(json_string_value(v));
		m->nlabels++;
		if (lb->key == NULL || lb->value == NULL)
			goto out;
	}
	rc = 0;
out:
	json_decref(h);
	json_decref(l);
	return rc;
}

void
store_row_release(struct store_row *r)
{
	if (r == NULL)
		return;
	vault_meta_release(&r->meta);
	free(r->ct);
	memset(r, 0, sizeof(*r));
}

static json_t *
time_or_null(int64_t t)
{
	char buf[21];

	if (t == 0)
		return json_null();
	al_format_time(t, buf);
	return json_string(buf);
}

json_t *
vault_meta_json(const struct vault_meta *m, int64_t now)
{
	json_t *o = json_object(), *hosts = json_array(), *labels =
	    json_object();
	char dur[32];
	size_t i;

	if (o == NULL || hosts == NULL || labels == NULL) {
		json_decref(o);
		json_decref(hosts);
		json_decref(labels);
		return NULL;
	}
	for (i = 0; i < m->nhosts; i++)
		json_array_append_new(hosts, json_string(m->hosts[i]));
	for (i = 0; i < m->nlabels; i++)
		json_object_set_new(labels, m->labels[i].key,
		    json_string(m->labels[i].value));
	json_object_set_new(o, "name", json_string(m->name));
	json_object_set_new(o, "id", json_string(m->id));
	json_object_set_new(o, "owner", json_string(m->owner ? m->owner : ""));
	json_object_set_new(o, "purpose", json_string(m->purpose ?
	    m->purpose : ""));
	json_object_set_new(o, "status", json_string(m->corrupt ? "corrupt" :
	    vault_status_name(vault_meta_status(m, now))));
	json_object_set_new(o, "version", json_integer(m->version));
	json_object_set_new(o, "created", time_or_null(m->created));
	json_object_set_new(o, "updated", time_or_null(m->updated));
	json_object_set_new(o, "expires", time_or_null(m->expires));
	if (m->rotate_every) {
		al_format_duration(m->rotate_every, dur);
		json_object_set_new(o, "rotate_every", json_string(dur));
		json_object_set_new(o, "rotation_due_at",
		    time_or_null((m->last_rotated ? m->last_rotated :
		    m->created) + m->rotate_every));
	} else {
		json_object_set_new(o, "rotate_every", json_null());
		json_object_set_new(o, "rotation_due_at", json_null());
	}
	json_object_set_new(o, "rotation_due",
	    json_boolean(vault_meta_rotation_due(m, now)));
	json_object_set_new(o, "last_rotated", time_or_null(m->last_rotated));
	json_object_set_new(o, "hosts", hosts);
	json_object_set_new(o, "labels", labels);
	return o;
}

const char *
vault_meta_label(const struct vault_meta *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i].key, key) == 0)
			return m->labels[i].value;
	return NULL;
}

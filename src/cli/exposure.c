/* Exposure: mark, end access, audit; and the end of it at rotation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlock/audit.h"
#include "airlock/client.h"
#include "auditcli.h"
#include "clientcli.h"
#include "exposure.h"
#include "vaultcli.h"

static const char *
label_get(const struct vault_meta *m, const char *k)
{
	size_t i;

	for (i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i].key, k) == 0)
			return m->labels[i].value;
	return NULL;
}

static void
label_drop(struct vault_meta *m, const char *k)
{
	size_t i;

	for (i = 0; i < m->nlabels; i++) {
		if (strcmp(m->labels[i].key, k) != 0)
			continue;
		free(m->labels[i].key);
		free(m->labels[i].value);
		m->labels[i] = m->labels[--m->nlabels];
		return;
	}
}

static int
label_set(struct vault_meta *m, const char *k, const char *v)
{
	struct vault_label *nl;
	char *kk, *vv;

	label_drop(m, k);
	if (m->nlabels >= VAULT_LIST_MAX)
		return AL_ETOOBIG;
	if ((nl = realloc(m->labels, (m->nlabels + 1) * sizeof(*nl))) == NULL)
		return AL_ENOMEM;
	m->labels = nl;
	kk = strdup(k);
	vv = strndup(v, VAULT_TEXT_MAX - 1);
	if (kk == NULL || vv == NULL) {
		free(kk);
		free(vv);
		return AL_ENOMEM;
	}
	nl[m->nlabels].key = kk;
	nl[m->nlabels].value = vv;
	m->nlabels++;
	return 0;
}

int
cli_exposure_label(struct vault_meta *m, int64_t now_ms, const char *where)
{
	char since[21];
	int rc;

	al_format_time(now_ms / 1000, since);
	m->status = VAULT_EXPOSED;
	if ((rc = label_set(m, CLI_EXPOSED_SINCE, since)) != 0)
		return rc;
	return label_set(m, CLI_EXPOSED_WHERE, where);
}

static int
audit_step(struct cli *cli, struct vault *v, const char *event,
    const char *name, const char *reason, json_t *detail, struct al_err *err)
{
	struct audit_event ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.outcome = "ok";
	ev.secret = name;
	ev.intent = "sweep";
	ev.reason = reason;
	ev.detail = detail;
	rc = cli_audit_record(cli, v, &ev, err);
	json_decref(detail);
	return rc;
}

/*
 * End access to name through the broker: revoke its live leases, deny its
 * pending approvals.  *nrev, *ndeny: how many.
 */
static int
end_access(struct client *cl, const char *name, int *nrev, int *ndeny,
    struct al_err *err)
{
	json_t *leases = NULL, *apprs = NULL, *it, *out = NULL;
	const char *sec, *st, *id;
	size_t i;
	int rc;

	*nrev = *ndeny = 0;
	if ((rc = client_leases(cl, &leases, err)) != 0)
		goto out;
	json_array_foreach(leases, i, it) {
		sec = json_string_value(json_object_get(it, "secret"));
		st = json_string_value(json_object_get(it, "state"));
		id = json_string_value(json_object_get(it, "id"));
		if (sec == NULL || id == NULL || strcmp(sec, name) != 0 ||
		    (st != NULL && strcmp(st, "live") != 0))
			continue;
		if ((rc = client_lease_revoke(cl, id, err)) != 0 &&
		    rc != AL_ENOENT && rc != AL_EEXPIRED)
			goto out;
		rc = 0;
		(*nrev)++;
	}
	if ((rc = client_approvals(cl, 0, &apprs, err)) != 0)
		goto out;
	json_array_foreach(apprs, i, it) {
		sec = json_string_value(json_object_get(it, "secret"));
		id = json_string_value(json_object_get(it, "id"));
		if (sec == NULL || id == NULL || strcmp(sec, name) != 0)
			continue;
		if ((rc = client_deny(cl, id, "the secret is exposed: rotate "
		    "it", &out, err)) != 0 && rc != AL_ENOENT)
			goto out;
		json_decref(out);
		out = NULL;
		rc = 0;
		(*ndeny)++;
	}
out:
	json_decref(leases);
	json_decref(apprs);
	return rc;
}

int
cli_exposure_mark(struct cli *cli, const struct sweep_hit *hits, size_t n,
    struct al_err *err)
{
	struct vault *v = NULL;
	struct client *cl = NULL;
	struct vault_meta m;
	int64_t t0, t1;
	size_t i, k;
	int rc = 0, nrev, ndeny;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < n && rc == 0; i++) {
		if (hits[i].kind != SWEEP_HIT_VALUE)
			continue;
		for (k = 0; k < i; k++)
			if (hits[k].kind == SWEEP_HIT_VALUE &&
			    strcmp(hits[k].name, hits[i].name) == 0)
				break;
		if (k < i)
			continue;	/* one exposure per secret */
		if (v == NULL && ((rc = cli_vault_open(cli, &v, err)) != 0 ||
		    (rc = cli_vault_unlock(v, -1, err)) != 0))
			break;
		if ((rc = vault_secret_get(v, hits[i].name, &m, err)) != 0)
			break;
		if (m.status == VAULT_EXPOSED && label_get(&m,
		    CLI_EXPOSED_SINCE) != NULL) {
			vault_meta_release(&m);
			continue;	/* keeps its first time */
		}
		t0 = cli->clock->now_ms(cli->clock->arg);
		if ((rc = cli_exposure_label(&m, t0, hits[i].path)) != 0) {
			rc = al_err_set(err, rc, "cannot label secret '%s'",
			    hits[i].name);
			break;
		}
		if ((rc = vault_secret_update(v, &m, err)) != 0)
			break;
		vault_meta_release(&m);
		fprintf(stderr, "airlock: sweep: secret '%s' is now exposed "
		    "(found in %s): rotate it with `airlock secret rotate %s`\n",
		    hits[i].name, hits[i].path, hits[i].name);
		if ((rc = audit_step(cli, v, "secret_exposed", hits[i].name,
		    "its value was found outside airlock", json_pack(
		    "{s:s, s:s, s:I}", "source", "sweep", "where",
		    hits[i].path, "since_ms", (json_int_t)t0), err)) != 0)
			break;
		if (cl == NULL && (rc = cli_client_open(cli, &cl, err)) != 0) {
			rc = al_err_set(err, rc, "secret '%s' is marked exposed "
			    "but its leases were not revoked: %s", hits[i].name,
			    err->msg);
			break;
		}
		if ((rc = end_access(cl, hits[i].name, &nrev, &ndeny,
		    err)) != 0)
			break;
		t1 = cli->clock->now_ms(cli->clock->arg);
		rc = audit_step(cli, v, "exposure_revoke", hits[i].name,
		    "access ended after an exposure", json_pack(
		    "{s:i, s:i, s:I, s:I}", "leases_revoked", nrev,
		    "approvals_denied", ndeny, "since_ms", (json_int_t)t0,
		    "time_to_revoke_ms", (json_int_t)(t1 - t0)), err);
	}
	vault_meta_release(&m);
	client_close(cl);
	vault_close(v);
	return rc;
}

int
cli_exposure_rotated(struct cli *cli, struct vault *v, const char *name,
    struct al_err *err)
{
	struct vault_meta m;
	const char *since;
	struct al_err e2;
	int64_t t0, now;
	int rc;

	if ((rc = vault_secret_get(v, name, &m, err)) != 0)
		return rc;
	if ((since = label_get(&m, CLI_EXPOSED_SINCE)) == NULL)
		goto out;
	now = cli->clock->now_ms(cli->clock->arg);
	if (al_parse_time(since, now / 1000, CLI_EXPOSED_SINCE, &t0, &e2) != 0)
		t0 = now / 1000;
	rc = audit_step(cli, v, "exposure_rotate", name, "rotated after an "
	    "exposure", json_pack("{s:I, s:I}", "since_ms",
	    (json_int_t)t0 * 1000, "time_to_rotate_ms",
	    (json_int_t)(now - t0 * 1000)), err);
	if (rc != 0)
		goto out;
	label_drop(&m, CLI_EXPOSED_SINCE);
	label_drop(&m, CLI_EXPOSED_WHERE);
	rc = vault_secret_update(v, &m, err);
out:
	vault_meta_release(&m);
	return rc;
}

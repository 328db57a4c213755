/* Exposure: mark, end access, audit; and the end of it at rotation. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/api.h"
#include "airlock/audit.h"
#include "airlock/broker.h"
#include "airlock/client.h"
#include "airlock/redact.h"
#include "auditcli.h"
#include "exposure.h"
#include "vaultcli.h"

/*
 * where as the broker takes it: printable (a control character becomes
 * '?'), cut on a character boundary to fit API_TEXT_MAX.
 */
static void
where_text(const char *where, char out[API_TEXT_MAX + 1])
{
	size_t n;

	(void)snprintf(out, API_TEXT_MAX + 1, "%s", where);
	n = strlen(out);
	if (strlen(where) > n)
		while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
			out[--n] = '\0';
	for (n = 0; out[n] != '\0'; n++)
		if ((unsigned char)out[n] < 0x20 || out[n] == 0x7f)
			out[n] = '?';
}

static int
audit_step(struct cli *cli, struct vault *v, const char *event,
    const char *name, const char *source, const char *reason, json_t *detail,
    struct al_err *err)
{
	struct audit_event ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.outcome = "ok";
	ev.secret = name;
	ev.intent = source;
	ev.reason = reason;
	ev.detail = detail;
	rc = cli_audit_record(cli, v, &ev, err);
	json_decref(detail);
	return rc;
}

/*
 * text (at most API_TEXT_MAX bytes) with every whole value of the
 * unlocked vault v replaced by CLIENT_TEXT_WITHHELD; all of it when the
 * values cannot be read.  What the broker would do to a text it records.
 */
static void
withhold_values(struct vault *v, char text[API_TEXT_MAX + 1])
{
	static const char mask[] = CLIENT_TEXT_WITHHELD;
	struct vault_meta *list = NULL;
	struct al_secret *val = NULL;
	struct al_err e2;
	const unsigned char *p;
	char *at;
	size_t n = 0, i, len, tl;

	if (v == NULL || vault_secret_list(v, &list, &n, &e2) != 0)
		goto all;
	for (i = 0; i < n; i++) {
		if (list[i].corrupt)
			continue;
		if (vault_secret_read(v, list[i].name, &val, NULL, &e2) != 0)
			goto all;
		len = al_secret_len(val);
		p = al_secret_open(val);
		while (len >= REDACT_VALUE_MIN && (tl = strlen(text)) >= len &&
		    (at = memmem(text, tl, p, len)) != NULL) {
			if (tl - len + sizeof(mask) - 1 > API_TEXT_MAX) {
				al_secret_close(val);
				goto all;
			}
			memmove(at + sizeof(mask) - 1, at + len,
			    tl - (size_t)(at - text) - len + 1);
			memcpy(at, mask, sizeof(mask) - 1);
		}
		al_secret_close(val);
		al_secret_free(val);
		val = NULL;
	}
	goto out;
all:
	(void)snprintf(text, API_TEXT_MAX + 1, "%s", mask);
out:
	al_secret_free(val);
	vault_meta_list_free(list, n);
}

/*
 * No broker runs, so no lease or approval is live: mark the secret here
 * with the broker's own labels and audit the two steps it would.
 */
static int
mark_here(struct cli *cli, const char *name, const char *where_in,
    const char *source_in, int may_prompt, struct cli_exposure *res,
    struct al_err *err)
{
	struct vault *v = NULL;
	struct vault_meta m;
	struct al_err uerr;
	char where[API_TEXT_MAX + 1], source[API_TEXT_MAX + 1];
	int64_t t0;
	int rc, unlocked = 0;

	memset(&m, 0, sizeof(m));
	al_err_clear(&uerr);
	if ((rc = cli_vault_open(cli, &v, err)) != 0)
		return rc;
	if ((rc = vault_secret_get(v, name, &m, err)) != 0)
		goto out;
	/*
	 * The audit key needs the vault unlocked, and so does checking where
	 * and source for values: unchecked, they are withheld whole.
	 */
	if (may_prompt || vault_key_kind(v) == VAULT_KEY_KIND_FILE)
		unlocked = cli_vault_unlock(v, -1, &uerr) == 0;
	else
		(void)al_err_set(&uerr, AL_EPERM, "secret '%s' is marked "
		    "exposed but not recorded in the audit log: the vault is "
		    "locked by a passphrase", name);
	(void)snprintf(where, sizeof(where), "%s", where_in);
	(void)snprintf(source, sizeof(source), "%s", source_in);
	withhold_values(unlocked ? v : NULL, where);
	withhold_values(unlocked ? v : NULL, source);
	t0 = cli->clock->now_ms(cli->clock->arg);
	res->first = m.status != VAULT_EXPOSED ||
	    vault_meta_label(&m, BROKER_EXPOSED_SINCE) == NULL;
	if (!res->first)
		goto out;
	if ((rc = broker_exposure_label(&m, t0, where)) != 0 ||
	    (rc = broker_label_set(&m, BROKER_EXPOSURE_REVOKE_MS, "0")) != 0) {
		rc = al_err_set(err, rc, "cannot label secret '%s'", name);
		goto out;
	}
	if ((rc = vault_secret_update(v, &m, err)) != 0)
		goto out;
	if (!unlocked) {
		*err = uerr;
		rc = uerr.code != 0 ? uerr.code : AL_EPERM;
		goto out;
	}
	if ((rc = audit_step(cli, v, "secret_exposed", name, source,
	    "its value was found outside airlock", json_pack("{s:s, s:s, "
	    "s:I, s:b}", API_F_SOURCE, source, API_F_WHERE, where, "since_ms",
	    (json_int_t)t0, "first", 1), err)) != 0)
		goto out;
	rc = audit_step(cli, v, "exposure_revoke", name, source, "access "
	    "ended after an exposure (no broker was running)", json_pack(
	    "{s:i, s:i, s:I, s:I}", "leases_revoked", 0, "approvals_denied",
	    0, "since_ms", (json_int_t)t0, API_F_TTR_MS, (json_int_t)0), err);
out:
	vault_meta_release(&m);
	vault_close(v);
	return rc;
}

int
cli_exposure_report(struct cli *cli, const char *name, const char *where,
    const char *source, int may_prompt, struct cli_exposure *res,
    struct al_err *err)
{
	return cli_exposure_report_proof(cli, name, where, source, NULL,
	    may_prompt, res, err);
}

int
cli_exposure_report_proof(struct cli *cli, const char *name,
    const char *where, const char *source, const char *proof, int may_prompt,
    struct cli_exposure *res, struct al_err *err)
{
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET") };
	struct client *cl = NULL;
	json_t *out = NULL;
	char w[API_TEXT_MAX + 1], src[API_TEXT_MAX + 1];
	int rc;

	memset(res, 0, sizeof(*res));
	where_text(where, w);
	where_text(source, src);
	/* Written here too when no broker runs: never a token-shaped part. */
	client_text_mask(w);
	client_text_mask(src);
	/*
	 * The broker holds the leases and approvals, so it ends them, in
	 * the same step that marks the secret.  None is started for this:
	 * with no broker there is nothing live to end.
	 */
	rc = client_open(&o, &cl, err);
	if (rc == AL_EUNAVAIL) {
		al_err_clear(err);
		rc = mark_here(cli, name, w, src, may_prompt, res, err);
		goto out;
	}
	if (rc != 0)
		goto out;
	if ((rc = client_exposure_report(cl, name, w, src, proof, &out,
	    err)) != 0)
		goto out;
	res->first = json_is_true(json_object_get(out, "first"));
	res->revoked = (size_t)json_integer_value(json_object_get(out,
	    API_F_REVOKED));
	res->denied = (size_t)json_integer_value(json_object_get(out,
	    API_F_DENIED));
out:
	json_decref(out);
	client_close(cl);
	return rc;
}

int
cli_known_values(struct cli *cli, struct redact *r, const char *who,
    int *checked, struct al_err *err)
{
	struct vault *v = NULL;
	struct vault_meta *list = NULL;
	struct al_secret *val = NULL;
	struct al_err e2;
	size_t n = 0, i;
	int rc;

	*checked = 0;
	al_err_clear(&e2);
	if ((rc = cli_vault_open(cli, &v, &e2)) != 0)
		goto skip;
	if (vault_key_kind(v) != VAULT_KEY_KIND_FILE) {
		rc = al_err_set(&e2, AL_EPERM, "the vault is locked by a "
		    "passphrase");
		goto skip;
	}
	if ((rc = cli_vault_unlock(v, -1, &e2)) != 0 ||
	    (rc = vault_secret_list(v, &list, &n, &e2)) != 0)
		goto skip;
	for (i = 0; i < n; i++) {
		if (list[i].corrupt || list[i].status == VAULT_REVOKED)
			continue;
		if ((rc = vault_secret_read(v, list[i].name, &val, NULL,
		    &e2)) != 0)
			goto skip;
		if (al_secret_len(val) >= REDACT_VALUE_MIN)
			rc = redact_add_value(r, list[i].name, val, err);
		else
			fprintf(stderr, "airlock: %s: secret '%s' is too "
			    "short to search for\n", who, list[i].name);
		al_secret_free(val);
		val = NULL;
		if (rc != 0)
			goto out;
	}
	*checked = 1;
	goto out;
skip:
	fprintf(stderr, "airlock: %s: known values were not checked (%s); "
	    "searching for rule hits only\n", who, e2.msg);
	rc = 0;
out:
	vault_meta_list_free(list, n);
	vault_close(v);
	return rc;
}

int
cli_exposure_mark(struct cli *cli, const char *who,
    const struct sweep_hit *hits, size_t n, const char *source,
    struct al_err *err)
{
	struct cli_exposure res;
	size_t i, k;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if (hits[i].kind != SWEEP_HIT_VALUE)
			continue;
		for (k = 0; k < i; k++)
			if (hits[k].kind == SWEEP_HIT_VALUE &&
			    strcmp(hits[k].name, hits[i].name) == 0)
				break;
		if (k < i)
			continue;	/* one exposure per secret */
		if ((rc = cli_exposure_report(cli, hits[i].name, hits[i].path,
		    source, 1, &res, err)) != 0)
			break;
		if (res.first)
			fprintf(stderr, "airlock: %s: secret '%s' is now "
			    "exposed (found in %s): rotate it with `airlock "
			    "secret rotate %s`\n", who, hits[i].name,
			    hits[i].path, hits[i].name);
		if (res.revoked > 0 || res.denied > 0)
			fprintf(stderr, "airlock: %s: %zu lease%s of '%s' "
			    "revoked, %zu approval%s denied\n", who,
			    res.revoked,
			    res.revoked == 1 ? "" : "s", hits[i].name,
			    res.denied, res.denied == 1 ? "" : "s");
	}
	return rc;
}

int
cli_exposure_rotated(struct cli *cli, struct vault *v, const char *name,
    struct al_err *err)
{
	struct vault_meta m;
	const char *since;
	struct al_err e2;
	int64_t t0, now, ttr;
	char ms[24];
	int rc;

	if ((rc = vault_secret_get(v, name, &m, err)) != 0)
		return rc;
	if ((since = vault_meta_label(&m, BROKER_EXPOSED_SINCE)) == NULL)
		goto out;
	now = cli->clock->now_ms(cli->clock->arg);
	if (al_parse_time(since, now / 1000, BROKER_EXPOSED_SINCE, &t0,
	    &e2) != 0)
		t0 = now / 1000;
	ttr = now > t0 * 1000 ? now - t0 * 1000 : 0;
	rc = audit_step(cli, v, "exposure_rotate", name, "rotate", "rotated "
	    "after an exposure", json_pack("{s:I, s:I}", "since_ms",
	    (json_int_t)t0 * 1000, "time_to_rotate_ms", (json_int_t)ttr), err);
	if (rc != 0)
		goto out;
	broker_label_drop(&m, BROKER_EXPOSED_SINCE);
	broker_label_drop(&m, BROKER_EXPOSED_WHERE);
	(void)snprintf(ms, sizeof(ms), "%lld", (long long)ttr);
	if ((rc = broker_label_set(&m, BROKER_EXPOSURE_ROTATE_MS, ms)) != 0) {
		rc = al_err_set(err, rc, "cannot label secret '%s'", name);
		goto out;
	}
	rc = vault_secret_update(v, &m, err);
out:
	vault_meta_release(&m);
	return rc;
}

int
cli_sweep_git(struct sweep *s, char *const argv[],
    int (*search)(struct sweep *, int, const char *, struct al_err *),
    const char *label, int *ok, struct al_err *err)
{
	int pfd[2], st = 0, rc;
	pid_t pid, w;

	*ok = 0;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return al_err_set(err, AL_ESYS, "pipe: %s", strerror(errno));
	if ((pid = fork()) < 0) {
		rc = errno;
		close(pfd[0]);
		close(pfd[1]);
		return al_err_set(err, AL_ESYS, "fork: %s", strerror(rc));
	}
	if (pid == 0) {
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp("git", argv);
		_exit(127);
	}
	close(pfd[1]);
	rc = search(s, pfd[0], label, err);
	close(pfd[0]);
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	*ok = w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return rc;
}

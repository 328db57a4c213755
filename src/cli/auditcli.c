/* Recording and reading the audit log from a command. */
#include <string.h>
#include <unistd.h>

#include "airlock/identity.h"
#include "auditcli.h"

int
cli_audit_path(const struct cli *cli, char *out, size_t outsz,
    struct al_err *err)
{
	if (al_path_join(out, outsz, cli->home, AUDIT_LOG_FILE) != 0)
		return al_err_set(err, AL_ETOOBIG, "state directory path is "
		    "too long");
	return 0;
}

int
cli_audit_key(struct vault *v, struct al_secret **out, struct al_err *err)
{
	return vault_aux_key(v, "audit", out, err);
}

int
cli_audit_record(struct cli *cli, struct vault *v,
    const struct audit_event *ev, struct al_err *err)
{
	char path[PATH_MAX];
	struct audit_event e = *ev;
	struct audit_log *log = NULL;
	struct al_secret *key = NULL;
	struct ident *id = NULL;
	json_t *caller = NULL;
	int rc;

	if ((rc = cli_audit_path(cli, path, sizeof(path), err)) != 0 ||
	    (rc = cli_audit_key(v, &key, err)) != 0 ||
	    (rc = audit_open(path, key, cli->clock, &log, err)) != 0)
		goto out;
	if (e.caller == NULL && ident_from_pid(getpid(), NULL,
	    IDENT_F_NO_HASH, &id, NULL) == 0)
		e.caller = caller = ident_to_json(id, IDENT_JSON_SUMMARY);
	rc = audit_append(log, &e, NULL, err);
out:
	json_decref(caller);
	ident_free(id);
	audit_close(log);
	al_secret_free(key);
	return rc;
}

int
cli_audit_secret(struct cli *cli, struct vault *v, const char *event,
    const char *name, struct al_secret *value, struct al_err *err)
{
	struct audit_event ev;
	struct al_secret *key = NULL;
	char fp[AUDIT_FP_HEX];
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.outcome = "ok";
	ev.secret = name;
	if (value != NULL) {
		if ((rc = cli_audit_key(v, &key, err)) != 0)
			goto out;
		rc = audit_value_fingerprint(key, value, fp);
		if (rc != 0)
			goto out;
		ev.value_fp = fp;
	}
	rc = cli_audit_record(cli, v, &ev, err);
out:
	al_secret_free(key);
	if (rc != 0 && err != NULL) {
		char why[AL_ERR_MSG_MAX];

		(void)snprintf(why, sizeof(why), "%s", err->msg);
		(void)al_err_set(err, rc, "'%s' was %s, but the audit log "
		    "could not record it: %s", name, strcmp(event,
		    "secret_add") == 0 ? "added" : strcmp(event,
		    "secret_rotate") == 0 ? "rotated" : strcmp(event,
		    "secret_rm") == 0 ? "removed" : "changed", why);
	}
	return rc;
}

/* Vault access shared by the commands that use it directly. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include "input.h"
#include "vaultcli.h"

int
cli_vault_open(struct cli *cli, struct vault **out, struct al_err *err)
{
	return vault_open(cli->home, cli->clock, out, err);
}

int
cli_vault_unlock(struct vault *v, int passfd, struct al_err *err)
{
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	int rc;

	if (vault_key_kind(v) == VAULT_KEY_KIND_FILE)
		return vault_unlock(v, &key, err);
	key.kind = VAULT_KEY_KIND_PASSPHRASE;
	if ((rc = cli_read_passphrase("Vault passphrase: ", passfd, 0,
	    &key.passphrase, err)) != 0)
		return rc;
	rc = vault_unlock(v, &key, err);
	al_secret_free(key.passphrase);
	return rc;
}

int
cli_parse_fd(const char *s, const char *field, int *out, struct al_err *err)
{
	long long v;
	int rc;

	*out = -1;
	if ((rc = al_parse_int(s, 0, 1 << 20, field, &v, err)) != 0)
		return rc;
	if (fcntl((int)v, F_GETFD) < 0)
		return al_err_set(err, AL_EINVAL, "%s: descriptor %lld is not "
		    "open", field, v);
	*out = (int)v;
	return 0;
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
cli_meta_json(const struct vault_meta *m, int64_t now)
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

int
cli_print_json(json_t *j)
{
	char *s;

	if (j == NULL)
		return cli_failf("out of memory");
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s == NULL)
		return cli_failf("out of memory");
	(void)puts(s);
	free(s);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_failf("cannot write "
	    "to stdout");
}

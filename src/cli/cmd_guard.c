/*
 * airlock guard: the reverse proxy of src/guard, fed with the values the
 * caller may mask (leased from the broker as `redact` does) and auditing
 * through the vault as the agent hooks do.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "airlock/api.h"
#include "airlock/client.h"
#include "airlock/guard.h"
#include "airlock/identity.h"
#include "airlock/redact.h"
#include "airlock/vault.h"
#include "auditcli.h"
#include "cli.h"
#include "clientcli.h"
#include "exposure.h"
#include "rules.h"
#include "vaultcli.h"

const char cmd_guard_help[] =
"usage: airlock guard --upstream URL [--listen 127.0.0.1:PORT] [--block]\n"
"                     [--no-rules] [--refresh DURATION]\n"
"\n"
"Serve a local reverse proxy for a model provider's API (point the agent's\n"
"ANTHROPIC_BASE_URL or OPENAI_BASE_URL at it).  Every string in a request\n"
"body is searched for the live secret values the caller may use (in every\n"
"encoding `redact` knows, and as JSON \\u escapes spell them) and for the\n"
"scanner's rules; each is replaced by [REDACTED:<name>] inside the\n"
"original bytes, which are otherwise sent unchanged.  Headers pass\n"
"unchanged; responses, streamed ones included, come back as they arrive.\n"
"Without --listen a free port is chosen; the first line on stdout is the\n"
"address served.\n"
"\n"
"Options:\n"
"  --upstream URL      the provider, https:// (http:// to a loopback host)\n"
"  --listen ADDR:PORT  a loopback address to serve (default: a free port)\n"
"  --block             refuse a request that carries a secret instead of\n"
"                      masking it\n"
"  --no-rules          mask known values only, not scanner rule hits\n"
"  --refresh DURATION  how often new and rotated secrets are picked up\n"
"                      (default 5s)\n"
"  -h, --help          show this help\n"
"\n"
"AIRLOCK_UPSTREAM_CA_FILE names extra CA certificates for the upstream.\n"
"A request that cannot be masked (a secret in a signed thinking block, or\n"
"outside any string), or one over 32 MiB, is refused with an error in the\n"
"provider's shape; so is every request while the values cannot be loaded\n"
"or the audit log cannot be written.  See docs/commands/guard.md.\n";

#define GUARD_HELD_MAX	1024
#define GUARD_RETRY_EVERY 12	/* refreshes between asking for refused ones */

/* A value the guard masks: leased once per version, kept in guarded memory. */
struct held {
	char			 name[VAULT_NAME_MAX + 1];
	json_int_t		 version;
	struct al_secret	*value;
};

struct guard_cli {
	struct cli		*cli;
	struct client		*cl;
	struct scan_engine	*rules;		/* NULL: --no-rules */
	struct held		 held[GUARD_HELD_MAX];
	size_t			 nheld;
	unsigned char		 fp[crypto_generichash_BYTES];
	int			 have_fp;
	int			 quiet;		/* refreshes with the list unchanged */
	struct vault		*v;		/* for audits, once opened */
	pthread_mutex_t		 vlock;		/* v: audits and loads */
	json_t			*caller;	/* this process, for audits */
};

static int audit_vault(struct guard_cli *gc, struct al_err *err);
static int take_vault(struct guard_cli *gc, const char *name,
    json_int_t version, int approval, struct al_err *err);

static struct held *
find_held(struct guard_cli *gc, const char *name, json_int_t version)
{
	size_t i;

	for (i = 0; i < gc->nheld; i++)
		if (gc->held[i].version == version &&
		    strcmp(gc->held[i].name, name) == 0)
			return &gc->held[i];
	return NULL;
}

/* Lease one version of a secret for its value; 0 also when refused. */
static int
take(struct guard_cli *gc, const char *name, json_int_t version,
    struct al_err *err)
{
	struct client_lease_req req;
	struct client_lease lease;
	struct al_secret *v = NULL;
	struct al_err e2;
	struct held *h;
	int rc;

	if (gc->nheld >= GUARD_HELD_MAX)
		return al_err_set(err, AL_ETOOBIG, "more than %d secret values",
		    GUARD_HELD_MAX);
	memset(&req, 0, sizeof(req));
	req.secret = name;
	req.intent = "redact";
	req.bind = 1;
	al_err_clear(&e2);
	rc = client_lease_and_fetch(gc->cl, &req, 0, &lease, &v, &e2);
	/*
	 * A secret that needs an approval is masked all the same (as the
	 * broker's own redaction does): a mask releases nothing, and the value
	 * may be in the agent's context by another path.  The lease request
	 * waits for an approver, but this version is held once read, so it is
	 * not asked for again.
	 */
	if (rc == AL_EPENDING)
		return take_vault(gc, name, version, 1, err);
	if (rc == AL_EDENIED || rc == AL_ENOENT || rc == AL_EEXPIRED)
		return 0;	/* what policy refuses is not masked */
	if (rc != 0)
		return al_err_set(err, rc, "secret '%s': %s", name, e2.msg);
	/* Best effort: the lease is bound to this connection anyway. */
	if (client_lease_revoke(gc->cl, lease.id, NULL) != 0)
		al_err_clear(&e2);
	if (al_secret_len(v) < REDACT_VALUE_MIN) {
		al_secret_free(v);
		return al_err_set(err, AL_EINVAL, "secret '%s' is shorter than "
		    "%d bytes: it cannot be masked without masking ordinary "
		    "text", name, REDACT_VALUE_MIN);
	}
	h = &gc->held[gc->nheld++];
	(void)snprintf(h->name, sizeof(h->name), "%s", name);
	h->version = version;
	h->value = v;
	return 0;
}

static const char *
str_or(const json_t *j)
{
	const char *s = json_string_value(j);

	return s != NULL ? s : "";
}

/*
 * An exposed secret is no longer leased, but until it is rotated its value
 * is live and must still be masked -- all the more since it is in the
 * agent's context already: it is read from the vault itself, as the agent
 * hooks do, when this user can unlock it without a prompt (master.key).
 * When it cannot be read (a vault of another user, or one locked by a
 * passphrase), the load fails and the guard refuses every request (503)
 * rather than forward a value it cannot mask, until the secret is rotated
 * (`airlock secret rotate` ends the exposure) or deleted.  A secret that
 * needs an approval (approval) is read the same way.
 */
static int
take_vault(struct guard_cli *gc, const char *name, json_int_t version,
    int approval, struct al_err *err)
{
	struct al_secret *v = NULL;
	struct al_err e2;
	struct held *h;
	int rc;

	if (gc->nheld >= GUARD_HELD_MAX)
		return al_err_set(err, AL_ETOOBIG, "more than %d secret values",
		    GUARD_HELD_MAX);
	al_err_clear(&e2);
	pthread_mutex_lock(&gc->vlock);
	rc = audit_vault(gc, &e2);
	if (rc == 0)
		rc = vault_secret_read(gc->v, name, &v, NULL, &e2);
	pthread_mutex_unlock(&gc->vlock);
	if (rc == AL_ENOENT)
		return 0;	/* deleted since the list: nothing to mask */
	if (rc != 0 && approval)
		return al_err_set(err, AL_EUNAVAIL, "secret '%s' needs an "
		    "approval to be leased and its value cannot be read here "
		    "to mask it (%s); nothing is forwarded while it is live",
		    name, e2.msg);
	if (rc != 0)
		return al_err_set(err, AL_EUNAVAIL, "secret '%s' is marked "
		    "exposed and its value cannot be read here to mask it "
		    "(%s); nothing is forwarded until it is rotated (`airlock "
		    "secret rotate %s`)", name, e2.msg, name);
	if (al_secret_len(v) < REDACT_VALUE_MIN) {
		al_secret_free(v);
		return al_err_set(err, AL_EINVAL, "secret '%s' is shorter than "
		    "%d bytes: it cannot be masked without masking ordinary "
		    "text", name, REDACT_VALUE_MIN);
	}
	h = &gc->held[gc->nheld++];
	(void)snprintf(h->name, sizeof(h->name), "%s", name);
	h->version = version;
	h->value = v;
	return 0;
}

/* What decides whether values must be fetched again. */
static void
fingerprint(json_t *list, unsigned char fp[crypto_generichash_BYTES])
{
	crypto_generichash_state st;
	json_t *it;
	size_t i;
	char buf[256];
	int n;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	json_array_foreach(list, i, it) {
		n = snprintf(buf, sizeof(buf), "%s\n%lld\n%s\n%s\n",
		    str_or(json_object_get(it, "name")),
		    (long long)json_integer_value(json_object_get(it,
		    "version")),
		    str_or(json_object_get(it, "updated")),
		    str_or(json_object_get(it, "status")));
		if (n > 0)
			crypto_generichash_update(&st, (unsigned char *)buf,
			    (size_t)n < sizeof(buf) ? (size_t)n :
			    sizeof(buf) - 1);
	}
	crypto_generichash_final(&st, fp, crypto_generichash_BYTES);
}

/*
 * The guard's load callback.  A version already held is not leased again
 * (no lease per refresh); a value once held stays masked for the life of
 * the guard, even after rotation, expiry or its being marked exposed
 * (the broker then refuses to lease it, but its old value must still never
 * reach the provider).
 */
static int
load(void *arg, struct guard_sets *out, struct al_err *err)
{
	struct guard_cli *gc = arg;
	unsigned char fp[crypto_generichash_BYTES];
	struct redact *mask = NULL, *check = NULL;
	json_t *list = NULL, *it;
	const char *name;
	json_int_t ver;
	size_t i, held;
	int rc, same;

	memset(out, 0, sizeof(*out));
	if ((rc = client_secrets(gc->cl, &list, err)) != 0)
		return rc;
	fingerprint(list, fp);
	same = gc->have_fp && sodium_memcmp(fp, gc->fp, sizeof(fp)) == 0;
	/*
	 * An unchanged list needs no lease, except now and then: a secret the
	 * policy refused may be granted since (a new policy), and the only
	 * way to know is to ask again.
	 */
	if (same && ++gc->quiet < GUARD_RETRY_EVERY) {
		json_decref(list);
		return 0;
	}
	gc->quiet = 0;
	held = gc->nheld;
	json_array_foreach(list, i, it) {
		name = json_string_value(json_object_get(it, "name"));
		ver = json_integer_value(json_object_get(it, "version"));
		if (name == NULL || find_held(gc, name, ver) != NULL)
			continue;
		if (strcmp(str_or(json_object_get(it, "status")), "exposed") ==
		    0)
			rc = take_vault(gc, name, ver, 0, err);
		else
			rc = take(gc, name, ver, err);
		if (rc != 0)
			goto out;
	}
	if (same && gc->nheld == held)
		goto out;	/* nothing new: keep the compiled sets */
	if ((rc = redact_new(&mask, err)) != 0 ||
	    (rc = redact_new(&check, err)) != 0)
		goto out;
	for (i = 0; i < gc->nheld; i++)
		if ((rc = redact_add_value(mask, gc->held[i].name,
		    gc->held[i].value, err)) != 0 ||
		    (rc = redact_add_value(check, gc->held[i].name,
		    gc->held[i].value, err)) != 0)
			goto out;
	if ((gc->rules != NULL && (rc = redact_use_scan(mask, gc->rules,
	    err)) != 0) || (rc = redact_compile(mask, err)) != 0 ||
	    (rc = redact_compile(check, err)) != 0)
		goto out;
	out->mask = mask;
	out->check = check;
	mask = check = NULL;
	memcpy(gc->fp, fp, sizeof(fp));
	gc->have_fp = 1;
out:
	redact_free(mask);
	redact_free(check);
	json_decref(list);
	return rc;
}

/*
 * The vault, opened and unlocked on the first audit and kept: opening it
 * and deriving the audit key for every masked request cost more than the
 * masking.  Any error closes it, so the next audit opens it afresh.
 */
static int
audit_vault(struct guard_cli *gc, struct al_err *err)	/* under vlock */
{
	int rc;

	if (gc->v != NULL)
		return 0;
	if ((rc = cli_vault_open(gc->cli, &gc->v, err)) != 0)
		return rc;
	if (vault_key_kind(gc->v) != VAULT_KEY_KIND_FILE)
		rc = al_err_set(err, AL_EPERM, "the vault is locked by a "
		    "passphrase, so the guard cannot write the audit log");
	else
		rc = cli_vault_unlock(gc->v, -1, err);
	if (rc != 0) {
		vault_close(gc->v);
		gc->v = NULL;
	}
	return rc;
}

/*
 * Report each secret found as exposed (it had reached the agent's context),
 * which ends its access at once; one already exposed keeps its first time.
 */
static int
mark_exposed(struct guard_cli *gc, const char *endpoint,
    const struct guard_findings *f, struct al_err *err)
{
	struct cli_exposure res;
	struct vault_meta m;
	char where[API_TEXT_MAX + 8];	/* cut to API_TEXT_MAX when sent */
	size_t i;
	int rc, known;

	(void)snprintf(where, sizeof(where), "guard %s", endpoint);
	for (i = 0; i < f->nhits; i++) {
		if (f->hits[i].rule)
			continue;
		if ((rc = vault_secret_get(gc->v, f->hits[i].name, &m, err))) {
			if (rc == AL_ENOENT)	/* removed since */
				continue;
			return rc;
		}
		known = m.status == VAULT_EXPOSED &&
		    vault_meta_label(&m, BROKER_EXPOSED_SINCE) != NULL;
		vault_meta_release(&m);
		if (!known && (rc = cli_exposure_report(gc->cli,
		    f->hits[i].name, where, "guard", 0, &res, err)) != 0)
			return rc;
	}
	return 0;
}

/*
 * The guard's audit callback: as the agent hooks do, each secret found is
 * marked exposed, and the request is recorded -- one event per secret (so
 * `airlock audit` finds it by the secret's name), or one for rule hits
 * alone -- by name and count, never by value.  The lines are durable (one
 * sync) before the request goes out.
 */
static int
audit(void *arg, const char *path_in, const struct guard_findings *f,
    int refused, struct al_err *err)
{
	struct guard_cli *gc = arg;
	struct audit_log *log = NULL;
	struct al_secret *key = NULL;
	struct audit_event ev;
	json_t *detail = NULL, *rules = NULL;
	char path[PATH_MAX], endpoint[API_TEXT_MAX + 1];
	size_t i, nsec = 0;
	int rc;

	/* The agent chose the path: never a token-shaped part of it. */
	(void)snprintf(endpoint, sizeof(endpoint), "%s", path_in);
	client_text_mask(endpoint);

	pthread_mutex_lock(&gc->vlock);
	if ((rc = audit_vault(gc, err)) != 0) {
		pthread_mutex_unlock(&gc->vlock);
		return rc;
	}
	if ((rc = mark_exposed(gc, endpoint, f, err)) != 0)
		goto out;
	if ((rules = json_array()) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < f->nhits; i++)
		if (f->hits[i].rule)
			json_array_append_new(rules,
			    json_string(f->hits[i].name));
		else
			nsec++;
	if ((rc = cli_audit_path(gc->cli, path, sizeof(path), err)) != 0 ||
	    (rc = cli_audit_key(gc->v, &key, err)) != 0 ||
	    (rc = audit_open(path, key, gc->cli->clock, &log, err)) != 0)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.event = "egress_masked";
	ev.outcome = refused ? "denied" : "ok";
	ev.intent = "guard";
	ev.caller = gc->caller;
	for (i = 0; i < f->nhits || (nsec == 0 && i == 0); i++) {
		if (i < f->nhits && f->hits[i].rule)
			continue;
		json_decref(detail);
		detail = json_pack("{s:s, s:I, s:I, s:O, s:b}", "endpoint",
		    endpoint, "masks", (json_int_t)f->masks, "count",
		    (json_int_t)(i < f->nhits ? f->hits[i].count : 0),
		    "rules", rules, "refused", refused);
		if (detail == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		ev.detail = detail;
		ev.secret = i < f->nhits ? f->hits[i].name : NULL;
		ev.reason = ev.secret != NULL ? "its value was in a request to "
		    "the model provider" : "a hardcoded secret in a request to "
		    "the model provider";
		if ((rc = audit_append_nosync(log, &ev, NULL, err)) != 0)
			goto out;
	}
	rc = audit_sync(log, NULL, err);
out:
	audit_close(log);
	al_secret_free(key);
	json_decref(detail);
	json_decref(rules);
	if (rc != 0) {
		vault_close(gc->v);
		gc->v = NULL;
	}
	pthread_mutex_unlock(&gc->vlock);
	return rc;
}

/*
 * The guard's report callback: its counts go to the broker's /metrics, over
 * the connection the values come through (both on guard_run's thread).
 */
static int
report(void *arg, const struct guard_counts *c, struct al_err *err)
{
	struct guard_cli *gc = arg;
	json_t *body = NULL, *req = NULL, *masks = NULL;
	size_t i;
	int rc = 0;

	if ((body = json_object()) == NULL || (req = json_object()) == NULL ||
	    (masks = json_array()) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < GUARD_NOUTCOMES; i++)
		if (c->requests[i] > 0)
			rc |= json_object_set_new(req, guard_outcome_names[i],
			    json_integer((json_int_t)c->requests[i]));
	for (i = 0; i < c->nmasks; i++)
		rc |= json_array_append_new(masks, json_pack("{s:s,s:b,s:I}",
		    "name", c->masks[i].name, "rule", c->masks[i].rule,
		    "count", (json_int_t)c->masks[i].count));
	rc |= json_object_set(body, "requests", req);
	rc |= json_object_set(body, "masks", masks);
	rc |= json_object_set_new(body, "other_masks",
	    json_integer((json_int_t)c->other_masks));
	if (rc != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	rc = client_guard_counts(gc->cl, body, err);
out:
	json_decref(body);
	json_decref(req);
	json_decref(masks);
	return rc;
}

static int
stop_fd(struct al_err *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Before any thread starts, so every thread inherits the mask. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (fd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		return al_err_set(err, AL_ESYS, "signalfd: %s",
		    strerror(errno));
	return fd;
}

int
cmd_guard(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "listen", required_argument, NULL, 'l' },
		{ "block", no_argument, NULL, 'b' },
		{ "no-rules", no_argument, NULL, 'n' },
		{ "refresh", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct guard_config cfg;
	struct guard_cli *gc = NULL;
	struct guard *g = NULL;
	struct ident *id = NULL;
	struct al_err err;
	int64_t ms;
	size_t i;
	int c, no_rules = 0, rc = 0, fd = -1, status = CLI_EXIT_FAIL;

	al_err_clear(&err);
	memset(&cfg, 0, sizeof(cfg));
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			cfg.upstream = optarg;
			break;
		case 'l':
			cfg.listen = optarg;
			break;
		case 'b':
			cfg.block = 1;
			break;
		case 'n':
			no_rules = 1;
			break;
		case 'r':
			if (al_parse_duration_ms(optarg, "--refresh", &ms,
			    &err) != 0)
				return cli_usage("guard", "%s", err.msg);
			cfg.refresh_ms = ms > 3600000 ? 3600000 : (int)ms;
			break;
		case 'h':
			return cli_print_help("guard", stdout);
		default:
			return cli_bad_option("guard", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("guard", "unexpected argument '%s'",
		    argv[optind]);
	if (cfg.upstream == NULL)
		return cli_usage("guard", "--upstream URL is required (the "
		    "provider's API, e.g. https://api.anthropic.com)");
	if ((gc = calloc(1, sizeof(*gc))) == NULL)
		return cli_failf("out of memory");
	gc->cli = cli;
	pthread_mutex_init(&gc->vlock, NULL);
	if (ident_from_pid(getpid(), NULL, IDENT_F_NO_HASH, &id, NULL) == 0)
		gc->caller = ident_to_json(id, IDENT_JSON_SUMMARY);
	ident_free(id);
	cfg.ca_file = getenv("AIRLOCK_UPSTREAM_CA_FILE");
	if (cfg.ca_file != NULL && *cfg.ca_file == '\0')
		cfg.ca_file = NULL;
	if (cfg.ca_file != NULL && access(cfg.ca_file, R_OK) != 0) {
		rc = al_err_set(&err, AL_EINVAL, "AIRLOCK_UPSTREAM_CA_FILE: "
		    "cannot read '%s': %s", cfg.ca_file, strerror(errno));
		goto out;
	}
	cfg.load = load;
	cfg.load_arg = gc;
	cfg.audit = audit;
	cfg.audit_arg = gc;
	cfg.report = report;
	cfg.report_arg = gc;
	if ((fd = stop_fd(&err)) < 0) {
		rc = fd;
		goto out;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if ((rc = cli_client_open(cli, &gc->cl, &err)) != 0 ||
	    (!no_rules && (rc = cli_redact_rules(&gc->rules, &err)) != 0) ||
	    (rc = guard_new(&cfg, &g, &err)) != 0)
		goto out;
	printf("http://%s\n", guard_address(g));
	if (fflush(stdout) != 0) {
		rc = al_err_set(&err, AL_EIO, "cannot write stdout");
		goto out;
	}
	fprintf(stderr, "airlock guard: serving http://%s for %s%s\n",
	    guard_address(g), cfg.upstream, cfg.block ? " (blocking)" : "");
	if ((rc = guard_run(g, fd, &err)) != 0)
		goto out;
	status = CLI_EXIT_OK;
out:
	if (rc != 0)
		status = cli_fail(&err);
	guard_free(g);
	if (gc != NULL) {
		for (i = 0; i < gc->nheld; i++)
			al_secret_free(gc->held[i].value);
		scan_engine_free(gc->rules);
		client_close(gc->cl);
		vault_close(gc->v);
		json_decref(gc->caller);
		pthread_mutex_destroy(&gc->vlock);
		free(gc);
	}
	if (fd >= 0)
		close(fd);
	return status;
}

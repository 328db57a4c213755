/* airlock doctor: report permissions, hardening and deployment. */
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/exec.h"
#include "airlock/identity.h"
#include "airlock/audit.h"
#include "airlock/client.h"
#include "airlock/engine.h"
#include "airlock/policy.h"
#include "airlock/vault.h"
#include "auditcli.h"
#include "cli.h"
#include "rotatecmd.h"
#include "vaultcli.h"

const char cmd_doctor_help[] =
"usage: airlock doctor [--json] [--passphrase-fd N]\n"
"\n"
"Check what airlock depends on and say what to fix:\n"
"  state     $AIRLOCK_HOME exists, is yours and mode 0700\n"
"  vault     the vault database is yours and mode 0600\n"
"  key       master.key (if used) is yours and mode 0600\n"
"  coredump  core dumps are off and the process is not dumpable\n"
"  records   every secret's record opens (authenticates) with the key; a\n"
"            tampered or corrupted record is named\n"
"  mlock     secret memory can be locked out of swap\n"
"  deploy    same-user (the agent's user can read the vault key) or a\n"
"            separate broker user (see docs/deploy.md)\n"
"  isolate   how `airlock run` keeps a command's processes from outliving\n"
"            it: a PID namespace the kernel ends even if airlock is killed,\n"
"            or only airlock's own cleanup (which `kill -9` skips)\n"
"  identity  what a broker running as this user can read of its callers:\n"
"            without root or CAP_SYS_PTRACE, rules on executables,\n"
"            ancestors and repositories count against other users'\n"
"            processes; whether the kernel names who holds a connection\n"
"  netns     `run --proxy` can give a command a network namespace whose\n"
"            only way out is the proxy (see docs/proxy.md)\n"
"  policy    policy.yaml is private and valid (or absent: the default)\n"
"  broker    whether a broker runs, its version, and whether it refused\n"
"            an edited policy\n"
"  audit     the audit log verifies (hash chain and head)\n"
"  revoke    dynamic credentials whose lease ended but which are not\n"
"            destroyed yet (queued for revocation, retried): a warning\n"
"\n"
"Options:\n"
"  --json             one JSON object: {\"ok\": bool, \"checks\": [...]}\n"
"  --passphrase-fd N  read the vault passphrase from descriptor N so the\n"
"                     records of a passphrase vault can be checked too\n"
"  -h, --help         show this help\n"
"\n"
"Exit status: 0 no problem (warnings allowed), 1 a check failed, 2 error.\n";

enum level { LV_OK, LV_WARN, LV_FAIL };

struct report {
	json_t	*checks;
	int	 failed;
};

static void
add(struct report *r, const char *name, enum level lv, const char *fmt, ...)
    AL_PRINTF(4, 5);

static void
add(struct report *r, const char *name, enum level lv, const char *fmt, ...)
{
	static const char *const lvname[] = { "ok", "warn", "fail" };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);	/* may truncate */
	va_end(ap);
	if (lv == LV_FAIL)
		r->failed = 1;
	json_array_append_new(r->checks, json_pack("{s:s, s:s, s:s}", "check",
	    name, "status", lvname[lv], "message", msg));
}

static void
check_file(struct report *r, const char *name, const char *path, int dir,
    const char *missing)
{
	struct al_err err;
	int rc;

	rc = al_fs_check_private(path, dir, &err);
	if (rc == 0)
		add(r, name, LV_OK, "%s is private", path);
	else if (rc == AL_ENOENT)
		add(r, name, missing ? LV_WARN : LV_OK, "%s", missing ?
		    missing : "not used");
	else
		add(r, name, LV_FAIL, "%s", err.msg);
}

/* The audit log verifies; needs the unlocked vault (its audit key). */
static void
check_audit(struct report *r, struct cli *cli, struct vault *v)
{
	struct audit_report rep;
	struct al_secret *key = NULL;
	struct al_err err;
	char path[PATH_MAX];

	al_err_clear(&err);
	if (cli_audit_path(cli, path, sizeof(path), &err) != 0 ||
	    cli_audit_key(v, &key, &err) != 0 ||
	    audit_verify(path, key, &rep, &err) != 0) {
		if (err.code == AL_ENOENT)
			add(r, "audit", LV_OK, "no audit log yet");
		else
			add(r, "audit", LV_FAIL, "%s", err.msg);
	} else if (rep.problem == AUDIT_INTACT)
		add(r, "audit", LV_OK, "%s verifies: %llu line%s", path,
		    (unsigned long long)rep.lines, rep.lines == 1 ? "" : "s");
	else
		add(r, "audit", LV_FAIL, "%s: %s (see `airlock audit verify`)",
		    path, rep.message);
	al_secret_free(key);
}

/* policy.yaml: private and valid, or absent (the built-in default). */
static void
check_policy(struct report *r, struct cli *cli)
{
	struct policy *p = NULL;
	struct al_err err;
	char path[PATH_MAX];
	int rc;

	al_err_clear(&err);
	if (al_path_join(path, sizeof(path), cli->home, POLICY_FILE) != 0)
		return;
	rc = policy_load_file(path, &p, &err);
	if (rc == AL_ENOENT)
		add(r, "policy", LV_OK, "no %s: the built-in default policy is "
		    "in force (`airlock policy show`)", path);
	else if (rc != 0)
		add(r, "policy", LV_FAIL, "%s", err.msg);
	else
		add(r, "policy", LV_OK, "%s is private and valid (%zu rule%s)",
		    path, policy_nrules(p), policy_nrules(p) == 1 ? "" : "s");
	policy_free(p);
}

struct revq {
	size_t		 n;
	char		 first[512];
	int64_t		 oldest_ms;
};

static void
revq_one(const struct engine_cred *c, void *arg)
{
	struct revq *q = arg;

	if (q->n++ == 0) {
		(void)snprintf(q->first, sizeof(q->first), "secret %s, role "
		    "%s, %d attempt%s%s%s", c->secret, c->role, c->attempts,
		    c->attempts == 1 ? "" : "s", c->error[0] ? ": " : "",
		    c->error);
		q->oldest_ms = c->ended_ms;
	}
}

/* Dynamic credentials queued for revocation (engine.db, no broker needed). */
static void
check_revocations(struct report *r, struct cli *cli)
{
	struct revq q = { 0, "", 0 };
	struct al_err err;
	char path[PATH_MAX];
	int rc;

	al_err_clear(&err);
	if (al_path_join(path, sizeof(path), cli->home, ENGINE_STATE_FILE) !=
	    0)
		return;
	rc = engine_queue_read(path, revq_one, &q, &err);
	if (rc == AL_ENOENT)
		add(r, "revoke", LV_OK, "no dynamic credential was minted");
	else if (rc != 0)
		add(r, "revoke", LV_FAIL, "%s", err.msg);
	else if (q.n == 0)
		add(r, "revoke", LV_OK, "no credential waits for revocation");
	else
		add(r, "revoke", LV_WARN, "%zu credential%s of ended leases "
		    "not destroyed yet, retried until done (`airlock lease "
		    "ls`); the oldest (%llds ago): %s", q.n, q.n == 1 ? "" :
		    "s", (long long)((cli->clock->now_ms(cli->clock->arg) -
		    q.oldest_ms) / 1000), q.first);
}

/* A running broker (none is fine): its version and its policy. */
static void
check_broker(struct report *r, struct cli *cli)
{
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET") };
	struct client *cl = NULL;
	json_t *h = NULL;
	const char *ver, *perr;

	if (client_open(&o, &cl, NULL) != 0) {
		add(r, "broker", LV_OK, "not running (commands start it when "
		    "needed)");
		return;
	}
	if (client_health(cl, &h, NULL) != 0) {
		add(r, "broker", LV_FAIL, "a broker answers but not its health "
		    "check");
		client_close(cl);
		return;
	}
	ver = json_string_value(json_object_get(h, "version"));
	perr = json_string_value(json_object_get(h, "policy_error"));
	if (perr != NULL)
		add(r, "broker", LV_FAIL, "the broker refused the edited "
		    "policy and still enforces its previous one: %s", perr);
	else if (ver == NULL || strcmp(ver, AIRLOCK_VERSION) != 0)
		add(r, "broker", LV_WARN, "running (pid %lld) airlock %s, "
		    "while this is airlock %s: `airlock stop` replaces it",
		    (long long)json_integer_value(json_object_get(h, "pid")),
		    ver ? ver : "of an unknown version", AIRLOCK_VERSION);
	else
		add(r, "broker", LV_OK, "running (pid %lld, airlock %s, %lld "
		    "live lease%s), with the policy on disk",
		    (long long)json_integer_value(json_object_get(h, "pid")),
		    ver, (long long)json_integer_value(json_object_get(h,
		    "leases")), json_integer_value(json_object_get(h,
		    "leases")) == 1 ? "" : "s");
	json_decref(h);
	client_close(cl);
}

/* Open every record: a tampered one is named, the others still count. */
static void
check_records(struct report *r, struct cli *cli, struct vault *v, int passfd)
{
	struct vault_meta *list = NULL;
	struct al_secret *val;
	struct al_err err;
	size_t n = 0, i, bad = 0;

	if (vault_key_kind(v) == VAULT_KEY_KIND_PASSPHRASE && passfd < 0) {
		add(r, "records", LV_WARN, "not checked: the vault is locked by "
		    "a passphrase (give --passphrase-fd N to check)");
		return;
	}
	if (cli_vault_unlock(v, passfd, &err) != 0) {
		add(r, "records", LV_FAIL, "%s", err.msg);
		return;
	}
	if (vault_secret_list(v, &list, &n, &err) != 0) {
		add(r, "records", LV_FAIL, "%s", err.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		if (vault_secret_read(v, list[i].name, &val, NULL, &err) == 0) {
			al_secret_free(val);
			continue;
		}
		bad++;
		add(r, "records", LV_FAIL, "%s", err.msg);
	}
	if (bad == 0)
		add(r, "records", LV_OK, n == 1 ? "the secret record opens" :
		    "all %zu secret records open", n);
	vault_meta_list_free(list, n);
	check_audit(r, cli, v);
}

/* Exposed secrets, and those past their owner's rotation SLA. */
static void
check_exposures(struct report *r, struct cli *cli, struct vault *v)
{
	struct vault_meta *list = NULL;
	struct al_err err;
	size_t n = 0, i, exposed = 0, overdue = 0;
	int64_t now = cli->clock->now(cli->clock->arg), by;

	if (vault_secret_list(v, &list, &n, &err) != 0)
		return;		/* said by the records check */
	for (i = 0; i < n; i++) {
		if (list[i].status == VAULT_EXPOSED)
			exposed++;
		if (cli_meta_overdue(&list[i], now, &by))
			overdue++;
	}
	vault_meta_list_free(list, n);
	if (exposed == 0)
		add(r, "exposures", LV_OK, "no exposed secret");
	else
		add(r, "exposures", LV_WARN, "%zu exposed secret%s not "
		    "rotated, %zu overdue (past the owner's rotation SLA): "
		    "`airlock secret ls` shows them; `airlock secret rotate "
		    "NAME` ends an exposure", exposed, exposed == 1 ? "" :
		    "s", overdue);
}

static void
check_hardening(struct report *r)
{
	struct rlimit rl;
	void *page;
	size_t len = 64 * 1024;

	if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 &&
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
		add(r, "coredump", LV_OK, "core dumps are off and airlock "
		    "processes are not dumpable");
	else
		add(r, "coredump", LV_FAIL, "core dumps could be written: "
		    "airlock failed to harden itself");
	page = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED && mlock(page, len) == 0) {
		(void)munlock(page, len);
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 8 << 20)
			add(r, "mlock", LV_WARN, "memory can be locked, but only "
			    "%llu KiB (RLIMIT_MEMLOCK); raise it (ulimit -l, "
			    "LimitMEMLOCK= in systemd) if many secrets are "
			    "leased at once", (unsigned long long)rl.rlim_cur /
			    1024);
		else
			add(r, "mlock", LV_OK, "secret memory is locked out of "
			    "swap");
	} else
		add(r, "mlock", LV_WARN, "memory cannot be locked (mlock "
		    "failed): secrets could reach swap; raise RLIMIT_MEMLOCK "
		    "or use encrypted swap");
	if (page != MAP_FAILED)
		(void)munmap(page, len);
}

static void
check_deploy(struct report *r, const char *home)
{
	struct stat st;
	struct passwd *pw;

	if (stat(home, &st) != 0) {
		add(r, "deploy", LV_WARN, "no state directory yet: run "
		    "`airlock init`");
		return;
	}
	if (st.st_uid == geteuid()) {
		char key[PATH_MAX];
		int haskey = al_path_join(key, sizeof(key), home,
		    VAULT_KEY_FILE) == 0 && access(key, F_OK) == 0;

		pw = getpwuid(st.st_uid);
		add(r, "deploy", LV_WARN, "same-user: the vault%s belong%s to "
		    "%s (uid %u), so any process of that user, agents included, "
		    "could read %s; this guards against accidents (T1), not "
		    "against hostile code (T3). Run the broker as its own user "
		    "for that: see docs/deploy.md", haskey ? " and its key" : "",
		    haskey ? "" : "s", pw ? pw->pw_name : "you",
		    (unsigned)st.st_uid, haskey ? "them" : "it (and, while "
		    "the broker holds it unlocked, ask it)");
	} else
		add(r, "deploy", LV_OK, "separate broker user: the vault "
		    "belongs to uid %u, not to you (uid %u)",
		    (unsigned)st.st_uid, (unsigned)geteuid());
}

static void
check_isolation(struct report *r)
{
	struct exec_isolation_info info;

	exec_isolation_probe(&info);
	if (info.isolation == EXEC_ISOLATION_PIDNS)
		add(r, "isolate", LV_OK, "commands run in a PID namespace of "
		    "their own%s%s: the kernel ends every process of a task "
		    "when the command exits or airlock dies, even by SIGKILL",
		    info.userns ? " (in a user namespace: files of other "
		    "users show as nobody)" : "", info.own_proc ? "" :
		    "; it could not mount its own /proc, so /proc there lists "
		    "processes by their pids outside");
	else
		add(r, "isolate", LV_WARN, "no PID namespace for commands "
		    "(%s): airlock ends what a command leaves behind itself, "
		    "which a `kill -9` of airlock skips, leaving those "
		    "processes with the values; allow unprivileged user "
		    "namespaces (sysctl user.max_user_namespaces, "
		    "kernel.unprivileged_userns_clone, or AppArmor's "
		    "kernel.apparmor_restrict_unprivileged_userns)",
		    strerror(info.ns_errno));
}

static void
check_identity(struct report *r)
{
	struct al_err err;
	size_t unseen;
	pid_t other;
	int sv[2];

	if (cli_can_inspect_others())
		add(r, "identity", LV_OK, "a broker running as uid %u reads "
		    "every caller's executable, ancestors and working "
		    "directory (root or CAP_SYS_PTRACE)", (unsigned)geteuid());
	else
		add(r, "identity", LV_WARN, "a broker running as uid %u lacks "
		    "CAP_SYS_PTRACE: it cannot read the executables, ancestors "
		    "or working directories of other users' processes and of "
		    "airlock's own commands, so rules on unix:exe, unix:sha256, "
		    "unix:ancestor-exe and repos count against them (a deny "
		    "matches, an allow does not: see `airlock policy lint`); "
		    "a separate broker user needs "
		    "AmbientCapabilities=CAP_SYS_PTRACE (docs/deploy.md)",
		    (unsigned)geteuid());
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	if (ident_conn_holders(sv[0], getpid(), geteuid(), &other, &unseen,
	    &err) == AL_ESYS)
		add(r, "identity", LV_WARN, "%s: a process sharing another's "
		    "connection cannot be told apart", err.msg);
	(void)close(sv[0]);
	(void)close(sv[1]);
}

int
cmd_doctor(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "passphrase-fd", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report r = { NULL, 0 };
	char path[PATH_MAX];
	struct vault *v = NULL;
	struct al_err err;
	json_t *c;
	size_t i;
	int opt, json = 0, passfd = -1, rc;

	optind = 0;
	opterr = 0;
	while ((opt = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'f':
			if (cli_parse_fd(optarg, "--passphrase-fd", &passfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'h':
			return cli_print_help("doctor", stdout);
		default:
			return cli_bad_option("doctor", argc, argv, opt);
		}
	}
	if (optind < argc)
		return cli_usage("doctor", "unexpected argument '%s'",
		    argv[optind]);
	if ((r.checks = json_array()) == NULL)
		return cli_failf("out of memory");
	check_file(&r, "state", cli->home, 1, "no state directory: run "
	    "`airlock init`");
	if (al_path_join(path, sizeof(path), cli->home, VAULT_DB_FILE) == 0)
		check_file(&r, "vault", path, 0, "no vault: run `airlock init`");
	if (al_path_join(path, sizeof(path), cli->home, VAULT_KEY_FILE) == 0) {
		if (vault_open(cli->home, cli->clock, &v, &err) == 0 &&
		    vault_key_kind(v) == VAULT_KEY_KIND_PASSPHRASE)
			add(&r, "key", LV_OK, "the vault is locked by a "
			    "passphrase (no key on disk)");
		else
			check_file(&r, "key", path, 0, NULL);
		if (v != NULL) {
			check_records(&r, cli, v, passfd);
			check_exposures(&r, cli, v);
		}
		vault_close(v);
	}
	check_policy(&r, cli);
	check_broker(&r, cli);
	check_revocations(&r, cli);
	check_hardening(&r);
	check_deploy(&r, cli->home);
	check_isolation(&r);
	check_identity(&r);
	if (exec_isolation_check(&err) == 0)
		add(&r, "netns", LV_OK, "run --proxy runs commands in a "
		    "network namespace whose only way out is the proxy");
	else
		add(&r, "netns", LV_WARN, "run --proxy cannot isolate "
		    "commands (%s): they hold placeholders only, but can reach "
		    "the network directly", err.msg);

	if (json) {
		json_t *top = json_pack("{s:b, s:O}", "ok", !r.failed, "checks",
		    r.checks);

		rc = cli_print_json(top);
		json_decref(top);
	} else {
		json_array_foreach(r.checks, i, c) {
			const char *st = json_string_value(json_object_get(c,
			    "status"));
			const char *color = strcmp(st, "ok") == 0 ? "\033[32m" :
			    strcmp(st, "warn") == 0 ? "\033[33m" : "\033[31m";

			printf("%s%-4s%s  %-8s  %s\n", cli->color_out ? color :
			    "", st, cli->color_out ? "\033[0m" : "",
			    json_string_value(json_object_get(c, "check")),
			    json_string_value(json_object_get(c, "message")));
		}
		rc = CLI_EXIT_OK;
	}
	json_decref(r.checks);
	if (rc != CLI_EXIT_OK)
		return rc;
	return r.failed ? CLI_EXIT_FOUND : CLI_EXIT_OK;
}

/*
 * Unit tests for src/policy: a golden table of decisions over the example
 * policies in tests/data/policy/, every lint message with its line, and the
 * limits that keep a hostile file from hurting the broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "airlock/policy.h"
#include "icu_dl.h"
#include "policy_int.h"
#include "policy_test.h"

#define STR_(x)	#x
#define STR(x)	STR_(x)

#define DATA	AIRLOCK_TEST_DATA "/policy/"
#define SPLIT_MAX 16

/* Read tests/data/policy/<name> into a fresh buffer. */
static void
read_data(const char *name, struct al_buf *b)
{
	char path[512];
	struct al_err err;

	assert_true(snprintf(path, sizeof(path), DATA "%s", name) <
	    (int)sizeof(path));
	al_buf_init(b, POLICY_TEXT_MAX + 1, 0);
	if (policy_read_file(path, b, &err) != 0)
		fail_msg("%s", err.msg);
}

static struct policy *
load_data(const char *name)
{
	struct al_buf b;
	struct al_err err;
	struct policy *p = NULL;

	read_data(name, &b);
	if (policy_load_text(al_buf_str(&b), b.len, name, &p, &err) != 0)
		fail_msg("%s", err.msg);
	al_buf_release(&b);
	return p;
}

static struct policy *
load_str(const char *text)
{
	struct al_err err;
	struct policy *p = NULL;

	if (policy_load_text(text, strlen(text), "t.yaml", &p, &err) != 0)
		fail_msg("%s", err.msg);
	return p;
}

/* Split "a,b,c" into v (pointers into buf); returns the count. */
static size_t
split(const char *s, char *buf, size_t bufsz, const char **v)
{
	size_t n = 0;
	char *tok, *save = NULL;

	if (s == NULL || *s == '\0')
		return 0;
	assert_true(strlen(s) < bufsz);
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL && n < SPLIT_MAX;
	    tok = strtok_r(NULL, ",", &save))
		v[n++] = tok;
	return n;
}

static int64_t
at(const char *t)
{
	struct al_err err;
	int64_t v;

	if (al_parse_time(t, 0, "at", &v, &err) != 0)
		fail_msg("%s", err.msg);
	return v;
}

/* ---- golden decisions ---------------------------------------------------- */

#define AGENT	"unix:uid:1000,unix:user:dev,unix:exe:/usr/bin/bash," \
		"unix:ancestor-exe:/usr/bin/bash," \
		"unix:ancestor-exe:/home/dev/.local/bin/claude"
#define DEV	"unix:uid:1000,unix:user:dev,unix:exe:/usr/bin/bash"
#define CURL	"unix:uid:1000,unix:user:dev,unix:exe:/usr/bin/curl"
#define CI	"unix:uid:999,unix:exe:/usr/bin/gitlab-runner"
#define OTHER	"unix:uid:1001,unix:exe:/usr/bin/bash"
#define MON	"2027-01-04T10:00:00Z"

struct dcase {
	const char	*file;
	const char	*sel;
	const char	*secret;
	const char	*labels;
	const char	*intent;
	const char	*task;
	const char	*repo;
	const char	*at;
	enum policy_effect effect;
	const char	*rule;
	int		 line;
	int64_t		 max_ttl;
	int		 max_uses;
};

#define A POLICY_ALLOW
#define D POLICY_DENY
#define P POLICY_APPROVAL

static const struct dcase dcases[] = {
	/* team.yaml: precedence, callers, exclusions, labels, secrets. */
	{ "team.yaml", AGENT, "db-password", "env=prod", NULL, NULL, NULL,
	    MON, D, "no-prod-for-agents", 7, 0, 0 },
	{ "team.yaml", DEV, "db-password", "env=prod", NULL, NULL, NULL,
	    MON, A, "owner-any", 45, 900, 0 },
	{ "team.yaml", AGENT, "stripe-live", NULL, NULL, NULL, NULL,
	    MON, P, "payments-need-approval", 14, 300, 1 },
	{ "team.yaml", AGENT, "payments-eu", "env=prod", NULL, NULL, NULL,
	    MON, D, "no-prod-for-agents", 7, 0, 0 },
	/* intents (case-insensitive), tasks, repos (normalized). */
	{ "team.yaml", AGENT, "deploy-web", "env=staging",
	    "Deploy the web app", "JIRA-12", "git@github.com:acme/web.git",
	    MON, A, "agent-deploys-staging", 23, 600, 3 },
	{ "team.yaml", AGENT, "deploy-web", "team=web,env=staging",
	    "rollback release 7", "JIRA-9",
	    "ssh://git@GitHub.com:22/acme/api/", MON, A,
	    "agent-deploys-staging", 23, 600, 3 },
	{ "team.yaml", AGENT, "deploy-web", "env=staging",
	    "deploy the web app", NULL, "https://github.com/acme/web",
	    MON, D, "deploy-keys-only-for-tasks", 40, 0, 0 },
	{ "team.yaml", AGENT, "deploy-web", "env=staging",
	    "deploy the web app", "JIRA-12", "https://github.com/other/web",
	    MON, D, "deploy-keys-only-for-tasks", 40, 0, 0 },
	{ "team.yaml", AGENT, "deploy-web", "env=staging",
	    "print the token", "JIRA-12", "https://github.com/acme/web",
	    MON, D, "deploy-keys-only-for-tasks", 40, 0, 0 },
	{ "team.yaml", AGENT, "deploy-web", "env=staging2",
	    "deploy the web app", "JIRA-12", "https://github.com/acme/web",
	    MON, D, "deploy-keys-only-for-tasks", 40, 0, 0 },
	{ "team.yaml", AGENT, "deploy-web", "env=prod",
	    "deploy the web app", "JIRA-12", "https://github.com/acme/web",
	    MON, D, "no-prod-for-agents", 7, 0, 0 },
	{ "team.yaml", DEV, "deploy-web", NULL, NULL, NULL, NULL,
	    MON, D, "deploy-keys-only-for-tasks", 40, 0, 0 },
	/* Other selector kinds; exclusions; nobody matched. */
	{ "team.yaml", CI, "registry-token", NULL, NULL, NULL, NULL,
	    MON, A, "ci-runner", 34, 1800, 0 },
	{ "team.yaml", "spiffe:id:spiffe://acme.org/ci/build-7",
	    "registry-token", NULL, NULL, NULL, NULL,
	    MON, A, "ci-runner", 34, 1800, 0 },
	{ "team.yaml", "spiffe:id:spiffe://evil.org/ci/build-7",
	    "registry-token", NULL, NULL, NULL, NULL, MON, D, "", 0, 0, 0 },
	{ "team.yaml", CURL, "api-token", NULL, NULL, NULL, NULL,
	    MON, D, "", 0, 0, 0 },
	{ "team.yaml", OTHER, "api-token", NULL, NULL, NULL, NULL,
	    MON, D, "", 0, 0, 0 },
	{ "team.yaml", "unix:uid:10000", "api-token", NULL, NULL, NULL,
	    NULL, MON, D, "", 0, 0, 0 },
	{ "team.yaml", "", "api-token", NULL, NULL, NULL, NULL,
	    MON, D, "", 0, 0, 0 },

	/* windows.yaml: Europe/Paris office hours, winter and summer. */
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-01-04T08:30:00Z", A, "office-hours-paris", 5, 3600, 0 },
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-01-04T08:00:00Z", A, "office-hours-paris", 5, 3600, 0 },
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-01-04T07:59:59Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-01-04T17:00:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-07-05T07:30:00Z", A, "office-hours-paris", 5, 3600, 0 },
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-07-05T16:30:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "office-1", NULL, NULL, NULL, NULL,
	    "2027-01-09T10:00:00Z", D, "", 0, 0, 0 },
	/* Friday night across midnight, UTC; Sunday until 24:00. */
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-08T23:00:00Z", A, "night-batch", 14, 300, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-09T05:59:00Z", A, "night-batch", 14, 300, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-09T06:00:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-09T23:00:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-07T23:00:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-08T21:59:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-10T23:30:00Z", A, "night-batch", 14, 300, 0 },
	{ "windows.yaml", DEV, "batch-1", NULL, NULL, NULL, NULL,
	    "2027-01-11T00:30:00Z", D, "", 0, 0, 0 },
	/* New York weekend: the day is the local one. */
	{ "windows.yaml", DEV, "ny-1", NULL, NULL, NULL, NULL,
	    "2027-01-09T03:00:00Z", D, "", 0, 0, 0 },
	{ "windows.yaml", DEV, "ny-1", NULL, NULL, NULL, NULL,
	    "2027-01-10T04:00:00Z", A, "weekend-new-york", 21, 300, 0 },
	{ "windows.yaml", DEV, "ny-1", NULL, NULL, NULL, NULL,
	    "2027-01-11T04:30:00Z", A, "weekend-new-york", 21, 300, 0 },
	{ "windows.yaml", DEV, "ny-1", NULL, NULL, NULL, NULL,
	    "2027-01-11T05:30:00Z", D, "", 0, 0, 0 },

	/* The default written by `airlock init` for uid 1000. */
	{ "default-1000.yaml", DEV, "anything", NULL, NULL, NULL, NULL,
	    MON, A, "owner-any-secret", 24, 900, 0 },
	{ "default-1000.yaml", DEV, "anything", "approval=required", NULL,
	    NULL, NULL, MON, P, "owner-approval-required", 16, 900, 0 },
	{ "default-1000.yaml", OTHER, "anything", NULL, NULL, NULL, NULL,
	    MON, D, "", 0, 0, 0 },
	{ "default-1000.yaml", OTHER, "anything", "approval=required", NULL,
	    NULL, NULL, MON, D, "", 0, 0, 0 },
};

static void
test_policy_golden_decisions(void **state)
{
	char sbuf[1024], lbuf[1024];
	const char *sel[SPLIT_MAX], *lab[SPLIT_MAX];
	struct policy_request r;
	struct policy_decision d;
	struct policy *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];

		p = load_data(c->file);
		memset(&r, 0, sizeof(r));
		r.selectors = sel;
		r.nselectors = split(c->sel, sbuf, sizeof(sbuf), sel);
		r.labels = lab;
		r.nlabels = split(c->labels, lbuf, sizeof(lbuf), lab);
		r.secret = c->secret;
		r.intent = c->intent;
		r.task = c->task;
		r.repo = c->repo;
		r.now = at(c->at);
		assert_int_equal(policy_decide(p, &r, &d), 0);
		if (d.effect != c->effect || strcmp(d.rule, c->rule) != 0 ||
		    d.line != c->line || d.max_ttl != c->max_ttl ||
		    d.max_uses != c->max_uses)
			fail_msg("case %zu (%s, %s at %s): got %s '%s' line %d "
			    "ttl %lld uses %d; want %s '%s' line %d ttl %lld "
			    "uses %d", i, c->file, c->secret, c->at,
			    policy_effect_name(d.effect), d.rule, d.line,
			    (long long)d.max_ttl, d.max_uses,
			    policy_effect_name(c->effect), c->rule, c->line,
			    (long long)c->max_ttl, c->max_uses);
		policy_free(p);
	}
}

static void
test_policy_reasons_and_approvers_are_copied(void **state)
{
	const char *sel[] = { "unix:uid:1000", "unix:ancestor-exe:/x/claude" };
	struct policy_request r = { .selectors = sel, .nselectors = 2,
	    .secret = "stripe-live", .now = 0 };
	struct policy_decision d;
	struct policy *p = load_data("team.yaml");

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	policy_free(p);		/* the decision must not point into p */
	assert_int_equal(d.effect, POLICY_APPROVAL);
	assert_string_equal(d.reason,
	    "rule 'payments-need-approval' requires approval");
	assert_int_equal(d.napprovers, 3);
	assert_string_equal(d.approvers[0], "unix:user:alice");
	assert_string_equal(d.approvers[2], "!unix:ancestor-exe:*/claude");

	p = load_data("team.yaml");
	r.secret = "db";
	r.labels = (const char *[]){ "env=prod" };
	r.nlabels = 1;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_string_equal(d.reason,
	    "production credentials are not for coding agents");
	r.selectors = (const char *[]){ "unix:uid:5" };
	r.nselectors = 1;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_string_equal(d.reason, "no rule matched (default deny)");
	assert_string_equal(d.rule, "");
	r.secret = NULL;
	assert_int_equal(policy_decide(p, &r, &d), AL_EINVAL);
	assert_int_equal(d.effect, POLICY_DENY);
	policy_free(p);
}

static void
test_policy_approver_allowed_follows_selectors(void **state)
{
	const char *sel[] = { "unix:uid:1000" };
	const char *alice[] = { "unix:uid:1001", "unix:user:alice",
	    "unix:ancestor-exe:/usr/bin/bash" };
	const char *alice_agent[] = { "unix:uid:1001", "unix:user:alice",
	    "unix:ancestor-exe:/usr/local/bin/claude" };
	const char *carol[] = { "unix:uid:1002", "unix:user:carol" };
	struct policy_request r = { .selectors = sel, .nselectors = 1,
	    .secret = "payments-eu", .now = 0 };
	struct policy_decision d;
	struct policy *p = load_data("team.yaml");

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	policy_free(p);
	assert_int_equal(policy_approver_allowed(&d, alice, 3, NULL, 0), 1);
	assert_int_equal(policy_approver_allowed(&d, alice_agent, 3, NULL, 0), 0);
	assert_int_equal(policy_approver_allowed(&d, carol, 2, NULL, 0), 0);
	assert_int_equal(policy_approver_allowed(&d, NULL, 0, NULL, 0), 0);
	d.effect = POLICY_ALLOW;
	assert_int_equal(policy_approver_allowed(&d, alice, 3, NULL, 0), 0);
}

static void
test_policy_exclusion_only_callers_match_everyone_else(void **state)
{
	struct policy *p = load_str("rules:\n"
	    "  - id: not-root\n"
	    "    effect: allow\n"
	    "    callers: [\"!unix:uid:0\"]\n"
	    "    max_uses: 2\n");
	const char *root[] = { "unix:uid:0" }, *u[] = { "unix:uid:7" };
	struct policy_request r = { .selectors = u, .nselectors = 1,
	    .secret = "s" };
	struct policy_decision d;

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_ALLOW);
	assert_int_equal(d.max_ttl, POLICY_DEFAULT_MAX_TTL);
	assert_int_equal(d.max_uses, 2);
	r.selectors = root;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_DENY);
	policy_free(p);
}

static void
test_policy_default_render_matches_golden_file(void **state)
{
	struct al_buf want, got;
	struct policy *p = NULL;
	struct al_err err;

	(void)state;
	read_data("default-1000.yaml", &want);
	al_buf_init(&got, 64 * 1024, 0);
	assert_int_equal(policy_default_render(1000, &got), 0);
	assert_string_equal(al_buf_str(&got), al_buf_str(&want));
	assert_int_equal(policy_load_default(1000, &p, &err), 0);
	assert_int_equal(policy_nrules(p), 2);
	assert_string_equal(policy_name(p), "built-in default");
	policy_free(p);
	al_buf_release(&got);
	al_buf_release(&want);
}

static void
test_policy_repo_normalize_table(void **state)
{
	static const char *const t[][2] = {
		{ "git@github.com:acme/api.git", "github.com/acme/api" },
		{ "https://github.com/acme/api", "github.com/acme/api" },
		{ "https://user@GitHub.com/acme/api/", "github.com/acme/api" },
		{ "ssh://git@github.com:22/acme/api.git/",
		    "github.com/acme/api" },
		{ "git://gitlab.example.org/g/sub/p.git",
		    "gitlab.example.org/g/sub/p" },
		{ "github.com/acme/api", "github.com/acme/api" },
		{ "/srv/git/repo.git", "/srv/git/repo.git" },
		{ "", "" },
	};
	char out[256], tiny[8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(policy_repo_normalize(t[i][0], out,
		    sizeof(out)), 0);
		assert_string_equal(out, t[i][1]);
	}
	assert_int_equal(policy_repo_normalize("git@github.com:acme/api",
	    tiny, sizeof(tiny)), AL_ETOOBIG);
}

/* ---- lint: every message with its line ----------------------------------- */

struct lcase {
	const char		*file;
	const char *const	*want;	/* "LINE: message", NULL-terminated */
};

static const char *const lint_rules[] = {
	"5: unknown key 'max_tll'",
	"6: id: 1-64 characters of a-z 0-9 . _ - starting with a letter or "
	    "digit",
	"7: effect: expected allow, deny or approval",
	"8: secrets: unclosed '[' in pattern",
	"8: secrets: 'Deploy token' can never match a secret name (letters, "
	    "digits, . _ - /)",
	"9: duplicate rule id 'typo' (first on line 3)",
	"11: max_ttl is for allow and approval rules, not deny",
	"13: approval rule 'approve' needs 'approvers' (selectors of who may "
	    "approve)",
	"15: callers: unknown selector 'unix:iud' (known: uid, gid, user, "
	    "group, pid, exe, sha256, ancestor-exe, cgroup)",
	"15: callers: a selector is kind:key:value, such as unix:uid:1000",
	"15: callers: unknown selector kind 'ldap' (known: unix, jwt, spiffe)",
	"16: rule has no 'id'",
	"17: max_ttl: expected a duration such as 90s, 15m, 2h, 7d or 1h30m",
	"18: max_uses: must be between 1 and 1000000",
	"20: duplicate key 'secrets' (first on line 19)",
	"24: days: expected mon, tue, wed, thu, fri, sat, sun or a range such "
	    "as mon-fri",
	"25: hours: expected HH:MM-HH:MM such as 09:00-17:00 (22:00-06:00 "
	    "crosses midnight)",
	"26: unknown timezone 'Mars/Olympus' (use UTC or an IANA name such as "
	    "Europe/Paris)",
	"27: unknown key 'tz' in a time window (expected days, hours or "
	    "timezone)",
	"30: repos: write a repository as host/path, such as "
	    "github.com/acme/api (remotes are normalized)",
	"31: 'env' must be a single value, not a list",
	"32: approvers are for approval rules only",
	NULL,
};

static const char *const lint_shadow[] = {
	"9: rule 'never' can never match: rule 'catch-all' (line 6) above it "
	    "matches every request",
	"14: approvers: name who may approve; exclusions ('!') alone would "
	    "let anyone approve",
	NULL,
};

static const char *const lint_alias[] = {
	"3: anchors and aliases are not allowed",
	"6: anchors and aliases are not allowed",
	"6: a rule is a mapping with id, effect and matchers",
	NULL,
};

static const char *const lint_syntax[] = {
	"6: YAML syntax: did not find expected ',' or ']' while parsing a "
	    "flow sequence started on line 5",
	NULL,
};

static const char *const lint_top[] = {
	"1: unsupported version '2' (this airlock reads version 1)",
	"1: missing 'rules' (a list; `rules: []` denies everything)",
	"2: unknown key 'rule' (expected version or rules)",
	NULL,
};

static const char *const lint_clean[] = { NULL };

static const struct lcase lcases[] = {
	{ "bad-rules.yaml", lint_rules },
	{ "bad-shadow.yaml", lint_shadow },
	{ "bad-alias.yaml", lint_alias },
	{ "bad-syntax.yaml", lint_syntax },
	{ "bad-top.yaml", lint_top },
	{ "team.yaml", lint_clean },
	{ "windows.yaml", lint_clean },
	{ "default-1000.yaml", lint_clean },
};

static void
test_policy_lint_reports_every_error_with_its_line(void **state)
{
	struct policy_diag *v;
	struct al_buf b;
	struct al_err err;
	char got[POLICY_MSG_MAX + 16];
	size_t i, j, n;

	(void)state;
	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++) {
		read_data(lcases[i].file, &b);
		assert_int_equal(policy_lint_text(al_buf_str(&b), b.len, &v,
		    &n, &err), 0);
		for (j = 0; j < n; j++) {
			(void)snprintf(got, sizeof(got), "%d: %s", v[j].line,
			    v[j].msg);
			if (lcases[i].want[j] == NULL)
				fail_msg("%s: unexpected '%s'", lcases[i].file,
				    got);
			if (strcmp(got, lcases[i].want[j]) != 0)
				fail_msg("%s: got '%s', want '%s'",
				    lcases[i].file, got, lcases[i].want[j]);
		}
		if (lcases[i].want[n] != NULL)
			fail_msg("%s: missing '%s'", lcases[i].file,
			    lcases[i].want[n]);
		free(v);
		al_buf_release(&b);
	}
}

static void
test_policy_load_names_first_error_and_points_to_lint(void **state)
{
	struct policy *p = (struct policy *)&p;
	struct al_buf b;
	struct al_err err;
	const char *one = "rules:\n  - id: a\n    effect: allow\n"
	    "    max_tll: 15m\n";

	(void)state;
	read_data("bad-rules.yaml", &b);
	assert_int_equal(policy_load_text(al_buf_str(&b), b.len,
	    "policy.yaml", &p, &err), AL_EINVAL);
	assert_null(p);
	assert_string_equal(err.msg, "policy.yaml:5: unknown key 'max_tll' "
	    "(and more errors: run `airlock policy lint`)");
	al_buf_release(&b);
	assert_int_equal(policy_load_text(one, strlen(one), "policy.yaml",
	    &p, &err), AL_EINVAL);
	assert_string_equal(err.msg, "policy.yaml:4: unknown key 'max_tll'");
	assert_int_equal(policy_load_text("", 0, "p.yaml", &p, &err),
	    AL_EINVAL);
	assert_string_equal(err.msg, "p.yaml:1: the policy is empty; write "
	    "`rules: []` to deny everything");
	p = load_str("rules: []\n");
	assert_int_equal(policy_nrules(p), 0);
	policy_free(p);
	policy_free(NULL);
}

/* ---- limits and hostile input -------------------------------------------- */

static void
expect_first_error(const char *text, size_t len, const char *want)
{
	struct policy *p = NULL;
	struct al_err err;

	assert_int_not_equal(policy_load_text(text, len, "x", &p, &err), 0);
	assert_null(p);
	assert_string_equal(err.msg, want);
}

static void
test_policy_refuses_aliases_depth_size_and_documents(void **state)
{
	struct al_buf b;
	size_t i;

	(void)state;
	/* A "billion laughs" never expands: the first alias is an error. */
	expect_first_error("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
	    40, "x:1: anchors and aliases are not allowed (and more errors: "
	    "run `airlock policy lint`)");
	al_buf_init(&b, 4096, 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(al_buf_puts(&b, "["), 0);
	expect_first_error(al_buf_str(&b), b.len,
	    "x:1: nesting deeper than 16 levels");
	al_buf_release(&b);
	expect_first_error("rules:\n- {id: a, effect: allow, secrets: *}\n",
	    44, "x:2: YAML syntax: a value starting with '*' is an alias; "
	    "quote patterns: \"*\"");
	expect_first_error("rules: []\n---\nrules: []\n", 23,
	    "x:2: only one YAML document is allowed");
	expect_first_error("rules: !!str x\n", 14,
	    "x:1: YAML tags are not allowed (and more errors: run `airlock "
	    "policy lint`)");
	expect_first_error("rules: [\"a\0b\"]\n", 15,
	    "x:1: YAML syntax: control characters are not allowed");
	al_buf_init(&b, POLICY_TEXT_MAX + 64, 0);
	for (i = 0; i < POLICY_TEXT_MAX / 16 + 1; i++)
		assert_int_equal(al_buf_puts(&b, "# padding......\n"), 0);
	expect_first_error(al_buf_str(&b), b.len,
	    "policy is 1048592 bytes; at most 1048576");
	al_buf_release(&b);
	al_buf_init(&b, 128 * 1024, 0);
	assert_int_equal(al_buf_puts(&b, "rules:\n"), 0);
	for (i = 0; i < POLICY_RULES_MAX + 1; i++)
		assert_int_equal(al_buf_printf(&b, "- {id: r%zu, effect: "
		    "deny, secrets: [s%zu]}\n", i, i), 0);
	expect_first_error(al_buf_str(&b), b.len,
	    "x:2: 1001 rules; at most 1000");
	al_buf_release(&b);
}

static void
test_policy_checks_globs_timezones_and_limits(void **state)
{
	static const char *const bad[][2] = {
		{ "secrets: [\"a\\\\\"]", "pattern ends with a lone backslash" },
		{ "secrets: [\"[[:alpha:]\"]", "unclosed '[' in pattern" },
		{ "when: {timezone: ../../etc/passwd}", "unknown timezone" },
		{ "when: {hours: \"10:00-10:00\"}", "the window is empty" },
		{ "when: {hours: \"24:00-10:00\"}", "expected HH:MM-HH:MM" },
		{ "when: {hours: \"10:60-11:00\"}", "expected HH:MM-HH:MM" },
		{ "max_ttl: 25h", "max_ttl: at most 24h" },
		{ "secrets: []", "'secrets' is an empty list" },
		{ "tasks:", "'tasks' needs a value" },
		{ "intents: {a: b}", "'intents' must be a list" },
		{ "callers: [\"!\"]", "callers: a selector is kind:key:value" },
		{ "tasks: \"\"", "tasks: empty pattern" },
		{ "labels: {[a]: b}", "a mapping key must be a string" },
		{ "when: {[d]: e}", "a mapping key must be a string" },
	};
	static const char *const good[] = {
		"secrets: [\"[[:alpha:]]*\", \"[!a]x\", \"a\\\\*\"]",
		"when: {timezone: Etc/UTC, days: [fri-mon]}",
		"when: [{hours: \"22:00-00:00\"}, {days: [sun]}]",
		"callers: \"jwt:iss:https://issuer.example/*\"",
	};
	char text[512];
	struct policy *p;
	struct al_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "rules:\n  - id: r\n"
		    "    effect: allow\n    %s\n", bad[i][0]);
		p = NULL;
		assert_int_equal(policy_load_text(text, strlen(text), "x", &p,
		    &err), AL_EINVAL);
		if (strstr(err.msg, bad[i][1]) == NULL)
			fail_msg("'%s': got '%s'", bad[i][0], err.msg);
		assert_true(strncmp(err.msg, "x:4: ", 5) == 0);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		(void)snprintf(text, sizeof(text), "rules:\n  - id: r\n"
		    "    effect: allow\n    %s\n", good[i]);
		p = NULL;
		if (policy_load_text(text, strlen(text), "x", &p, &err) != 0)
			fail_msg("'%s': %s", good[i], err.msg);
		policy_free(p);
	}
}

static void
test_policy_load_file_refuses_unsafe_files(void **state)
{
	char dir[] = "/tmp/airlock-policy-XXXXXX", path[256], link[256];
	struct policy *p = NULL;
	struct al_err err;
	struct al_buf b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	(void)snprintf(link, sizeof(link), "%s/link.yaml", dir);
	assert_int_equal(policy_load_file(path, &p, &err), AL_ENOENT);
	al_buf_init(&b, 64 * 1024, 0);
	assert_int_equal(policy_default_render(1000, &b), 0);
	assert_int_equal(al_fs_write_new(path, b.data, b.len, &err), 0);
	al_buf_release(&b);
	assert_int_equal(policy_load_file(path, &p, &err), 0);
	assert_int_equal(policy_nrules(p), 2);
	assert_string_equal(policy_name(p), path);
	policy_free(p);
	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(policy_load_file(path, &p, &err), AL_EPERM);
	assert_non_null(strstr(err.msg, "writable by group or others "
	    "(mode 0664)"));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(policy_load_file(link, &p, &err), AL_EPERM);
	assert_non_null(strstr(err.msg, "is a symbolic link"));
	assert_int_equal(policy_load_file(dir, &p, &err), AL_EPERM);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ICU is loaded by a policy with a time window, and only by such a policy. */
static void
test_policy_loads_icu_only_for_time_windows(void **state)
{
	static const char plain[] = "version: 1\nrules:\n"
	    "  - {id: a, effect: allow, secrets: [\"*\"]}\n";
	static const char window[] = "version: 1\nrules:\n"
	    "  - {id: a, effect: allow, secrets: [\"*\"],\n"
	    "     when: {hours: \"09:00-18:00\"}}\n";
	struct policy *p;
	struct al_err err;

	(void)state;
	assert_int_equal(policy_load_text(plain, strlen(plain), "plain", &p,
	    &err), 0);
	assert_null(p->icu);
	policy_free(p);
	assert_int_equal(policy_load_text(window, strlen(window), "window",
	    &p, &err), 0);
	assert_non_null(p->icu);
	policy_free(p);
}

/* The dlsym names follow the headers' version renaming: ucal_open_72. */
static void
test_icu_dl_names_carry_the_version_suffix(void **state)
{
	struct icu_dl *t;
	struct al_err err;

	(void)state;
	assert_string_equal(STR(ucal_open), "ucal_open"
	    STR(U_ICU_VERSION_SUFFIX));
	assert_int_equal(icu_dl_new(ICU_DL_SONAME, &t, &err), 0);
#define CHECK(field, fn)	assert_non_null(t->field);
	ICU_DL_FUNCS(CHECK)
#undef CHECK
	icu_dl_free(t);
	icu_dl_free(NULL);
}

static void
test_icu_dl_missing_library_names_it_and_who_needs_it(void **state)
{
	struct icu_dl other, *t = &other;
	struct al_err err;

	(void)state;
	assert_int_equal(icu_dl_new("libicui18n.so.0-airlock-test-missing",
	    &t, &err), AL_ESYS);
	assert_null(t);
	assert_string_equal(err.msg, "a policy with time windows ('when') "
	    "needs ICU (libicui18n.so.0-airlock-test-missing): "
	    "libicui18n.so.0-airlock-test-missing: cannot open shared object "
	    "file: No such file or directory");
}

/* Another library in its place: the first missing function is named. */
static void
test_icu_dl_wrong_library_names_the_function(void **state)
{
	struct icu_dl other, *t = &other;
	struct al_err err;

	(void)state;
	assert_int_equal(icu_dl_new("libc.so.6", &t, &err), AL_ESYS);
	assert_null(t);
	assert_non_null(strstr(err.msg, "needs ICU (libc.so.6): "));
	assert_non_null(strstr(err.msg, "undefined symbol: " STR(
	    u_charsToUChars)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_golden_decisions),
		cmocka_unit_test(test_policy_reasons_and_approvers_are_copied),
		cmocka_unit_test(
		    test_policy_approver_allowed_follows_selectors),
		cmocka_unit_test(
		    test_policy_exclusion_only_callers_match_everyone_else),
		cmocka_unit_test(test_policy_default_render_matches_golden_file),
		cmocka_unit_test(test_policy_repo_normalize_table),
		cmocka_unit_test(
		    test_policy_lint_reports_every_error_with_its_line),
		cmocka_unit_test(
		    test_policy_load_names_first_error_and_points_to_lint),
		cmocka_unit_test(
		    test_policy_refuses_aliases_depth_size_and_documents),
		cmocka_unit_test(test_policy_checks_globs_timezones_and_limits),
		cmocka_unit_test(test_policy_load_file_refuses_unsafe_files),
		cmocka_unit_test(test_policy_loads_icu_only_for_time_windows),
		cmocka_unit_test(test_icu_dl_names_carry_the_version_suffix),
		cmocka_unit_test(
		    test_icu_dl_missing_library_names_it_and_who_needs_it),
		cmocka_unit_test(test_icu_dl_wrong_library_names_the_function),
		cmocka_unit_test(
		    test_policy_unknown_ancestors_make_a_deny_match),
		cmocka_unit_test(test_policy_known_match_wins_over_unknown),
		cmocka_unit_test(
		  test_policy_unknown_exclusion_excludes_and_allow_is_passed_over),
		cmocka_unit_test(
		    test_policy_unknown_repository_makes_a_deny_match),
		cmocka_unit_test(
		    test_policy_unknown_approver_exclusion_refuses),
		cmocka_unit_test(test_policy_unevaluable_notes_each_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The policy's third outcome: what the broker could not read counts
 * against the caller.  A deny rule or an exclusion on an unknown key
 * matches; an allow or approval rule on it is passed over; a known match
 * still wins over unknown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airlock/policy.h"
#include "policy_test.h"

static const char team[] =
    "version: 1\n"
    "rules:\n"
    "  - id: no-prod-for-agents\n"
    "    effect: deny\n"
    "    callers: [\"unix:ancestor-exe:*/claude\"]\n"
    "    labels: {env: prod}\n"
    "  - id: payments\n"
    "    effect: approval\n"
    "    callers: [\"unix:user:alice\"]\n"
    "    secrets: [\"stripe-*\"]\n"
    "    approvers: [\"unix:user:alice\", \"!unix:ancestor-exe:*/claude\"]\n"
    "  - id: ci-runner\n"
    "    effect: allow\n"
    "    callers: [\"unix:exe:/usr/bin/gitlab-runner\"]\n"
    "    secrets: [registry-token]\n"
    "  - id: only-acme\n"
    "    effect: deny\n"
    "    secrets: [repo-token]\n"
    "    repos: [\"github.com/evil/*\"]\n"
    "  - id: owner-any\n"
    "    effect: allow\n"
    "    callers: [\"unix:user:alice\", \"!unix:exe:/usr/bin/curl\"]\n";

static struct policy *
load_team(void)
{
	struct policy *p = NULL;
	struct al_err err;

	if (policy_load_text(team, strlen(team), "team.yaml", &p, &err) != 0)
		fail_msg("%s", err.msg);
	return p;
}

void
test_policy_unknown_ancestors_make_a_deny_match(void **state)
{
	const char *sel[] = { "unix:uid:1001", "unix:user:alice",
	    "unix:exe:/usr/bin/python3" };
	const char *unk[] = { "unix:ancestor-exe" };
	const char *labels[] = { "env=prod" };
	struct policy_request r = { .selectors = sel, .nselectors = 3,
	    .secret = "prod-db", .labels = labels, .nlabels = 1 };
	struct policy_decision d;
	struct policy *p = load_team();

	(void)state;
	/* Everything known: not an agent, owner-any allows. */
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_ALLOW);
	assert_string_equal(d.rule, "owner-any");
	assert_string_equal(d.unknown, "");
	/* Ancestors unknown: the deny above matches, and says why. */
	r.unknown = unk;
	r.nunknown = 1;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_DENY);
	assert_string_equal(d.rule, "no-prod-for-agents");
	assert_string_equal(d.unknown, "rule 'no-prod-for-agents' (line 3) "
	    "matched because unix:ancestor-exe could not be read for this "
	    "caller");
	/* Another label: the deny does not apply, unknown or not. */
	labels[0] = "env=staging";
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_string_equal(d.rule, "owner-any");
	policy_free(p);
}

void
test_policy_known_match_wins_over_unknown(void **state)
{
	const char *sel[] = { "unix:uid:1001", "unix:user:alice",
	    "unix:ancestor-exe:/usr/local/bin/claude" };
	const char *unk[] = { "unix:ancestor-exe", "unix:exe" };
	const char *labels[] = { "env=prod" };
	struct policy_request r = { .selectors = sel, .nselectors = 3,
	    .secret = "prod-db", .labels = labels, .nlabels = 1,
	    .unknown = unk, .nunknown = 2 };
	struct policy_decision d;
	struct policy *p = load_team();

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_string_equal(d.rule, "no-prod-for-agents");
	assert_string_equal(d.unknown, "");	/* it matched for sure */
	policy_free(p);
}

void
test_policy_unknown_exclusion_excludes_and_allow_is_passed_over(
    void **state)
{
	const char *sel[] = { "unix:uid:1001", "unix:user:alice" };
	const char *unk[] = { "unix:exe", "unix:sha256" };
	struct policy_request r = { .selectors = sel, .nselectors = 2,
	    .secret = "staging-db", .unknown = unk, .nunknown = 2 };
	struct policy_decision d;
	struct policy *p = load_team();

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_DENY);
	assert_string_equal(d.rule, "");
	assert_string_equal(d.unknown, "rule 'owner-any' (line 20) was passed "
	    "over: unix:exe could not be read for this caller");
	/* The allow by executable is passed over too: no registry-token. */
	r.secret = "registry-token";
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_DENY);
	assert_string_equal(d.unknown, "rule 'ci-runner' (line 12) was passed "
	    "over: unix:exe could not be read for this caller");
	policy_free(p);
}

void
test_policy_unknown_repository_makes_a_deny_match(void **state)
{
	const char *sel[] = { "unix:uid:1001", "unix:user:alice",
	    "unix:exe:/usr/bin/git" };
	struct policy_request r = { .selectors = sel, .nselectors = 3,
	    .secret = "repo-token", .repo = "git@github.com:acme/api.git" };
	struct policy_decision d;
	struct policy *p = load_team();

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_string_equal(d.rule, "owner-any");
	r.repo_unknown = 1;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_string_equal(d.rule, "only-acme");
	assert_non_null(strstr(d.unknown, "the repository"));
	policy_free(p);
}

void
test_policy_unknown_approver_exclusion_refuses(void **state)
{
	const char *sel[] = { "unix:uid:1001", "unix:user:alice" };
	const char *unk[] = { "unix:ancestor-exe" };
	struct policy_request r = { .selectors = sel, .nselectors = 2,
	    .secret = "stripe-live" };
	struct policy_decision d;
	struct policy *p = load_team();

	(void)state;
	assert_int_equal(policy_decide(p, &r, &d), 0);
	assert_int_equal(d.effect, POLICY_APPROVAL);
	policy_free(p);
	assert_int_equal(policy_approver_allowed(&d, sel, 2, NULL, 0), 1);
	assert_int_equal(policy_approver_allowed(&d, sel, 2, unk, 1), 0);
}

void
test_policy_unevaluable_notes_each_pattern(void **state)
{
	const char *keys[] = { "unix:exe", "unix:ancestor-exe", "repos" };
	struct policy_diag *v = NULL;
	size_t n = 0;
	struct policy *p = load_team();

	(void)state;
	assert_int_equal(policy_unevaluable(p, keys, 3, "them", &v, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(v[0].line, 3);
	assert_string_equal(v[0].msg, "note: rule 'no-prod-for-agents': "
	    "'unix:ancestor-exe:*/claude' cannot be read for them, so it "
	    "denies every such caller the rule's other matchers select");
	assert_int_equal(v[1].line, 7);
	assert_string_equal(v[1].msg, "note: rule 'payments': approver "
	    "'!unix:ancestor-exe:*/claude' cannot be read for them, so it "
	    "excludes every such approver");
	assert_int_equal(v[2].line, 12);
	assert_string_equal(v[2].msg, "note: rule 'ci-runner': "
	    "'unix:exe:/usr/bin/gitlab-runner' cannot be read for them, so "
	    "it never matches such a caller");
	assert_int_equal(v[3].line, 16);
	assert_non_null(strstr(v[3].msg, "'repos' needs the working "
	    "directory"));
	assert_int_equal(v[4].line, 20);
	assert_string_equal(v[4].msg, "note: rule 'owner-any': "
	    "'!unix:exe:/usr/bin/curl' cannot be read for them, so it "
	    "excludes every such caller: the rule never applies to them");
	free(v);
	policy_free(p);
}

/*
 * Fuzz the policy reader: the bytes are a policy file.  Lint must survive
 * anything; a policy that loads is then asked a few fixed requests so the
 * matchers (globs, selectors, labels, repos, time windows) run on whatever
 * the fuzzer built.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sel[] = { "unix:uid:1000", "unix:user:dev",
	    "unix:exe:/usr/bin/bash", "unix:ancestor-exe:/usr/local/bin/claude",
	    "spiffe:id:spiffe://acme.org/ci/x", "jwt:iss:https://i.example/" };
	static const char *const labels[] = { "env=prod", "approval=required",
	    "team=web" };
	static const char *const secrets[] = { "deploy-web", "stripe-live",
	    "a" };
	struct policy_request r;
	struct policy_decision d;
	struct policy_diag *v = NULL;
	struct policy *p = NULL;
	char repo[256], norm[256];
	size_t n, i;

	if (policy_lint_text((const char *)data, size, &v, &n, NULL) == 0)
		free(v);
	if (policy_load_text((const char *)data, size, "fuzz", &p, NULL) != 0)
		return 0;
	memset(&r, 0, sizeof(r));
	r.selectors = sel;
	r.labels = labels;
	r.intent = "Deploy the web app";
	r.task = "JIRA-1";
	r.repo = "git@github.com:acme/web.git";
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		r.secret = secrets[i];
		r.nselectors = i * 2;
		r.nlabels = i;
		r.now = 1800000000 + (int64_t)i * 40000;
		if (policy_decide(p, &r, &d) == 0 &&
		    d.effect == POLICY_APPROVAL)
			(void)policy_approver_allowed(&d, sel, 6, NULL, 0);
	}
	policy_free(p);
	if (size < sizeof(repo)) {
		memcpy(repo, data, size);
		repo[size] = '\0';
		(void)policy_repo_normalize(repo, norm, sizeof(norm));
	}
	return 0;
}

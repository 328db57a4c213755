/*
 * Policy decision cost: loads a policy from tests/data/policy and decides
 * the same request many times, printing decisions per second and the mean
 * time of one.  Usage: bench_policy FILE SECRET [SELECTOR...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "airlock/policy.h"

#define ROUNDS	200000

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const char *const labels[] = { "env=staging" };
	struct policy_request r = { 0 };
	struct policy_decision d;
	struct policy *p = NULL;
	struct al_buf text;
	struct al_err err;
	double t0, t;
	long i;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_policy FILE SECRET [SELECTOR...]\n");
		return 2;
	}
	al_buf_init(&text, POLICY_TEXT_MAX + 1, 0);
	if (policy_read_file(argv[1], &text, &err) != 0 ||
	    policy_load_text(al_buf_str(&text), text.len, argv[1], &p,
	    &err) != 0) {
		fprintf(stderr, "bench_policy: %s\n", err.msg);
		return 2;
	}
	r.selectors = (const char *const *)argv + 3;
	r.nselectors = (size_t)argc - 3;
	r.secret = argv[2];
	r.labels = labels;
	r.nlabels = 1;
	r.intent = "deploy the web app";
	r.task = "JIRA-12";
	r.repo = "git@github.com:acme/web.git";
	r.now = 1800000000;
	t0 = now_s();
	for (i = 0; i < ROUNDS; i++)
		if (policy_decide(p, &r, &d) != 0)
			return 2;
	t = now_s() - t0;
	printf("policy %-40s %-14s -> %-8s %-26s %9.0f decisions/s  %6.2f us each\n",
	    argv[1], argv[2], policy_effect_name(d.effect),
	    d.rule[0] ? d.rule : "(default deny)", ROUNDS / t, t / ROUNDS * 1e6);
	policy_free(p);
	al_buf_release(&text);
	return 0;
}

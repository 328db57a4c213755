/* Tests of the policy defined outside test_policy.c (policy_test_*.c). */
#ifndef POLICY_TEST_H
#define POLICY_TEST_H

void	test_policy_unknown_ancestors_make_a_deny_match(void **state);
void	test_policy_known_match_wins_over_unknown(void **state);
void	test_policy_unknown_exclusion_excludes_and_allow_is_passed_over(
	    void **state);
void	test_policy_unknown_repository_makes_a_deny_match(void **state);
void	test_policy_unknown_approver_exclusion_refuses(void **state);
void	test_policy_unevaluable_notes_each_pattern(void **state);

#endif

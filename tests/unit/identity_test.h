/* Tests of identity defined outside test_identity.c (identity_test_*.c). */
#ifndef IDENTITY_TEST_H
#define IDENTITY_TEST_H

void	test_ident_loader_variables_make_the_exe_untrusted(void **state);
void	test_ident_traced_process_exe_untrusted(void **state);
void	test_ident_code_the_user_can_change_makes_the_exe_untrusted(
	    void **state);
void	test_ident_refresh_refuses_a_process_that_called_exec(void **state);
void	test_ident_held_proc_entry_follows_the_process(void **state);
void	test_ident_held_exe_link_sees_an_exec(void **state);
void	test_ident_reparented_process_has_unknown_ancestry(void **state);
void	test_ident_supplementary_groups_are_selectors(void **state);
void	test_ident_conn_holders_names_a_process_sharing_the_connection(
	    void **state);

void	test_ident_cache_ancestor_exec_or_exit_is_walked_again(void **state);
void	test_ident_cache_sees_a_renamed_group(void **state);
void	test_ident_cache_reads_the_user_of_inits_child_each_walk(
	    void **state);

#endif

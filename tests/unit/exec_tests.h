/* Tests of test_exec that live in exec_tests_task.c. */
#ifndef EXEC_TESTS_H
#define EXEC_TESTS_H

void	test_exec_child_has_no_controlling_tty(void **state);
void	test_exec_pty_tty_output_is_filtered(void **state);
void	test_exec_pty_relays_window_size(void **state);
void	test_exec_daemonized_grandchild_is_ended(void **state);
void	test_exec_stubborn_daemon_gets_no_grace(void **state);
void	test_exec_timeout_ends_whole_task(void **state);
void	test_exec_cancel_fd_ends_whole_task(void **state);
void	test_exec_forwards_int_term_hup(void **state);
void	test_exec_preexisting_child_left_alone(void **state);
void	test_exec_hooks_report_start_and_exit(void **state);
void	test_exec_closed_reader_gives_child_sigpipe(void **state);
void	test_exec_stalled_reader_does_not_stall_timeout(void **state);
void	test_exec_pty_prompt_answered_quickly(void **state);
void	test_exec_pid_namespace_isolates_task(void **state);
void	test_exec_unusable_namespace_falls_back(void **state);

#endif

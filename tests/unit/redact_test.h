/*
 * Shared by the redactor's unit tests (test_redact.c and the files listed
 * in test_redact.cmake): helpers and the tests defined outside the main
 * file.
 */
#ifndef REDACT_TEST_H
#define REDACT_TEST_H

#include <stddef.h>

#include "airlock/redact.h"

#define MB	(1024 * 1024)

extern const char ALNUM[];

/* Output sink; checks after every write. */
struct sink {
	struct al_buf	 b;
	size_t		 calls;
};

/* A random canary of n characters of alpha, NUL terminated. */
void	canary(char *out, size_t n, const char *alpha);
/* A compiled redactor over the values (asserts on failure). */
struct redact *build(size_t n, const char **names, const void **vals,
	    const size_t *lens);
struct redact *build1(const char *name, const void *v, size_t n);
int	sink_emit(void *arg, const void *p, size_t n);
void	sink_init(struct sink *k);
/*
 * Mask in, written in pieces of the given sizes (cycled), into k, checking
 * the held bound after every write and the counters at the end.
 */
void	mask_split(const struct redact *r, const void *in, size_t n,
	    const size_t *sizes, size_t nsizes, struct sink *k);
/* The whole-buffer result as a C string (malloc'd). */
char	*mask_str(const struct redact *r, const void *in, size_t n);
void	assert_masked(const struct redact *r, const char *in,
	    const char *want);
int	contains(const void *hay, size_t hn, const void *needle, size_t nn);

void	test_redact_one_byte_at_a_time_never_shows_a_prefix(void **state);
void	test_redact_holding_does_not_depend_on_the_value(void **state);
void	test_redact_holds_the_same_bytes_whatever_they_are(void **state);
void	test_redact_pause_shows_a_prompt(void **state);
void	test_redact_holding_with_rules_does_not_depend_on_the_value(
	    void **state);
void	test_redact_end_of_input_masks_whole_values_only(void **state);
void	test_redact_longest_match_wins(void **state);
void	test_redact_multiline_value_whole_lines_and_crlf(void **state);
void	test_redact_wrapped_match_one_character_before_crlf(void **state);
void	test_redact_value_after_100_mb_of_output(void **state);
void	test_redact_value_inside_a_10_mb_line(void **state);
void	test_redact_random_splits_match_reference(void **state);
void	test_redact_wrapped_runs_match_reference(void **state);
void	test_redact_skip_filter_matches_reference(void **state);
void	test_redact_rule_hits_are_masked_and_lines_held(void **state);
void	test_redact_rule_window_is_bounded_and_errors_propagate(void **state);
void	test_redact_rules_on_big_writes_match_small_writes(void **state);
void	test_redact_write_more_defers_and_copies(void **state);
void	test_redact_lazy_rules_load_on_first_output_only(void **state);
void	test_redact_lazy_rules_failed_load_lets_nothing_through(void **state);
void	test_redact_armored_key_written_line_by_line(void **state);
void	test_redact_python_repr_of_non_ascii_quote_and_backslash(
	    void **state);
void	test_redact_bash_ansi_c_quoting_of_control_characters(void **state);
void	test_redact_json_escapes_del_in_both_cases(void **state);
void	test_redact_lower_case_percent_encoding_of_every_byte(void **state);

#endif

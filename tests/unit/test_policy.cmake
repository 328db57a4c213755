# ICU's loader (icu_dl.h) and the compiled policy are private to the policy.
include_directories("${CMAKE_SOURCE_DIR}/src/policy")
# The three-valued decisions (unknown selectors) live in their own file.
set(TEST_EXTRA_SOURCES
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/policy_test_unknown.c")

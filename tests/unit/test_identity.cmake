# What the broker must not believe (identity_test_trust.c).
set(TEST_EXTRA_SOURCES
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/identity_test_trust.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/identity_test_cache.c")

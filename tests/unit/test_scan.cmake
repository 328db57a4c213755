# The scan tests reach the component's private header (rule examples).
set(TEST_EXTRA_LIBS "")
include_directories("${CMAKE_SOURCE_DIR}/src/scan")

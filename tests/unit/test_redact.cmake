# The redactor's tests span several files.  The property test compares the
# stream with a naive reference that reads the compiled patterns through
# the component's private header; encodings are checked against independent
# libraries (jansson, libcurl).
set(TEST_EXTRA_SOURCES
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/redact_ref.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/redact_test_util.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/redact_test_stream.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/redact_test_rules.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/redact_test_encode.c")
set(TEST_EXTRA_LIBS PkgConfig::JANSSON PkgConfig::CURL)
include_directories("${CMAKE_SOURCE_DIR}/src/redact")

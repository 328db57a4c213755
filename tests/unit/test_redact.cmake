# The redactor's tests compare against a naive reference that reads the
# compiled patterns through the component's private header, and check
# encodings produced by independent libraries (jansson, libcurl).
set(TEST_EXTRA_SOURCES "${CMAKE_CURRENT_SOURCE_DIR}/unit/redact_ref.c")
set(TEST_EXTRA_LIBS PkgConfig::JANSSON PkgConfig::CURL)
include_directories("${CMAKE_SOURCE_DIR}/src/redact")

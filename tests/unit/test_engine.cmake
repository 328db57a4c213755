# The SCRAM verifier is checked through the component's private header.
set(TEST_EXTRA_LIBS PkgConfig::OPENSSL)
include_directories("${CMAKE_SOURCE_DIR}/src/engine")

# The test talks TLS through the proxy itself (the proxy loads OpenSSL at
# run time; the test links it).
pkg_check_modules(TEST_LIBSSL REQUIRED IMPORTED_TARGET libssl)
set(TEST_EXTRA_LIBS PkgConfig::OPENSSL PkgConfig::TEST_LIBSSL)

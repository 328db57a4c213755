# The child test_exec runs for the cases /bin/sh cannot express exactly
# (descriptor lists, memfd seals, /dev/tty, binary output, a daemon).  It is
# found next to the test binary.
add_executable(exec_probe "${CMAKE_CURRENT_SOURCE_DIR}/unit/exec_probe.c")
set(TEST_EXTRA_LIBS PkgConfig::SODIUM)

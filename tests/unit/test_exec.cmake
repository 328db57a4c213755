# exec_probe is the child test_exec runs for the cases /bin/sh cannot express
# exactly (descriptor lists, memfd seals, /dev/tty, binary output, a daemon);
# it is found next to the test binary.
add_executable(exec_probe "${CMAKE_CURRENT_SOURCE_DIR}/unit/exec_probe.c")
set(TEST_EXTRA_SOURCES "${CMAKE_CURRENT_SOURCE_DIR}/unit/exec_fixture.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/unit/exec_tests_task.c")
set(TEST_EXTRA_LIBS PkgConfig::SODIUM)

# bench/audit.sh: audit log appends per second, with and without group commit.
add_executable(bench_audit "${CMAKE_CURRENT_SOURCE_DIR}/audit_bench.c")
target_link_libraries(bench_audit PRIVATE al_audit)

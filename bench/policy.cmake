add_executable(bench_policy "${CMAKE_CURRENT_SOURCE_DIR}/policy_bench.c")
target_link_libraries(bench_policy PRIVATE al_policy)

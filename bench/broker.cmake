# bench/broker.sh: full lease cycles per second against a running broker.
find_package(Threads REQUIRED)
add_executable(bench_broker "${CMAKE_CURRENT_SOURCE_DIR}/broker_bench.c")
target_link_libraries(bench_broker PRIVATE al_client Threads::Threads)

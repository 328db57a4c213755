# bench/dynamic.sh: dynamic PostgreSQL credentials, and the same SQL from a
# bare libpq loop (the floor).
add_executable(bench_pg_floor "${CMAKE_CURRENT_SOURCE_DIR}/pg_floor.c")
target_link_libraries(bench_pg_floor PRIVATE PkgConfig::LIBPQ)

add_executable(bench_vault "${CMAKE_CURRENT_SOURCE_DIR}/vault.c")
target_link_libraries(bench_vault PRIVATE al_vault)

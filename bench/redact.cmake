add_executable(bench_redact "${CMAKE_CURRENT_SOURCE_DIR}/redact.c")
target_link_libraries(bench_redact PRIVATE al_redact al_base PkgConfig::SODIUM)

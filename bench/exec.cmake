add_executable(exec_bench "${CMAKE_CURRENT_SOURCE_DIR}/exec_bench.c")
target_link_libraries(exec_bench PRIVATE al_exec)

# bench/textguard.sh: what the broker's free-text check costs per field.
add_executable(bench_textguard "${CMAKE_CURRENT_SOURCE_DIR}/textguard.c")
target_include_directories(bench_textguard PRIVATE "${CMAKE_SOURCE_DIR}/src/broker")
target_link_libraries(bench_textguard PRIVATE al_broker)

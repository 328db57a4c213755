# bench/broker.sh: full lease cycles per second against a running broker.
find_package(Threads REQUIRED)
add_executable(bench_broker "${CMAKE_CURRENT_SOURCE_DIR}/broker_bench.c")
target_link_libraries(bench_broker PRIVATE al_client Threads::Threads)
# bench/http_floor.sh: the same load against a server that does nothing but
# the HTTP transport (libmicrohttpd as the broker drives it, or raw epoll).
add_executable(bench_http_floor "${CMAKE_CURRENT_SOURCE_DIR}/http_floor.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/http_floor_mhd.c"
	"${CMAKE_CURRENT_SOURCE_DIR}/http_floor_raw.c")
target_link_libraries(bench_http_floor PRIVATE al_base PkgConfig::MHD PkgConfig::SODIUM
	Threads::Threads)

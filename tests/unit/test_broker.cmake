# The transport's library loader (mhd_dl.h) is private to the broker.
include_directories("${CMAKE_SOURCE_DIR}/src/broker")

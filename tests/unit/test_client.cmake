# The reply parser (http.h) and the client's state are private to it.
include_directories("${CMAKE_SOURCE_DIR}/src/client")

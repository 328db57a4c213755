# ICU's loader (icu_dl.h) and the compiled policy are private to the policy.
include_directories("${CMAKE_SOURCE_DIR}/src/policy")

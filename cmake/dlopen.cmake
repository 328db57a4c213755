# Libraries airlock loads at run time with dlopen() instead of linking them,
# so that a command maps only what it uses (docs/dependencies.md).
#
# airlock_dlopen_lib(<target> <pkg> <name> <define>): compile <target> with
# the headers of pkg-config module <pkg> (found already with
# pkg_check_modules(<pkg> ... IMPORTED_TARGET)) without linking it, and
# define <define> as the SONAME of lib<name>.so as found now, e.g.
# "libmicrohttpd.so.12": the file dlopen() asks for is the one the headers belong
# to, never a guess.
#
# AIRLOCK_DL_MISSING (a test build, never a release): a list of <name>s
# whose SONAME is replaced by a file that does not exist, to see how a
# command fails when the library cannot be loaded.
include_guard(GLOBAL)

set(AIRLOCK_DL_MISSING "" CACHE STRING
	"Test builds only: library names (microhttpd, icui18n) whose SONAME points at a missing file")

function(airlock_soname out pkg name)
	set(path "")
	foreach(lib IN LISTS ${pkg}_LINK_LIBRARIES)
		get_filename_component(base "${lib}" NAME)
		if(base MATCHES "^lib${name}\\.so")
			set(path "${lib}")
		endif()
	endforeach()
	if(path STREQUAL "")
		message(FATAL_ERROR "pkg-config module ${pkg} has no "
			"lib${name}.so (its libraries: ${${pkg}_LINK_LIBRARIES})")
	endif()
	set(objdump "${CMAKE_OBJDUMP}")
	if(NOT objdump)
		find_program(objdump NAMES objdump llvm-objdump REQUIRED)
	endif()
	execute_process(COMMAND "${objdump}" -p "${path}"
		OUTPUT_VARIABLE dump RESULT_VARIABLE rc ERROR_QUIET)
	string(REGEX MATCH "SONAME[ \t]+([^ \t\r\n]+)" found "${dump}")
	if(NOT rc EQUAL 0 OR NOT found)
		message(FATAL_ERROR "cannot read the SONAME of ${path} with "
			"${objdump}")
	endif()
	set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

function(airlock_dlopen_lib target pkg name define)
	airlock_soname(soname ${pkg} ${name})
	if(name IN_LIST AIRLOCK_DL_MISSING)
		set(soname "${soname}.airlock-missing")
	endif()
	message(STATUS "${target}: lib${name} loaded at run time as ${soname}")
	target_include_directories(${target} PUBLIC ${${pkg}_INCLUDE_DIRS})
	target_compile_options(${target} PUBLIC ${${pkg}_CFLAGS_OTHER})
	# Public, so the component's unit test can load the same file.
	target_compile_definitions(${target} PUBLIC ${define}="${soname}")
endfunction()

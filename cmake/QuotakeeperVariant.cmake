# The library, described once: its sources, include directories, compile definitions, warnings
# and link dependencies. Every build of the sources takes them from here:
# - the real library (quotakeeper_objects, then quotakeeper and quotakeeper_static from its
#   objects) and the test-only variants (qk_lockchecked, qk_mutant, qk_state_hooked) through
#   qk_library_variant();
# - the fuzz harness, built by clang outside CMake's targets, through qk_library_command_line().
# A source, definition or dependency added here reaches all of them (docs/testing.md, "Library
# variants and build gates"). Included by the top-level CMakeLists.txt once Threads,
# QK_HAVE_ROBUST_MUTEX, QK_LOCK_CHECKS, QK_WARNINGS and QK_WERROR are known.

set(QK_LIB_SOURCES src/calendar.c src/error.c src/fault.c src/lockorder.c src/region.c src/service_def.c
  src/slot.c src/store/area.c src/store/engine.c src/store/guard.c src/store/health.c src/store/lease.c src/store/merge.c src/store/store.c src/store/sync.c src/store/thread.c
  src/ring.c src/tracker.c src/tracker_open.c src/tz.c src/window.c src/zone_table.c src/calendar_zoned.c)
list(TRANSFORM QK_LIB_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)

# Public include directories (a program linking a variant gets them too); src/ is private to the
# sources (and to test suites that link a WHITE_BOX variant).
set(QK_LIB_PUBLIC_INCLUDE_DIRS ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include)
set(QK_LIB_PRIVATE_INCLUDE_DIRS ${PROJECT_SOURCE_DIR}/src)

# Compile definitions of every variant; QK_LOCK_CHECKS is added per variant (LOCK_CHECKS).
set(QK_LIB_DEFINITIONS QK_BUILDING _GNU_SOURCE)
if(QK_HAVE_ROBUST_MUTEX)
  list(APPEND QK_LIB_DEFINITIONS QK_HAVE_ROBUST_MUTEX)
endif()
# Extra compiler flags optional dependencies need (their pkg-config cflags); none today.
set(QK_LIB_COMPILE_FLAGS "")

# Link dependencies. Public: what a program linking any variant needs as well. Private: the
# optional dependencies the sources use, added with qk_library_pkg_dependency() (none today).
# QK_LIB_LINK_FLAGS is the same set as flags, for a compiler run by hand (the fuzz harness).
set(QK_LIB_LINK_PUBLIC Threads::Threads)
set(QK_LIB_LINK_PRIVATE "")
set(QK_LIB_LINK_FLAGS -pthread)
# The pkg-config modules of those optional dependencies: the .pc's Requires.private, and what the
# installed package config finds (cmake/quotakeeperConfig.cmake.in) before the targets.
set(QK_PC_REQUIRES_PRIVATE "")

# qk_library_pkg_dependency(<pkg-config module>)
# An optional dependency of the library (hiredis, say, under its option): found with pkg-config
# here, linked privately into every variant and the fuzz harness, listed in the .pc's
# Requires.private and found again by the installed package config. A macro: it appends to the
# lists above in the caller's scope, which must be the top-level CMakeLists.txt, after this file
# is included and before the first variant.
macro(qk_library_pkg_dependency qk_module)
  find_package(PkgConfig REQUIRED)
  string(MAKE_C_IDENTIFIER "QK_DEP_${qk_module}" qk_dep)
  string(TOUPPER "${qk_dep}" qk_dep) # the same name the package config gives it
  pkg_check_modules(${qk_dep} REQUIRED IMPORTED_TARGET ${qk_module})
  list(APPEND QK_LIB_LINK_PRIVATE PkgConfig::${qk_dep})
  list(APPEND QK_LIB_COMPILE_FLAGS ${${qk_dep}_CFLAGS})
  list(APPEND QK_LIB_LINK_FLAGS ${${qk_dep}_LDFLAGS})
  list(APPEND QK_PC_REQUIRES_PRIVATE ${qk_module})
endmacro()

# Headers generated at build time that the sources include (the Redis merge script), and the
# targets that make them: every variant depends on the targets, and the fuzz harness's command
# on the headers. Filled by qk_library_embed_lua().
set(QK_LIB_GENERATED_HEADERS "")
set(QK_LIB_GENERATED_TARGETS "")

# qk_library_embed_lua(<script.lua> <header name> <C identifier>)
# A Lua script the sources include as `static const char <identifier>[]` from <header name>,
# made by cmake/embed_lua.cmake (CMake alone) in <build>/generated, which joins the private
# include directories; remade whenever the script or the embed script changes. A macro, for
# the top-level CMakeLists.txt like qk_library_pkg_dependency().
macro(qk_library_embed_lua qk_lua qk_header qk_name)
  set(qk_out ${PROJECT_BINARY_DIR}/generated/${qk_header})
  add_custom_command(OUTPUT ${qk_out}
    COMMAND ${CMAKE_COMMAND} -DIN=${qk_lua} -DOUT=${qk_out} -DNAME=${qk_name}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_lua.cmake
    DEPENDS ${qk_lua} ${PROJECT_SOURCE_DIR}/cmake/embed_lua.cmake
    COMMENT "Embedding ${qk_lua} as ${qk_name}" VERBATIM)
  add_custom_target(qk_embed_${qk_name} DEPENDS ${qk_out})
  list(APPEND QK_LIB_GENERATED_HEADERS ${qk_out})
  list(APPEND QK_LIB_GENERATED_TARGETS qk_embed_${qk_name})
  if(NOT "${PROJECT_BINARY_DIR}/generated" IN_LIST QK_LIB_PRIVATE_INCLUDE_DIRS)
    list(APPEND QK_LIB_PRIVATE_INCLUDE_DIRS ${PROJECT_BINARY_DIR}/generated)
  endif()
endmacro()

# qk_library_usage(<target>)
# What a program linking <target> needs: the public include directories and link dependencies.
# For the variants, and for quotakeeper and quotakeeper_static built from quotakeeper_objects.
function(qk_library_usage target)
  foreach(dir ${QK_LIB_PUBLIC_INCLUDE_DIRS})
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${dir}>)
  endforeach()
  target_include_directories(${target} PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PUBLIC ${QK_LIB_LINK_PUBLIC} PRIVATE ${QK_LIB_LINK_PRIVATE})
endfunction()

# qk_library_variant(<name> STATIC|SHARED|OBJECT [LOCK_CHECKS ON|OFF] [WHITE_BOX]
#                    [DEFINITIONS <definition>...] [SOURCES <file>...])
# The library's sources built as <name>, with its definitions, warnings and dependencies.
#   LOCK_CHECKS  compile the lock-order checker in or out (default: QK_LOCK_CHECKS);
#   WHITE_BOX    src/ on the public include path, for test suites that read the internals;
#   DEFINITIONS  extra private definitions (QK_TEST_HOOKS, QK_MUTANT_RACY_RECORD);
#   SOURCES      extra sources compiled with the library's (a mutant's replacement code).
function(qk_library_variant name type)
  cmake_parse_arguments(PARSE_ARGV 2 arg "WHITE_BOX" "LOCK_CHECKS" "DEFINITIONS;SOURCES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "qk_library_variant(${name}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT DEFINED arg_LOCK_CHECKS)
    set(arg_LOCK_CHECKS ${QK_LOCK_CHECKS})
  endif()
  set(definitions ${QK_LIB_DEFINITIONS})
  if(arg_LOCK_CHECKS)
    list(APPEND definitions QK_LOCK_CHECKS)
  endif()
  if(arg_WHITE_BOX)
    set(src_scope PUBLIC)
  else()
    set(src_scope PRIVATE)
  endif()

  add_library(${name} ${type} ${QK_LIB_SOURCES} ${arg_SOURCES})
  if(QK_LIB_GENERATED_TARGETS)
    add_dependencies(${name} ${QK_LIB_GENERATED_TARGETS})
  endif()
  qk_library_usage(${name})
  target_include_directories(${name} ${src_scope} ${QK_LIB_PRIVATE_INCLUDE_DIRS})
  target_compile_definitions(${name} PRIVATE ${definitions} ${arg_DEFINITIONS})
  target_compile_options(${name} PRIVATE ${QK_LIB_COMPILE_FLAGS} ${QK_WARNINGS})
  set_target_properties(${name} PROPERTIES
    POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
endfunction()

# qk_library_command_line(<compile-flags-var> <link-flags-var> <sources-var>
#                         [LOCK_CHECKS ON|OFF] [DEFINITIONS <definition>...])
# The same build as flags and a source list, for a compiler run by hand in a custom command
# (tests/fuzz): include directories (src/ included), definitions, warnings (and -Werror under
# QK_WERROR), then the link flags and the library's sources.
function(qk_library_command_line cflags_var ldflags_var sources_var)
  cmake_parse_arguments(PARSE_ARGV 3 arg "" "LOCK_CHECKS" "DEFINITIONS")
  if(NOT DEFINED arg_LOCK_CHECKS)
    set(arg_LOCK_CHECKS ${QK_LOCK_CHECKS})
  endif()
  set(flags "")
  foreach(dir ${QK_LIB_PUBLIC_INCLUDE_DIRS} ${QK_LIB_PRIVATE_INCLUDE_DIRS})
    list(APPEND flags -I${dir})
  endforeach()
  set(definitions ${QK_LIB_DEFINITIONS} ${arg_DEFINITIONS})
  if(arg_LOCK_CHECKS)
    list(APPEND definitions QK_LOCK_CHECKS)
  endif()
  foreach(def ${definitions})
    list(APPEND flags -D${def})
  endforeach()
  list(APPEND flags ${QK_LIB_COMPILE_FLAGS} ${QK_WARNINGS})
  if(QK_WERROR)
    list(APPEND flags -Werror)
  endif()
  set(${cflags_var} ${flags} PARENT_SCOPE)
  set(${ldflags_var} ${QK_LIB_LINK_FLAGS} PARENT_SCOPE)
  set(${sources_var} ${QK_LIB_SOURCES} PARENT_SCOPE)
endfunction()

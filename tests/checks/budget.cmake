# The hot path's instruction budget (docs/perf/hot-path.md, "The budget"; docs/testing.md):
# test `checks_hot_path_budget`, label `budget`. Included by tests/checks/CMakeLists.txt.
#
# The figures in hot_path_budget.txt were counted on an optimised library (RelWithDebInfo:
# -O2 -g -DNDEBUG, no lock-order checker, no sanitizer); a Debug build's counts mean nothing
# against them. So the test builds its own copy of the library, qk_budget_objects, from the same
# sources (cmake/QuotakeeperVariant.cmake) with the lock checks off and those flags last on the
# command line, where they win over the build type's (-g in Debug, -O3 -DNDEBUG in Release):
# whatever this build's type, its code is RelWithDebInfo's. A variant rather than a second
# configure of the tree: it follows every source the library gains and rebuilds with them, and
# costs one more compile of the library, no configure. The shared library made from those
# objects is the one whose .text is budgeted; the calls link the static one, as
# perf/qk_consume_cost does.
#
# Registered only where the figures can be reproduced: gcc of the major version they were
# counted with (the `compiler` line of hot_path_budget.txt), no sanitizer, no CMAKE_C_FLAGS of
# the builder's own, and valgrind (callgrind) on PATH; otherwise configure says why it is not.
set(qk_budget_file ${CMAKE_CURRENT_SOURCE_DIR}/hot_path_budget.txt)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${qk_budget_file})
file(STRINGS ${qk_budget_file} qk_budget_compiler REGEX "^compiler[ \t]")
string(REGEX REPLACE "^compiler[ \t]+([^ \t]+).*" "\\1" qk_budget_compiler "${qk_budget_compiler}")
string(REGEX MATCH "^[0-9]+" qk_budget_major "${CMAKE_C_COMPILER_VERSION}")
set(qk_budget_here "${CMAKE_C_COMPILER_ID}-${qk_budget_major}")
find_program(QK_CALLGRIND_ANNOTATE callgrind_annotate)
find_program(QK_SIZE NAMES size)

set(qk_budget_why "")
if(NOT qk_budget_here STREQUAL qk_budget_compiler)
  set(qk_budget_why "its figures are for ${qk_budget_compiler}, this is ${qk_budget_here}")
elseif(QK_SANITIZE)
  set(qk_budget_why "a sanitizer build (QK_SANITIZE=${QK_SANITIZE})")
elseif(NOT CMAKE_C_FLAGS STREQUAL "")
  set(qk_budget_why "CMAKE_C_FLAGS is set (${CMAKE_C_FLAGS}); the figures are for none")
elseif(NOT QK_VALGRIND OR NOT QK_CALLGRIND_ANNOTATE OR NOT QK_SIZE)
  set(qk_budget_why "valgrind, callgrind_annotate or size not found")
endif()

if(qk_budget_why)
  message(STATUS "checks_hot_path_budget: not registered: ${qk_budget_why}")
else()
  set(qk_budget_flags -O2 -g -DNDEBUG) # CMake's RelWithDebInfo, where the figures come from
  qk_library_variant(qk_budget_objects OBJECT LOCK_CHECKS OFF)
  target_compile_options(qk_budget_objects PRIVATE ${qk_budget_flags})
  add_library(qk_budget_static STATIC $<TARGET_OBJECTS:qk_budget_objects>)
  add_library(qk_budget_shared SHARED $<TARGET_OBJECTS:qk_budget_objects>)
  qk_library_usage(qk_budget_static)
  qk_library_usage(qk_budget_shared)

  # The calls, compiled as perf/consume_cost.c is: their loops count in every figure.
  add_executable(qk_checks_budget_calls budget_calls.c)
  target_link_libraries(qk_checks_budget_calls PRIVATE qk_test_support qk_budget_static)
  target_compile_definitions(qk_checks_budget_calls PRIVATE _GNU_SOURCE)
  # The measured loops are perf's own (perf/measure_calls.h): the same calls in both figures.
  target_include_directories(qk_checks_budget_calls PRIVATE ${PROJECT_SOURCE_DIR}/perf)
  target_compile_options(qk_checks_budget_calls PRIVATE ${QK_WARNINGS} ${qk_budget_flags})

  add_test(NAME checks_hot_path_budget
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hot_path_budget.sh ${qk_budget_file}
            $<TARGET_FILE:qk_checks_budget_calls> $<TARGET_FILE:qk_budget_shared>
            ${QK_VALGRIND} ${QK_CALLGRIND_ANNOTATE} ${QK_SIZE})
  set_tests_properties(checks_hot_path_budget PROPERTIES LABELS budget TIMEOUT 180)
endif()

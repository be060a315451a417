# mutation_seed_must_fail's verdict (tests/mutation/CMakeLists.txt). Runs the seed-scenario suite
# built against the racy-record mutant and passes only when that suite FAILS BY ASSERTION, with
# NAMED among the failures. A crash or a timeout is not a catch: it says the harness broke, not
# that the tests saw the lost update, so either one fails this check.
#
# cmake -DSUITE=<executable> -DNAMED=<suite::test> -P check_fails.cmake
# -DMUTANT=<words> names the mutant in the messages (the racy-record one by default).
if(NOT MUTANT)
  set(MUTANT "the racy-record mutant")
endif()
if(NOT SUITE OR NOT NAMED)
  message(FATAL_ERROR "usage: cmake -DSUITE=<exe> -DNAMED=<suite::test> -P check_fails.cmake")
endif()

execute_process(COMMAND ${SUITE} --jobs 2 --color=never
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 400)
set(all "${out}\n${err}")

string(REGEX MATCH
  "Synthesis: Tested: ([0-9]+) \\| Passing: ([0-9]+) \\| Failing: ([0-9]+) \\| Crashing: ([0-9]+)"
  synthesis "${all}")
if(NOT synthesis)
  message(FATAL_ERROR "${all}\nmutation check: no Synthesis line; the mutant suite did not run to "
                      "its end (exit status: ${rc})")
endif()
set(tested ${CMAKE_MATCH_1})
set(passing ${CMAKE_MATCH_2})
set(failing ${CMAKE_MATCH_3})
set(crashing ${CMAKE_MATCH_4})

# Criterion counts a timeout as failing, not crashing: find those by their line.
string(REGEX MATCHALL "\\[FAIL\\] [^\n]*: Timed out" timeouts "${all}")
string(REGEX MATCHALL "\\[FAIL\\] [^\n]*" fails "${all}")
string(REPLACE ";" "\n  " fail_list "${fails}")
message(STATUS "mutant suite: ${synthesis}\n  ${fail_list}")

if(crashing GREATER 0 OR timeouts)
  message(FATAL_ERROR "${all}\nmutation check: the mutant suite crashed or timed out "
                      "(${crashing} crashes; ${timeouts}); a catch must be an assertion")
endif()
if(failing EQUAL 0)
  message(FATAL_ERROR "${all}\nmutation check: all ${tested} tests PASSED against ${MUTANT}: they do "
                      "not catch it")
endif()
# An assertion failure reads "[FAIL] suite::test: (0.01s)"; a crash "...: CRASH!".
string(REGEX MATCH "\\[FAIL\\] ${NAMED}: \\(" named_failed "${all}")
if(NOT named_failed)
  message(FATAL_ERROR "${all}\nmutation check: ${NAMED} did not fail by assertion against "
                      "${MUTANT}")
endif()
message(STATUS "mutation check: ${failing} of ${tested} tests caught ${MUTANT}, "
               "${NAMED} among them")

# mutation_absent_from_real_library (tests/mutation/CMakeLists.txt): the real libraries carry no
# trace of the mutant. cmake -DNM=<nm> -DLIBS=<lib>|<lib>... -P check_absent.cmake
string(REPLACE "|" ";" libs "${LIBS}")
foreach(lib ${libs})
  execute_process(COMMAND ${NM} -A ${lib} OUTPUT_VARIABLE syms ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${lib} failed: ${err}")
  endif()
  string(REGEX MATCHALL "[^\n]*qk__mutant[^\n]*" found "${syms}")
  if(found)
    message(FATAL_ERROR "the mutant reached ${lib}:\n${found}")
  endif()
  message(STATUS "${lib}: no mutant symbol")
endforeach()

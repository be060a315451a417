# store_mutant_absent_from_real_library (tests/store/CMakeLists.txt): the real libraries carry no
# symbol of the store mutant and not the marker its script holds, which only
# tests/mutation/store_deltas.c compiles in (merge.lua's QK_MUTANT_STORE_DELTAS block); the
# mutant itself must carry both, or this check proves nothing. cmake -DNM=<nm> -DLIBS=<lib>|<lib>... -DMUTANT=<lib> -P check_absent.cmake
function(qk_scan lib found_sym found_marker)
  execute_process(COMMAND ${NM} -A ${lib} OUTPUT_VARIABLE syms ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${lib} failed: ${err}")
  endif()
  string(REGEX MATCHALL "[^\n]*qk__mutant_store[^\n]*" sym "${syms}")
  file(STRINGS ${lib} marker REGEX "QK_MUTANT_STORE_DELTAS")
  set(${found_sym} "${sym}" PARENT_SCOPE)
  set(${found_marker} "${marker}" PARENT_SCOPE)
endfunction()

qk_scan(${MUTANT} sym marker)
if(NOT sym OR NOT marker)
  message(FATAL_ERROR "the mutant ${MUTANT} lacks its symbol or marker: this check sees nothing")
endif()
string(REPLACE "|" ";" libs "${LIBS}")
foreach(lib ${libs})
  qk_scan(${lib} sym marker)
  if(sym OR marker)
    message(FATAL_ERROR "the store mutant reached ${lib}:\n${sym}\n${marker}")
  endif()
  message(STATUS "${lib}: no store mutant symbol or marker")
endforeach()

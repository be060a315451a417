# `cmake --build <build> --target uninstall`: removes every file the last `cmake --install` of
# this build directory wrote, as listed in its install_manifest.txt (CMake writes the list; it
# has no uninstall of its own). Then removes the directories the package owns (their name has
# "quotakeeper" in it) when they are left empty; shared ones such as lib/ or share/man/man3 stay.
# Run with -DQK_MANIFEST=<build>/install_manifest.txt.
if(NOT EXISTS "${QK_MANIFEST}")
  message(FATAL_ERROR "uninstall: ${QK_MANIFEST} not found: nothing was installed from this "
                      "build directory (run cmake --install first, or uninstall from the build "
                      "directory that installed)")
endif()
file(STRINGS "${QK_MANIFEST}" qk_files)
set(qk_dirs "")
foreach(f IN LISTS qk_files)
  if(IS_SYMLINK "${f}" OR EXISTS "${f}")
    message(STATUS "Uninstalling: ${f}")
    file(REMOVE "${f}")
    if(IS_SYMLINK "${f}" OR EXISTS "${f}")
      message(FATAL_ERROR "uninstall: could not remove ${f}")
    endif()
  else()
    message(STATUS "Not there (already removed): ${f}")
  endif()
  get_filename_component(d "${f}" DIRECTORY)
  list(APPEND qk_dirs "${d}")
endforeach()
list(REMOVE_DUPLICATES qk_dirs)
foreach(d IN LISTS qk_dirs)
  get_filename_component(name "${d}" NAME)
  if(name MATCHES "quotakeeper" AND IS_DIRECTORY "${d}")
    file(GLOB left "${d}/*")
    if(NOT left)
      message(STATUS "Removing empty directory: ${d}")
      file(REMOVE_RECURSE "${d}") # empty: file(REMOVE) does not take directories
    endif()
  endif()
endforeach()

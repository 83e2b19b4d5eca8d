# ctest install_prefix: `cmake --install` this build into a fresh temporary prefix, then run the
# installed binaries from there (another working folder, an empty HOME, no display): the CLI on the
# installed demo model, the GUI's --help, its demo screenshot (found through ../share/attnscope, not the
# source tree), and "Open with" (files as arguments). The .desktop entry is checked with
# desktop-file-validate where that is installed.
#   cmake -DBUILD=<build dir> -DPREFIX=<scratch prefix> -P install_test.cmake
cmake_minimum_required(VERSION 3.25)
foreach(v BUILD PREFIX)
  if(NOT ${v})
    message(FATAL_ERROR "install_test.cmake: -D${v}= is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
file(MAKE_DIRECTORY "${PREFIX}/home" "${PREFIX}/work")

function(run what)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=ATTNSCOPE_DEMO_MODEL --unset=ATTNSCOPE_DEMO_IMAGE
                          --unset=DISPLAY --unset=WAYLAND_DISPLAY --unset=QT_QPA_PLATFORM
                          HOME=${PREFIX}/home XDG_CONFIG_HOME=${PREFIX}/home/.config ${ARGN}
                  WORKING_DIRECTORY "${PREFIX}/work" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 240)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
  message(STATUS "ok: ${what}")
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${PREFIX}/p")
set(P "${PREFIX}/p")
set(share "${P}/share")
foreach(f bin/attnscope bin/attnscope-cli share/applications/attnscope.desktop
          share/icons/hicolor/scalable/apps/attnscope.svg share/icons/hicolor/16x16/apps/attnscope.png
          share/icons/hicolor/48x48/apps/attnscope.png share/icons/hicolor/256x256/apps/attnscope.png
          share/attnscope/resources/models/demo-vit/config.json share/attnscope/resources/models/demo-vit/model.safetensors
          share/attnscope/resources/models/demo-detr/model.safetensors
          share/attnscope/resources/images/fmnist-00-t-shirt-top-test19.png)
  if(NOT EXISTS "${P}/${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
file(READ "${share}/applications/attnscope.desktop" desktop)
foreach(line "Exec=attnscope %F" "Icon=attnscope" "Type=Application")
  string(FIND "${desktop}" "${line}" at)
  if(at LESS 0)
    message(FATAL_ERROR "attnscope.desktop lacks '${line}'")
  endif()
endforeach()
find_program(VALIDATE desktop-file-validate)
if(VALIDATE)
  run("desktop-file-validate" ${VALIDATE} "${share}/applications/attnscope.desktop")
else()
  message(STATUS "skipped: desktop-file-validate not installed (package desktop-file-utils)")
endif()

run("installed CLI on the installed demo model" "${P}/bin/attnscope-cli" info --model "${share}/attnscope/resources/models/demo-vit")
string(FIND "${OUT}" "\"layers\"" at)
if(at LESS 0)
  message(FATAL_ERROR "attnscope-cli info printed no model summary:\n${OUT}")
endif()
run("installed GUI --help without a display" "${P}/bin/attnscope" --help)
string(FIND "${OUT}" "--screenshot" at)
if(at LESS 0)
  message(FATAL_ERROR "attnscope --help printed no usage:\n${OUT}")
endif()
run("installed GUI: the installed demo, rendered with no display" "${P}/bin/attnscope" --screenshot demo.png)
run("installed GUI: Open with (files as arguments)" "${P}/bin/attnscope" --screenshot open-with.png --view overlay
    "${share}/attnscope/resources/images/scene-seed7-000.png" "${share}/attnscope/resources/models/demo-detr")
foreach(png demo.png open-with.png)
  file(SIZE "${PREFIX}/work/${png}" size)
  if(size LESS 1000)
    message(FATAL_ERROR "${png}: ${size} bytes")
  endif()
endforeach()
if(EXISTS "${PREFIX}/home/.config")
  file(GLOB_RECURSE written "${PREFIX}/home/.config/*")
  if(written)
    message(FATAL_ERROR "a --screenshot wrote settings: ${written}")
  endif()
endif()
message(STATUS "installed into ${P}: binaries, .desktop, icons, demo data: all work from there")

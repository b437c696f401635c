# The dashboard, built into a target (included by src/agent/CMakeLists.txt):
# connscope_embed_dashboard(<target>) installs the chart library from web/package-lock.json with
# `npm ci` in the build directory (the source tree stays clean; no CDN at run time) and compiles
# the page's files and the library's into <target> (web/embed_assets.cmake, src/agent/dashboard.h).
# Rebuilds when a web file or the lock changes.

set(CONNSCOPE_WEB_DIR ${CMAKE_CURRENT_LIST_DIR})

function(connscope_embed_dashboard target)
  find_program(CONNSCOPE_NPM npm REQUIRED)
  set(src ${CONNSCOPE_WEB_DIR})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/web)
  set(stamp ${work}/npm-ci.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${work}
    COMMAND ${CMAKE_COMMAND} -E copy ${src}/package.json ${src}/package-lock.json ${work}/
    COMMAND ${CMAKE_COMMAND} -E chdir ${work} ${CONNSCOPE_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
    DEPENDS ${src}/package.json ${src}/package-lock.json
    COMMENT "npm ci: the dashboard's chart library (web/package-lock.json)"
    VERBATIM)

  set(page ${src}/index.html ${src}/app.js ${src}/style.css)
  set(lib ${work}/node_modules/uplot/dist/uPlot.iife.min.js ${work}/node_modules/uplot/dist/uPlot.min.css)
  set(files ${page} ${lib})
  list(JOIN files "|" assets)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/dashboard_assets.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DASSETS=${assets} -P ${src}/embed_assets.cmake
    DEPENDS ${stamp} ${page} ${src}/embed_assets.cmake
    COMMENT "Embedding the dashboard (web/) into ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()

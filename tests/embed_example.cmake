# ctest script: install cb-lab into a fresh prefix, build native/examples/embed against it,
# run it, and check what it prints. Proves find_package(cblab) + `import cblab;` work.
# Inputs: BUILD_DIR, SOURCE_DIR, CXX.
set(prefix "${BUILD_DIR}/embed/prefix")
set(build "${BUILD_DIR}/embed/build")
file(REMOVE_RECURSE "${BUILD_DIR}/embed")
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "embed example: ${what} failed (${rc})\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
run("configure" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/native/examples/embed" -B "${build}" -G Ninja
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run("build" ${CMAKE_COMMAND} --build "${build}")
run("run" "${build}/embed")
message(STATUS "${last_output}")
if(NOT last_output MATCHES "2 requests, [0-9]+ steps, 29 prefill tokens, 8 output tokens")
  message(FATAL_ERROR "embed example printed something unexpected: ${last_output}")
endif()

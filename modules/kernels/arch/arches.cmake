# Per-ISA kernel instantiations. Each file includes the kernel templates and instantiates them
# for one xsimd arch; it is compiled with that arch's -m flags and no others.
set(_arch "${CMAKE_CURRENT_LIST_DIR}")
if(EMSCRIPTEN)
  # simd128 is chosen at compile time: the whole wasm build has -msimd128.
  target_sources(cblab PRIVATE "${_arch}/wasm.cpp")
  # wasm+relaxed: a module with relaxed SIMD in it does not load at all where the engine lacks
  # it, so it is not part of the library; a program links it to have the arch (the CLI and the
  # tests do, the page does not). Linking it also runs relaxed-simd.pre.js first under Node, and
  # links at -O0: Debian's binaryen (108) cannot read relaxed SIMD, and -O0 with WASM_BIGINT
  # keeps emcc from running it. The code was optimised when compiled (-O3).
  add_library(cblab_wasm_relaxed OBJECT "${_arch}/wasm_relaxed.cpp")
  set_target_properties(cblab_wasm_relaxed PROPERTIES CXX_SCAN_FOR_MODULES OFF)
  target_compile_features(cblab_wasm_relaxed PRIVATE cxx_std_20)
  target_compile_options(cblab_wasm_relaxed PRIVATE -mrelaxed-simd)
  target_link_libraries(cblab_wasm_relaxed PRIVATE cblab_xsimd)
  target_link_options(cblab_wasm_relaxed INTERFACE "SHELL:--pre-js ${_arch}/relaxed-simd.pre.js"
                      -O0 -sASSERTIONS=0 -sWASM_BIGINT)
  set_property(TARGET cblab_wasm_relaxed APPEND PROPERTY INTERFACE_LINK_DEPENDS "${_arch}/relaxed-simd.pre.js")
else()
  target_sources(cblab PRIVATE "${_arch}/sse2.cpp" "${_arch}/avx2.cpp" "${_arch}/avx512.cpp")
  set_source_files_properties("${_arch}/avx2.cpp" PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
  set_source_files_properties("${_arch}/avx512.cpp" PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512cd;-mavx512vl;-mavx512dq;-mavx512bw;-mavx2;-mfma")
endif()

# The sanitizer preset builds Debug (-O0), where xsimd's layers of small inline functions stay
# calls and the attention tests took 168 s under ASan (2 s in Release). -O1 on the kernels alone
# inlines them and keeps every sanitizer check; the rest of the build stays at -O0.
if(CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT EMSCRIPTEN)
  set_property(SOURCE "${_arch}/sse2.cpp" "${_arch}/avx2.cpp" "${_arch}/avx512.cpp"
               "${_arch}/../reference.cpp" "${_arch}/../ops.cpp"
               APPEND PROPERTY COMPILE_OPTIONS -O1)
endif()

# Per-ISA kernel instantiations. Each file includes the kernel templates and instantiates them
# for one xsimd arch; it is compiled with that arch's -m flags and no others.
set(_arch "${CMAKE_CURRENT_LIST_DIR}")
if(EMSCRIPTEN)
  # simd128 is chosen at compile time: the whole wasm build has -msimd128.
  target_sources(cblab PRIVATE "${_arch}/wasm.cpp")
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

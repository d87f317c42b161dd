# Toolchain for the wasm preset: Emscripten 3.1.69 unpacked by tools/setup.sh into .deps/.
set(CBLAB_EMSDK "${CMAKE_CURRENT_LIST_DIR}/../.deps/emscripten/usr/share/emscripten")
cmake_path(NORMAL_PATH CBLAB_EMSDK)
if(NOT EXISTS "${CBLAB_EMSDK}/em++")
  message(FATAL_ERROR "Emscripten not found at ${CBLAB_EMSDK}: run tools/setup.sh first")
endif()
include("${CBLAB_EMSDK}/cmake/Modules/Platform/Emscripten.cmake")

# Emscripten 3.1.69 has no module scanner of its own: this wrapper runs clang-scan-deps-19
# with the flags em++ would give clang (read at project(), hence set here).
set(CMAKE_CXX_COMPILER_CLANG_SCAN_DEPS "${CMAKE_CURRENT_LIST_DIR}/../tools/wasm-scan-deps.sh")
# ctest runs the wasm test binaries under Node.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/node)

# -msimd128: xsimd picks its wasm arch whenever __EMSCRIPTEN__ is defined, so SIMD is mandatory.
# -fexceptions: the shipped libc++ is built with JS exceptions; Catch2 needs them to report.
# -Wno-version-check: Debian's binaryen (108) is older than the one this emscripten expects.
set(CMAKE_CXX_FLAGS_INIT "-msimd128 -fexceptions -Wno-version-check")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fexceptions -sALLOW_MEMORY_GROWTH=1 -sSTACK_SIZE=1048576")
# Compile at -O3 but link at -O2: at -O3 emcc passes --no-stack-ir, which wasm-opt 108 rejects.
set(CMAKE_EXE_LINKER_FLAGS_RELEASE_INIT "-O2")

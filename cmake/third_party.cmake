# Third-party code as plain targets on the headers and sources that tools/setup.sh unpacked.
# xsimd's own CMake config is not used: it drags in xtl and -isystem /usr/include, which
# breaks the wasm dependency scan.
set(_deps "${CBLAB_DEPS}")
if(NOT EXISTS "${_deps}/xsimd/usr/include/xsimd/xsimd.hpp")
  message(FATAL_ERROR "xsimd not found under ${_deps}: run tools/setup.sh first")
endif()

add_library(cblab_xsimd INTERFACE)
target_include_directories(cblab_xsimd SYSTEM INTERFACE "${_deps}/xsimd/usr/include")

# nlohmann-json (header only, from Debian's nlohmann-json3-dev).
find_path(CBLAB_NLOHMANN_DIR nlohmann/json.hpp PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH REQUIRED)
add_library(cblab_json INTERFACE)
# Copy the single header into the build tree so that no -isystem /usr/include reaches wasm.
file(COPY "${CBLAB_NLOHMANN_DIR}/nlohmann" DESTINATION "${CMAKE_BINARY_DIR}/third_party/include")
target_include_directories(cblab_json SYSTEM INTERFACE
  "$<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/third_party/include>"
  "$<INSTALL_INTERFACE:include/cblab/third_party>")

if(CBLAB_BUILD_TESTS)
  add_library(cblab_catch2 STATIC "${_deps}/catch2/catch_amalgamated.cpp")
  target_include_directories(cblab_catch2 SYSTEM PUBLIC "${_deps}/catch2")
  # The test framework need not be fast: -O1 compiles it in 27 s of CPU instead of 38 at -O3.
  # (Debug builds keep -O0: under the sanitizers -O1 took three times as long.)
  target_compile_options(cblab_catch2 PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O1>)
endif()

if(EMSCRIPTEN)
  set(_imgui "${_deps}/imgui")
  add_library(cblab_imgui STATIC
    "${_imgui}/imgui.cpp" "${_imgui}/imgui_draw.cpp" "${_imgui}/imgui_tables.cpp"
    "${_imgui}/imgui_widgets.cpp" "${_imgui}/imgui_demo.cpp"
    "${_imgui}/backends/imgui_impl_glfw.cpp" "${_imgui}/backends/imgui_impl_opengl3.cpp")
  target_include_directories(cblab_imgui SYSTEM PUBLIC "${_imgui}" "${_imgui}/backends")
  target_compile_definitions(cblab_imgui PUBLIC IMGUI_IMPL_OPENGL_ES3 IMGUI_DISABLE_OBSOLETE_FUNCTIONS)
  target_compile_options(cblab_imgui PUBLIC "-sUSE_GLFW=3")
  target_link_options(cblab_imgui PUBLIC "-sUSE_GLFW=3" "-sMIN_WEBGL_VERSION=2" "-sMAX_WEBGL_VERSION=2")
endif()

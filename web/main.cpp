// main.cpp — the browser glue: a GLFW window on the page's canvas (WebGL2), Dear ImGui on it,
// the main loop, and the JS API (window.cblab in shell.html calls the two exports below).
// Everything the page shows lives in cblab.ui's App; this file only hosts it.
#include <GLFW/glfw3.h>
#include <emscripten.h>
#include <emscripten/html5.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
import cblab.ui;

namespace {

GLFWwindow* g_window = nullptr;
cblab::ui::App* g_app = nullptr;
bool g_first_frame = true;

// The JS API hands strings to JS as malloc'd copies; shell.html frees them.
char* to_js(const nlohmann::json& value) {
  const std::string text = value.dump();
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

void frame() {
  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  g_app->draw();
  ImGui::Render();
  int width = 0, height = 0;
  glfwGetFramebufferSize(g_window, &width, &height);
  glViewport(0, 0, width, height);
  glClearColor(0.106f, 0.114f, 0.137f, 1.f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  if (g_first_frame) {
    g_first_frame = false;
    EM_ASM(window.cblab.ready = true;);
  }
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE char* cblab_api_state() {
  return to_js(g_app ? g_app->state() : nlohmann::json{{"error", "not started"}});
}

// Runs an action; never throws into JS: errors come back as {"ok": false, "error": "..."}.
EMSCRIPTEN_KEEPALIVE char* cblab_api_act(const char* name, const char* args_json) {
  try {
    if (!g_app) throw std::runtime_error("the app has not started");
    const auto args = nlohmann::json::parse(args_json ? args_json : "{}");
    return to_js({{"ok", true}, {"state", g_app->act(name, args)}});
  } catch (const std::exception& e) {
    return to_js({{"ok", false}, {"error", e.what()}});
  }
}

}  // extern "C"

int main() {
  if (!glfwInit()) {
    EM_ASM(window.cblab.error = 'glfwInit failed';);
    return 1;
  }
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);  // crisp on high-DPI screens
  g_window = glfwCreateWindow(1280, 800, "cb-lab", nullptr, nullptr);
  if (!g_window) {
    EM_ASM(window.cblab.error = 'could not create a WebGL2 context';);
    return 1;
  }
  glfwMakeContextCurrent(g_window);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // no file system in the page
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(g_window, true);
  // With GLFW_SCALE_TO_MONITOR the selector must be "body": "#canvas" stops following resizes.
  ImGui_ImplGlfw_InstallEmscriptenCanvasResizeCallback("body");
  ImGui_ImplOpenGL3_Init("#version 300 es");

  static cblab::ui::App app;
  g_app = &app;
  emscripten_set_main_loop(frame, 0, false);
  return 0;
}

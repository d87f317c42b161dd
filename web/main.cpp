// main.cpp — the browser glue: a GLFW window on the page's canvas (WebGL2), Dear ImGui on it,
// the main loop, the JS API (window.cblab in shell.html calls the two exports below), the
// workload in the URL hash, and file import/export. Everything the page shows lives in
// cblab.ui's App; this file only hosts it.
#include <GLFW/glfw3.h>
#include <emscripten.h>
#include <emscripten/html5.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
import cblab.ui;

namespace {

GLFWwindow* g_window = nullptr;
cblab::ui::App* g_app = nullptr;
bool g_first_frame = true;
unsigned g_shared_revision = 0;
double g_frame_ms = 0.;  // CPU time of frame() in wasm (App::draw + ImGui + GL calls), average
int g_draw_calls = 0;    // glDrawElements calls of the last painted frame
unsigned long long g_frames_drawn = 0;  // frames whose picture changed, so went to WebGL
// The draw data of the picture on screen (see same_picture): the screen, then each draw list.
std::vector<unsigned char> g_picture_screen;
std::vector<std::vector<unsigned char>> g_picture_lists;
nlohmann::json g_repainted_by = nlohmann::json::array();  // windows that changed in the last painted frame
unsigned long long g_settle_passes = 0;  // second ImGui passes (see frame())
bool g_redraw_always = false;           // ?redraw=always: every frame goes to WebGL (to measure)

// The JS API hands strings to JS as malloc'd copies; shell.html frees them.
char* to_js(const nlohmann::json& value) {
  const std::string text = value.dump();
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

// The workload and configuration live in the URL hash (#w=<JSON>), so a link recreates the
// scenario. replaceState: stepping does not fill the browser history.
void share_in_url() {
  if (g_app->share_revision() == g_shared_revision) return;
  g_shared_revision = g_app->share_revision();
  const std::string json = g_app->shared_workload();
  EM_ASM({ history.replaceState(null, '', '#w=' + encodeURIComponent(UTF8ToString($0))); }, json.c_str());
}

// Whether this frame's ImGui draw data would paint exactly the picture already on the canvas:
// the same framebuffer size and, byte for byte, the same vertices, indices, clip rectangles and
// textures in every draw list. The GL output is a function of those alone (the font atlas never
// changes), so such a frame needs no GL call at all — and a WebGL canvas that is not drawn to
// keeps showing its last picture. SwiftShader rasterizes on the CPU; an idle page (nothing
// hovered, nothing running) then costs the App's own frame and no pixels.
// A changed frame records which windows' lists changed (state().repainted_by).
bool same_picture(const ImDrawData& data, int width, int height) {
  using Bytes = std::vector<unsigned char>;
  auto put = [](Bytes& out, const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    out.insert(out.end(), b, b + n);
  };
  Bytes screen;
  put(screen, &width, sizeof width);
  put(screen, &height, sizeof height);
  put(screen, &data.DisplayPos, sizeof data.DisplayPos);
  put(screen, &data.DisplaySize, sizeof data.DisplaySize);
  put(screen, &data.FramebufferScale, sizeof data.FramebufferScale);
  std::vector<Bytes> lists(data.CmdLists.Size);
  for (int i = 0; i < data.CmdLists.Size; ++i) {
    const ImDrawList* list = data.CmdLists[i];
    Bytes& out = lists[i];
    if (i < static_cast<int>(g_picture_lists.size())) out.reserve(g_picture_lists[i].size());
    put(out, list->VtxBuffer.Data, list->VtxBuffer.size_in_bytes());
    put(out, list->IdxBuffer.Data, list->IdxBuffer.size_in_bytes());
    for (const ImDrawCmd& c : list->CmdBuffer) {  // field by field: the struct has padding
      put(out, &c.ClipRect, sizeof c.ClipRect);
      put(out, &c.TextureId, sizeof c.TextureId);
      put(out, &c.VtxOffset, sizeof c.VtxOffset);
      put(out, &c.IdxOffset, sizeof c.IdxOffset);
      put(out, &c.ElemCount, sizeof c.ElemCount);
      put(out, &c.UserCallback, sizeof c.UserCallback);
    }
    const int sizes[] = {list->VtxBuffer.Size, list->IdxBuffer.Size, list->CmdBuffer.Size};
    put(out, sizes, sizeof sizes);  // where the buffers split, so two splits of the same bytes differ
  }
  if (screen == g_picture_screen && lists == g_picture_lists) return true;
  g_repainted_by = nlohmann::json::array();
  if (screen != g_picture_screen) g_repainted_by.push_back("(screen)");
  for (int i = 0; i < data.CmdLists.Size; ++i)
    if (i >= static_cast<int>(g_picture_lists.size()) || lists[i] != g_picture_lists[i])
      g_repainted_by.push_back(data.CmdLists[i]->_OwnerName ? data.CmdLists[i]->_OwnerName : "?");
  if (lists.size() < g_picture_lists.size()) g_repainted_by.push_back("(a window closed)");
  g_picture_screen.swap(screen);
  g_picture_lists.swap(lists);
  return false;
}

// One ImGui pass: the App lays out and draws every panel into ImGui's draw data.
void imgui_pass(cblab::ui::App::Pass pass) {
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  g_app->draw(pass);
  ImGui::Render();
}

void frame() {
  const double start = emscripten_get_now();
  glfwPollEvents();
  imgui_pass(cblab::ui::App::Pass::frame);
  int width = 0, height = 0;
  glfwGetFramebufferSize(g_window, &width, &height);
  if (!same_picture(*ImGui::GetDrawData(), width, height) || g_redraw_always) {
    // ImGui lays a frame out with what it measured in the previous one (content sizes, column
    // widths, scroll targets, what the mouse is over), so a frame that changed the picture
    // nearly always changes it once more in the next. A second pass settles it now: one
    // painted frame per change instead of two, and a hover shows its highlight a frame sooner.
    // The pass makes no step and is not counted as a frame.
    const nlohmann::json changed = g_repainted_by;
    imgui_pass(cblab::ui::App::Pass::settle);
    ++g_settle_passes;
    same_picture(*ImGui::GetDrawData(), width, height);  // what is painted now is on screen
    g_repainted_by = changed;
    g_draw_calls = 0;
    for (const ImDrawList* list : ImGui::GetDrawData()->CmdLists) g_draw_calls += list->CmdBuffer.Size;
    glViewport(0, 0, width, height);
    const ImVec4 bg = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);  // see main(): the windows' background
    glClearColor(bg.x, bg.y, bg.z, 1.f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    ++g_frames_drawn;
    g_app->count_drawn_frame();
  }
  share_in_url();
  const double ms = emscripten_get_now() - start;
  g_frame_ms = g_first_frame ? ms : 0.9 * g_frame_ms + 0.1 * ms;
  if (g_first_frame) {
    g_first_frame = false;
    EM_ASM(window.cblab.ready = true;);
  }
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE char* cblab_api_state() {
  if (!g_app) return to_js({{"error", "not started"}});
  nlohmann::json state = g_app->state();
  state["frame_ms"] = g_frame_ms;
  state["draw_calls"] = g_draw_calls;
  state["frames_drawn"] = g_frames_drawn;
  state["repainted_by"] = g_repainted_by;
  state["settle_passes"] = g_settle_passes;
  return to_js(state);
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
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);  // framebuffer in device pixels
  // The WebGL context: ImGui needs neither depth nor stencil, and an opaque canvas (no alpha)
  // is composited without blending. Each buffer not asked for is one less full-canvas buffer
  // that SwiftShader clears every frame. No multisampling (GLFW_SAMPLES stays 0).
  glfwWindowHint(GLFW_DEPTH_BITS, 0);
  glfwWindowHint(GLFW_STENCIL_BITS, 0);
  glfwWindowHint(GLFW_ALPHA_BITS, 0);
  g_window = glfwCreateWindow(1280, 800, "cb-lab", nullptr, nullptr);
  if (!g_window) {
    EM_ASM(window.cblab.error = 'could not create a WebGL2 context';);
    return 1;
  }
  glfwMakeContextCurrent(g_window);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  // The font atlas is sampled with GL_NEAREST (below): glyphs are drawn 1:1 at whole device
  // pixels, so nearest and bilinear filtering give the same text, and SwiftShader's nearest
  // sampler is cheaper: on a painted frame of 64 requests it saved its raster threads 1-28 ms
  // of CPU out of ~65-75 (web/tests/fps_probe.mjs, "always" vs "linear"). Thick lines then
  // cannot come from baked textures (they need bilinear filtering): ImGui draws them as
  // polygons with anti-aliased edges. ?filter=linear restores both, for comparison.
  const bool linear_filter = EM_ASM_INT({ return new URLSearchParams(location.search).get('filter') === 'linear'; });
  if (!linear_filter) io.Fonts->Flags |= ImFontAtlasFlags_NoBakedLines;
  io.IniFilename = nullptr;  // no file system in the page
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui::StyleColorsDark();
  ImGui::GetStyle().WindowRounding = 3.f;
  // The windows tile the canvas, so they need no background of their own: the clear colour
  // is it. SwiftShader (no GPU) rasterizes every pixel on the CPU; dropping the full-screen
  // blended backgrounds cut its raster threads' CPU per frame from ~95 to ~34 ms for the empty
  // page and from ~155 to ~73 ms with 64 requests (web/tests/fps_probe.mjs, same load).
  ImVec4& bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
  bg = ImVec4(bg.x * bg.w + 0.106f * (1 - bg.w), bg.y * bg.w + 0.114f * (1 - bg.w),
              bg.z * bg.w + 0.137f * (1 - bg.w), 0.f);  // the colour it showed, drawn by glClear
  // High-DPI: ImGui works in CSS pixels; the glyphs are rasterized at device pixels and drawn
  // at 1/dpr, so text stays crisp instead of being magnified.
  const float dpr = static_cast<float>(emscripten_get_device_pixel_ratio());
  ImFontConfig font;
  font.SizePixels = 13.f * dpr;
  font.OversampleH = font.OversampleV = 1;
  io.Fonts->AddFontDefault(&font);
  io.FontGlobalScale = 1.f / dpr;
  ImGui_ImplGlfw_InitForOpenGL(g_window, true);
  // With GLFW_SCALE_TO_MONITOR the selector must be "body": "#canvas" stops following resizes.
  ImGui_ImplGlfw_InstallEmscriptenCanvasResizeCallback("body");
  ImGui_ImplOpenGL3_Init("#version 300 es");
  ImGui_ImplOpenGL3_CreateDeviceObjects();  // the font texture, now, to set its filter
  if (!linear_filter) {
    glBindTexture(GL_TEXTURE_2D, static_cast<GLuint>(reinterpret_cast<std::intptr_t>(io.Fonts->TexID)));
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  }

  g_redraw_always = EM_ASM_INT({ return new URLSearchParams(location.search).get('redraw') === 'always'; });

  static cblab::ui::App app;
  app.on_import_file = [] { EM_ASM(cblabImportFile();); };
  app.on_export_file = [](const std::string& name, const std::string& text) {
    EM_ASM({ cblabSaveFile(UTF8ToString($0), UTF8ToString($1)); }, name.c_str(), text.c_str());
  };
  g_app = &app;
  // A shared link (#w=<workload JSON>) recreates its scenario; a bad one leaves the default
  // scenario and the page says why.
  if (char* shared = static_cast<char*>(EM_ASM_PTR({
        const m = location.hash.match(/^#w=(.*)$/);
        return m ? stringToNewUTF8(decodeURIComponent(m[1])) : 0;
      }))) {
    try {
      app.act("load_workload", {{"json", std::string(shared)}});
    } catch (const std::exception&) {
      // The message is on the page (Workload panel) and in state().error.
    }
    std::free(shared);
  }
  emscripten_set_main_loop(frame, 0, false);
  return 0;
}

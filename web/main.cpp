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
#include <algorithm>
#include <cmath>
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
  EM_ASM({ history.replaceState(null, "", "#w=" + encodeURIComponent(UTF8ToString($0))); }, json.c_str());
}

using Bytes = std::vector<unsigned char>;
void put(Bytes& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  out.insert(out.end(), b, b + n);
}

// The canvas a picture is painted for: its size in pixels, and ImGui's display rectangle and scale.
Bytes screen_of(const ImDrawData& data, int width, int height) {
  Bytes out;
  put(out, &width, sizeof width);
  put(out, &height, sizeof height);
  put(out, &data.DisplayPos, sizeof data.DisplayPos);
  put(out, &data.DisplaySize, sizeof data.DisplaySize);
  put(out, &data.FramebufferScale, sizeof data.FramebufferScale);
  return out;
}

// Whether this frame's ImGui draw data would paint exactly the picture already on the canvas:
// the same framebuffer size and, byte for byte, the same vertices, indices, clip rectangles and
// textures in every draw list. The GL output is a function of those alone (the font atlas never
// changes), so such a frame needs no GL call at all — and a WebGL canvas that is not drawn to
// keeps showing its last picture. SwiftShader rasterizes on the CPU; an idle page (nothing
// hovered, nothing running) then costs the App's own frame and no pixels.
// A changed frame records which windows' lists changed (state().repainted_by).
bool same_picture(const ImDrawData& data, int width, int height) {
  Bytes screen = screen_of(data, width, height);
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

// Partial repaint. The canvas keeps its pixels between frames (preserveDrawingBuffer, see
// main()), so a changed frame needs new pixels only where its triangles differ from those of
// the picture on screen. Each draw list is kept as its sequence of triangles (three vertices,
// the clip rectangle and the texture: all a triangle's pixels depend on). A pixel's colour is
// the blend, in draw order, of the triangles covering it; if no triangle that differs covers
// it, the same triangles cover it in the same order, so it keeps its colour. The dirty region
// is therefore the bounding boxes of the triangles that differ, old and new, list by list
// (lists that appeared or vanished: all of theirs). Those rectangles are cleared and every
// draw list is drawn again clipped to them, so what lies under a change is re-drawn in order.
struct Triangle {
  ImDrawVert v[3];
  ImVec4 clip;
  ImTextureID texture;
  bool operator==(const Triangle& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
};
static_assert(sizeof(Triangle) == 3 * sizeof(ImDrawVert) + sizeof(ImVec4) + sizeof(ImTextureID), "no padding");

// A rectangle of framebuffer pixels, rows from the top: [x0, x1) x [y0, y1).
struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool empty() const { return x1 <= x0 || y1 <= y0; }
  long long area() const { return empty() ? 0 : 1LL * (x1 - x0) * (y1 - y0); }
};
Rect unite(const Rect& a, const Rect& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return {std::min(a.x0, b.x0), std::min(a.y0, b.y0), std::max(a.x1, b.x1), std::max(a.y1, b.y1)};
}
Rect intersect(const Rect& a, const Rect& b) {
  return {std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1), std::min(a.y1, b.y1)};
}

// The framebuffer pixels the OpenGL3 backend's glScissor gives a command (the same float to int
// conversions as ImGui_ImplOpenGL3_RenderDrawData), as a Rect.
Rect scissor_of(const ImVec4& clip, const ImDrawData& data, int fb_height) {
  const ImVec2 off = data.DisplayPos, scale = data.FramebufferScale;
  const ImVec2 lo((clip.x - off.x) * scale.x, (clip.y - off.y) * scale.y);
  const ImVec2 hi((clip.z - off.x) * scale.x, (clip.w - off.y) * scale.y);
  if (hi.x <= lo.x || hi.y <= lo.y) return {};
  const int x = static_cast<int>(lo.x), w = static_cast<int>(hi.x - lo.x);
  const int gl_y = static_cast<int>(static_cast<float>(fb_height) - hi.y), h = static_cast<int>(hi.y - lo.y);
  return {x, fb_height - (gl_y + h), x + w, fb_height - gl_y};
}

// The pixels a triangle may touch: its vertices' box, one pixel wider on each side (rasterizer
// rounding), within its command's scissor.
Rect box_of(const Triangle& t, const ImDrawData& data, int fb_height) {
  const ImVec2 off = data.DisplayPos, scale = data.FramebufferScale;
  float x0 = t.v[0].pos.x, y0 = t.v[0].pos.y, x1 = x0, y1 = y0;
  for (const ImDrawVert& v : t.v) {
    x0 = std::min(x0, v.pos.x), y0 = std::min(y0, v.pos.y);
    x1 = std::max(x1, v.pos.x), y1 = std::max(y1, v.pos.y);
  }
  const Rect r{static_cast<int>(std::floor((x0 - off.x) * scale.x)) - 1, static_cast<int>(std::floor((y0 - off.y) * scale.y)) - 1,
               static_cast<int>(std::ceil((x1 - off.x) * scale.x)) + 1, static_cast<int>(std::ceil((y1 - off.y) * scale.y)) + 1};
  return intersect(r, scissor_of(t.clip, data, fb_height));
}

std::vector<Triangle> triangles_of(const ImDrawList& list) {
  std::vector<Triangle> out;
  out.reserve(list.IdxBuffer.Size / 3);
  for (const ImDrawCmd& c : list.CmdBuffer) {
    for (unsigned i = 0; i + 2 < c.ElemCount; i += 3) {
      Triangle t;
      std::memset(&t, 0, sizeof t);
      for (int k = 0; k < 3; ++k) t.v[k] = list.VtxBuffer[c.VtxOffset + list.IdxBuffer[c.IdxOffset + i + k]];
      t.clip = c.ClipRect;
      t.texture = c.TextureId;
      out.push_back(t);
    }
  }
  return out;
}

// The rectangles to repaint for one list: the boxes of the triangles that differ between the
// picture on screen (`old`) and the new one. Triangles equal at the start and at the end are
// skipped; in between, equal-length sequences are compared triangle by triangle (a highlight
// changes colours, not counts), otherwise every triangle in between is dirty, old and new.
void dirty_boxes(const std::vector<Triangle>& old, const std::vector<Triangle>& now, const ImDrawData& data,
                 int fb_height, std::vector<Rect>& out) {
  std::size_t head = 0;
  while (head < old.size() && head < now.size() && old[head] == now[head]) ++head;
  std::size_t tail = 0;
  while (tail < old.size() - head && tail < now.size() - head && old[old.size() - 1 - tail] == now[now.size() - 1 - tail]) ++tail;
  // Consecutive triangles usually touch (a glyph's two, a row's cells): one box for a run.
  Rect run;
  auto add = [&](const Triangle& t) {
    const Rect b = box_of(t, data, fb_height);
    if (b.empty()) return;
    const Rect u = unite(run, b);
    if (!run.empty() && u.area() > run.area() + b.area()) out.push_back(run), run = b;
    else run = u;
  };
  if (old.size() == now.size()) {
    for (std::size_t i = head; i < old.size() - tail; ++i)
      if (!(old[i] == now[i])) add(old[i]), add(now[i]);
  } else {
    for (std::size_t i = head; i < old.size() - tail; ++i) add(old[i]);
    for (std::size_t i = head; i < now.size() - tail; ++i) add(now[i]);
  }
  if (!run.empty()) out.push_back(run);
}

// Few rectangles, little area: each rectangle adds a draw call for every command that reaches
// it, so boxes that overlap or nearly touch become one, and at most kMaxPasses remain (the pair
// whose union adds the least area merges first).
constexpr int kMaxPasses = 8;
constexpr long long kPassCost = 64 * 64;  // a rectangle costs about as much as this many pixels
constexpr std::size_t kMaxClusters = 64;
std::vector<Rect> merge_boxes(const std::vector<Rect>& all) {
  // First, in one pass, each box joins the first cluster it is worth merging with: a tooltip's
  // glyphs become one box, and a tooltip that moved becomes two (where it was, where it is).
  std::vector<Rect> boxes;
  for (const Rect& b : all) {
    auto near = std::find_if(boxes.begin(), boxes.end(), [&](const Rect& c) {
      return unite(c, b).area() <= c.area() + b.area() + kPassCost;
    });
    if (near != boxes.end()) {
      *near = unite(*near, b);
    } else if (boxes.size() < kMaxClusters) {
      boxes.push_back(b);
    } else {  // changes scattered everywhere (a step): one rectangle, without the quadratic search
      Rect whole;
      for (const Rect& r : all) whole = unite(whole, r);
      return {whole};
    }
  }
  for (bool merged = true; merged;) {  // until no pair is worth merging
    merged = false;
    for (std::size_t i = 0; i < boxes.size(); ++i)
      for (std::size_t j = i + 1; j < boxes.size();) {
        const Rect u = unite(boxes[i], boxes[j]);
        if (u.area() <= boxes[i].area() + boxes[j].area() + kPassCost) {
          boxes[i] = u, boxes.erase(boxes.begin() + j), merged = true;
          j = i + 1;  // the grown box may now reach one already passed
        } else {
          ++j;
        }
      }
  }
  while (boxes.size() > kMaxPasses) {
    std::size_t bi = 0, bj = 1;
    long long best = -1;
    for (std::size_t i = 0; i < boxes.size(); ++i)
      for (std::size_t j = i + 1; j < boxes.size(); ++j) {
        const long long extra = unite(boxes[i], boxes[j]).area() - boxes[i].area() - boxes[j].area();
        if (best < 0 || extra < best) best = extra, bi = i, bj = j;
      }
    boxes[bi] = unite(boxes[bi], boxes[bj]);
    boxes.erase(boxes.begin() + bj);
  }
  for (bool merged = true; merged;) {  // rectangles that overlap become one: paint() needs them apart
    merged = false;
    for (std::size_t i = 0; i < boxes.size() && !merged; ++i)
      for (std::size_t j = i + 1; j < boxes.size() && !merged; ++j)
        if (!intersect(boxes[i], boxes[j]).empty())
          boxes[i] = unite(boxes[i], boxes[j]), boxes.erase(boxes.begin() + j), merged = true;
  }
  return boxes;
}

// The picture on screen, as triangles per draw list, and the screen it was painted for.
std::vector<std::vector<Triangle>> g_painted;
std::vector<unsigned char> g_painted_screen;
bool g_partial = true;                   // ?paint=full: every painted frame repaints the whole canvas
nlohmann::json g_paint_rects = nlohmann::json::array();  // the rectangles of the last paint
double g_painted_fraction = 0.;          // their area over the canvas's
unsigned long long g_partial_paints = 0;  // paints that repainted only rectangles
double g_painted_canvases = 0.;          // the sum of painted_fraction over all paints

// Paints ImGui's draw data: the whole canvas, or only the rectangles where it differs from the
// picture on screen (see Triangle).
void paint(ImDrawData& data, int width, int height, const std::vector<unsigned char>& screen) {
  std::vector<std::vector<Triangle>> now(data.CmdLists.Size);
  bool full = !g_partial || screen != g_painted_screen;
  for (int i = 0; i < data.CmdLists.Size; ++i) {
    now[i] = triangles_of(*data.CmdLists[i]);
    for (const ImDrawCmd& c : data.CmdLists[i]->CmdBuffer) full = full || c.UserCallback != nullptr;
  }
  std::vector<Rect> rects;
  long long area = 0;
  const Rect canvas{0, 0, width, height};
  if (!full) {
    std::vector<Rect> boxes;
    static const std::vector<Triangle> none;
    for (std::size_t i = 0; i < std::max(now.size(), g_painted.size()); ++i)
      dirty_boxes(i < g_painted.size() ? g_painted[i] : none, i < now.size() ? now[i] : none, data, height, boxes);
    for (const Rect& r : merge_boxes(boxes))
      if (const Rect c = intersect(r, canvas); !c.empty()) rects.push_back(c), area += c.area();
    full = area > canvas.area() / 2;  // then one pass over everything costs less
  }
  g_painted.swap(now);
  g_painted_screen = screen;
  if (full) rects = {canvas}, area = canvas.area();
  g_paint_rects = nlohmann::json::array();
  for (const Rect& r : rects) g_paint_rects.push_back({r.x0, r.y0, r.x1, r.y1});
  g_painted_fraction = static_cast<double>(area) / static_cast<double>(std::max(1LL, canvas.area()));
  g_painted_canvases += g_painted_fraction;

  glViewport(0, 0, width, height);
  const ImVec4 bg = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);  // see main(): the windows' background
  glClearColor(bg.x, bg.y, bg.z, 1.f);
  if (full) {
    glDisable(GL_SCISSOR_TEST);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(&data);
    return;
  }
  ++g_partial_paints;
  // The rectangles are cleared, then every list is drawn once more with only its triangles that
  // reach a rectangle, each command split into one per rectangle with the scissor cut to it, in
  // whole pixels: the backend turns the clip rectangles given here back into exactly these
  // pixels (DisplayPos and a power-of-two FramebufferScale keep the floats exact). The
  // rectangles do not overlap, so each pixel still gets its triangles once and in draw order;
  // and the rasterizer (on the CPU, in headless Chromium) only sees the triangles near a change.
  glEnable(GL_SCISSOR_TEST);
  for (const Rect& r : rects) {
    glScissor(r.x0, height - r.y1, r.x1 - r.x0, r.y1 - r.y0);
    glClear(GL_COLOR_BUFFER_BIT);
  }
  const ImVec2 off = data.DisplayPos, scale = data.FramebufferScale;
  std::vector<ImVector<ImDrawCmd>> cmds(data.CmdLists.Size);
  std::vector<ImVector<ImDrawIdx>> idx(data.CmdLists.Size);
  ImDrawData cut = data;
  cut.CmdLists.clear();
  for (int l = 0; l < data.CmdLists.Size; ++l) {
    const ImDrawList& list = *data.CmdLists[l];
    const std::vector<Triangle>& triangles = g_painted[l];  // this frame's, command by command
    std::size_t first = 0;                                 // the command's first triangle in them
    for (const ImDrawCmd& c : list.CmdBuffer) {
      const std::size_t count = c.ElemCount / 3;
      const Rect scissor = scissor_of(c.ClipRect, data, height);
      for (const Rect& r : rects) {
        const Rect s = intersect(scissor, r);
        if (s.empty()) continue;
        ImDrawCmd part = c;
        part.ClipRect = ImVec4(s.x0 / scale.x + off.x, s.y0 / scale.y + off.y, s.x1 / scale.x + off.x, s.y1 / scale.y + off.y);
        part.IdxOffset = static_cast<unsigned>(idx[l].Size);
        for (std::size_t t = 0; t < count; ++t)
          if (!intersect(box_of(triangles[first + t], data, height), s).empty())
            for (std::size_t k = 0; k < 3; ++k) idx[l].push_back(list.IdxBuffer[c.IdxOffset + 3 * t + k]);
        part.ElemCount = static_cast<unsigned>(idx[l].Size) - part.IdxOffset;
        if (part.ElemCount > 0) cmds[l].push_back(part);
      }
      first += count;
    }
    if (!cmds[l].empty()) cut.CmdLists.push_back(data.CmdLists[l]);
  }
  cut.CmdListsCount = cut.CmdLists.Size;
  for (int l = 0; l < data.CmdLists.Size; ++l) data.CmdLists[l]->CmdBuffer.swap(cmds[l]), data.CmdLists[l]->IdxBuffer.swap(idx[l]);
  ImGui_ImplOpenGL3_RenderDrawData(&cut);
  for (int l = 0; l < data.CmdLists.Size; ++l) data.CmdLists[l]->CmdBuffer.swap(cmds[l]), data.CmdLists[l]->IdxBuffer.swap(idx[l]);
  glDisable(GL_SCISSOR_TEST);
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
    paint(*ImGui::GetDrawData(), width, height, screen_of(*ImGui::GetDrawData(), width, height));
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
  state["paint_rects"] = g_paint_rects;
  state["painted_fraction"] = g_painted_fraction;
  state["partial_paints"] = g_partial_paints;
  state["painted_canvases"] = g_painted_canvases;
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
  // Partial repaint (see paint()) needs a canvas that keeps its pixels once they are shown:
  // preserveDrawingBuffer. GLFW has no hint for it, but a canvas has only one WebGL context, so
  // the context created here first, with the attributes above, is the one glfwCreateWindow gets.
  // ?redraw=always and ?paint=full repaint the whole canvas; ?preserve=0 (only with those)
  // drops preserveDrawingBuffer, to measure what it costs.
  g_redraw_always = EM_ASM_INT({ return new URLSearchParams(location.search).get('redraw') === 'always'; });
  g_partial = !g_redraw_always && EM_ASM_INT({ return new URLSearchParams(location.search).get('paint') !== 'full'; });
  const bool preserve = g_partial || EM_ASM_INT({ return new URLSearchParams(location.search).get('preserve') !== '0'; });
  EM_ASM({
    Module.canvas.getContext('webgl2', {alpha: false, depth: false, stencil: false, antialias: false,
                                        preserveDrawingBuffer: !!$0});
  }, preserve);
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

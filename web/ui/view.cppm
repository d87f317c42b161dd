// cblab.ui:view — what the panels share within a frame: the selected step, what the mouse is
// over (so hovering a block in one panel highlights its request in every other), the commands
// buttons ask for, and the screen rectangles tests use to click and hover.
//
// Panels only read the Session. A button pushes a Command (a name and JSON arguments); the
// App runs it after the frame through act(), the very function the JS API calls, so a click
// and a test's action take one path and report errors the same way.
module;
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
export module cblab.ui:view;

export namespace cblab::ui {

struct Hover {
  int request = -1;  // request index
  int block = -1;    // physical KV block id
  int step = -1;     // step column of the timeline
  int token = -1;    // token row of the selected step's batch
};

struct Command {
  std::string name;
  nlohmann::json args;
};

struct View {
  int selected_step = -1;  // -1 before the first step
  Hover hover;             // last frame's: what panels highlight now
  Hover next_hover;        // this frame's, filled by the panels as they draw
  std::vector<Command> commands;
  std::map<std::string, std::array<float, 4>> widgets;  // name -> x0, y0, x1, y1 (CSS px)
  nlohmann::json geometry = nlohmann::json::object();   // canvas layouts, for tests
  std::vector<std::string> tooltip;                     // this frame's tooltip lines (tip())
  std::string message;                                  // the last action's outcome
  bool message_is_error = false;
  bool playing = false;          // Run: steps at steps_per_second until every request is done
  float steps_per_second = 8.f;
  float frames_per_second = 0.f;  // the App's frame loop, over the last second
  float paints_per_second = 0.f;  // of those, frames whose picture changed and was painted

  void begin_frame();
  void push(std::string name, nlohmann::json args = nlohmann::json::object());
  // Remembers the last ImGui item's rectangle (or the current window's) under a name.
  void remember(const std::string& name);
  void remember_window(const std::string& name);
  // One line of a tooltip (inside BeginTooltip/EndTooltip), kept for tests in `tooltip`.
  void tip(std::string line);
};

// One colour per request, spread around the hue circle by the golden ratio (ImU32, ABGR).
unsigned request_color(int request, float value = 0.92f, float alpha = 1.f);
// "prefill", "decode", ... for tooltips and the JS state.
const char* activity_name(int activity);
// One legend entry (a colour swatch and its label) on the current line, wrapping to the next
// line when the window has no room left for it. End a legend with ImGui::NewLine().
void legend_swatch(unsigned color, const char* label);

}  // namespace cblab::ui

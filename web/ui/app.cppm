// cblab.ui — the page's panels, written against Dear ImGui only (no browser, no GLFW), so a
// native window could draw the very same App. web/main.cpp owns the platform and the loop.
//
//   :session    the engine run and its step history (time travel)
//   :scenarios  one-click workloads
//   :view       what panels share in a frame: selection, hover, commands, widget rectangles
//   panels/     one struct per panel, each with draw(session, view)
//
// The App is also what tests drive: state() is the plain value the JS API returns, and act()
// runs the same actions the buttons run (buttons push commands that the App passes to act()).
// Bad arguments throw std::invalid_argument with a message naming the argument, the value and
// what is allowed; the App is left unchanged and the message is shown in the page too.
module;
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
export module cblab.ui;

export import :session;
export import :scenarios;
export import :view;
export import :controls;
export import :workload_panel;
export import :timeline;
export import :ragged_batch;
export import :paged_kv;
export import :requests_table;
export import :metrics;
export import :log;
export import :attention;

export namespace cblab::ui {

class App {
 public:
  App();
  // A frame's first pass draws every panel (and, when running, makes the steps due); a settle
  // pass draws them again within the same frame, so what ImGui measured in the first pass
  // (sizes, scrolling, hover) takes effect now: it makes no step and is not counted as a frame.
  enum class Pass { frame, settle };
  void draw(Pass pass = Pass::frame);
  nlohmann::json state() const;
  nlohmann::json act(std::string_view name, const nlohmann::json& args);

  // Platform hooks, set by main.cpp: open a file picker (its text comes back through
  // act("load_workload")), and save a text file.
  std::function<void()> on_import_file;
  std::function<void(const std::string& file_name, const std::string& text)> on_export_file;
  // Bumped whenever the workload or configuration changes: the page mirrors it in the URL.
  unsigned share_revision() const { return share_revision_; }
  std::string shared_workload() const { return workload_json(session_.workload()); }
  // The platform calls this for each frame it actually painted: a frame whose picture did not
  // change is not painted again (see web/main.cpp), so frames run != frames painted.
  void count_drawn_frame() { ++frames_drawn_; }

 private:
  nlohmann::json act_unchecked(std::string_view name, const nlohmann::json& args);
  void load(const Workload& workload, const std::string& what);
  void step_forward();
  void tick(float dt_seconds, bool may_step);
  void run_commands();
  void place(float x, float y, float w, float h);

  Session session_;
  View view_;
  ControlsPanel controls_;
  WorkloadPanel workload_;
  TimelinePanel timeline_;
  RaggedBatchPanel batch_;
  PagedKVPanel kv_;
  RequestsPanel requests_;
  MetricsPanel metrics_;
  LogPanel log_;
  AttentionPanel attention_;

  std::uint64_t frames_ = 0;
  std::uint64_t frames_drawn_ = 0;
  double rate_since_ = 0.;       // ImGui time the shown rates were last counted from
  std::uint64_t rate_frames_ = 0, rate_frames_drawn_ = 0;
  double draw_ms_ = 0.;          // time App::draw takes (the UI's CPU cost), moving average
  unsigned share_revision_ = 0;
  float step_debt_ = 0.f;        // steps owed to the Run speed
  float layout_w_ = 0.f, layout_h_ = 0.f;
  bool relayout_ = true;
};

}  // namespace cblab::ui

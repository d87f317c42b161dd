// cblab.ui — the page's panels, written against Dear ImGui only (no browser, no GLFW), so a
// native window could draw the very same App. web/main.cpp owns the platform and the loop.
//
// The App is also what tests drive: state() is the plain value the JS API returns, and act()
// runs the same actions the buttons run. Bad arguments throw std::invalid_argument with a
// message naming the argument, the value and what is allowed; the App is left unchanged.
module;
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
export module cblab.ui;

export namespace cblab::ui {

class App {
 public:
  App();
  void draw();  // one frame of every panel
  nlohmann::json state() const;
  nlohmann::json act(std::string_view name, const nlohmann::json& args);

 private:
  void draw_kernel_panel();
  void run_kernel();
  // Remembers the last widget's screen rectangle under a name, so tests can click it.
  void remember_widget(const std::string& name);

  std::map<std::string, std::array<float, 4>> widgets_;  // name -> x0, y0, x1, y1 (CSS px)

  // Kernel panel: a dot product on the active arch beside its scalar reference.
  int kernel_length_ = 1000;
  unsigned kernel_runs_ = 0;
  float kernel_result_ = 0.f;
  float kernel_reference_ = 0.f;
};

}  // namespace cblab::ui

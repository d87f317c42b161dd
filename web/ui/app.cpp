module;
#include <imgui.h>
#include <cmath>
#include <cstdint>
#include <format>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

// splitmix64: a tiny, fully specified PRNG, so the page and the tests draw the same numbers.
std::vector<float> seeded_vector(int n, std::uint64_t seed) {
  std::vector<float> v(n);
  for (float& x : v) {
    std::uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    x = static_cast<float>(z >> 40) / static_cast<float>(1u << 24) * 2.f - 1.f;
  }
  return v;
}

}  // namespace

App::App() { run_kernel(); }

void App::run_kernel() {
  const auto a = seeded_vector(kernel_length_, 2 * kernel_runs_ + 1);
  const auto b = seeded_vector(kernel_length_, 2 * kernel_runs_ + 2);
  kernel_result_ = kernels::dot(a, b);
  kernel_reference_ = kernels::dot_reference(a, b);
  ++kernel_runs_;
}

void App::draw() {
  widgets_.clear();
  draw_kernel_panel();
}

void App::remember_widget(const std::string& name) {
  const ImVec2 lo = ImGui::GetItemRectMin(), hi = ImGui::GetItemRectMax();
  widgets_[name] = {lo.x, lo.y, hi.x, hi.y};
}

void App::draw_kernel_panel() {
  ImGui::SetNextWindowPos(ImVec2(20, 20), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(420, 220), ImGuiCond_FirstUseEver);
  ImGui::Begin("cb-lab");
  ImGui::Text("cb-lab %s", std::string(version).c_str());
  ImGui::Text("SIMD arch: %s", std::string(kernels::arch()).c_str());
  ImGui::SeparatorText("dot product kernel");
  ImGui::SliderInt("length", &kernel_length_, 1, 4096);
  if (ImGui::Button("Run kernel")) run_kernel();
  remember_widget("Run kernel");
  ImGui::SameLine();
  ImGui::Text("runs: %u", kernel_runs_);
  ImGui::Text("simd      %.6f", kernel_result_);
  ImGui::Text("reference %.6f", kernel_reference_);
  ImGui::Text("|diff|    %.2e", std::fabs(kernel_result_ - kernel_reference_));
  ImGui::End();
}

nlohmann::json App::state() const {
  return {
      {"version", std::string(version)},
      {"arch", std::string(kernels::arch())},
      {"kernel", {{"length", kernel_length_}, {"runs", kernel_runs_},
                  {"result", kernel_result_}, {"reference", kernel_reference_}}},
      {"widgets", widgets_},
  };
}

nlohmann::json App::act(std::string_view name, const nlohmann::json& args) {
  if (name == "run_kernel") {
    if (args.contains("length")) {
      const auto& len = args["length"];
      if (!len.is_number_integer() || len.get<long long>() < 1 || len.get<long long>() > 4096)
        throw std::invalid_argument(std::format("run_kernel: length {} is not allowed; use an integer in 1..4096", len.dump()));
      kernel_length_ = len.get<int>();
    }
    run_kernel();
    return state();
  }
  throw std::invalid_argument(std::format("unknown action '{}'; actions: run_kernel", name));
}

}  // namespace cblab::ui

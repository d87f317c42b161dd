// view.cpp — the shared per-frame state of the panels.
module;
#include <imgui.h>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
module cblab.ui;

namespace cblab::ui {

void View::begin_frame() {
  hover = next_hover;
  next_hover = {};
  widgets.clear();
  geometry = nlohmann::json::object();
  tooltip.clear();
}

void View::tip(std::string line) {
  ImGui::TextUnformatted(line.c_str());
  tooltip.push_back(std::move(line));
}

void View::push(std::string name, nlohmann::json args) {
  commands.push_back({std::move(name), std::move(args)});
}

void View::remember(const std::string& name) {
  const ImVec2 lo = ImGui::GetItemRectMin(), hi = ImGui::GetItemRectMax();
  widgets[name] = {lo.x, lo.y, hi.x, hi.y};
}

void View::remember_window(const std::string& name) {
  const ImVec2 lo = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
  widgets["window." + name] = {lo.x, lo.y, lo.x + size.x, lo.y + size.y};
}

unsigned request_color(int request, float value, float alpha) {
  if (request < 0) return IM_COL32(90, 90, 100, static_cast<int>(alpha * 255));
  const float hue = std::fmod(0.08f + 0.618034f * static_cast<float>(request), 1.f);
  return ImColor::HSV(hue, 0.55f, value, alpha);
}

const char* activity_name(int activity) {
  switch (static_cast<Activity>(activity)) {
    case Activity::not_arrived: return "not arrived";
    case Activity::waiting: return "waiting";
    case Activity::stalled: return "admitted, no tokens this step";
    case Activity::prefill: return "prefill";
    case Activity::decode: return "decode";
    case Activity::done: return "finished";
    case Activity::preempted: return "preempted";
    case Activity::aborted: return "aborted";
  }
  return "?";
}

void legend_swatch(unsigned color, const char* label) {
  const float w = 14.f + ImGui::CalcTextSize(label).x;
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetCursorScreenPos().x + w > right && ImGui::GetCursorScreenPos().x > ImGui::GetWindowPos().x + 20.f)
    ImGui::NewLine();
  ImGui::ColorButton(label, ImGui::ColorConvertU32ToFloat4(color), ImGuiColorEditFlags_NoTooltip,
                     ImVec2(10, 10));
  ImGui::SameLine(0, 4);
  ImGui::TextUnformatted(label);
  ImGui::SameLine();
}

}  // namespace cblab::ui

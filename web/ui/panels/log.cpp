// log.cpp — the per-step log, the same text `cblab run --log` prints. Click a line to select
// its step.
module;
#include <imgui.h>
#include <nlohmann/json.hpp>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {

void LogPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Log");
  view.remember_window("Log");
  if (session.num_dropped() > 0)
    ImGui::TextDisabled("%d oldest steps dropped (history cap %zu)", session.num_dropped(),
                        session.max_history());
  ImGui::BeginChild("##lines", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  const auto& history = session.history();
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(history.size()));
  while (clipper.Step())
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
      const StepView& s = history[i];
      if (ImGui::Selectable(s.log_line.c_str(), s.record.step == view.selected_step))
        view.push("select_step", {{"step", s.record.step}});
      if (ImGui::IsItemHovered()) view.next_hover.step = s.record.step;
    }
  // Keep the selected line in view when the selection moves.
  if (view.selected_step != followed_step_) {
    followed_step_ = view.selected_step;
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const float y = (view.selected_step - session.first_kept_step()) * line;
    if (y < ImGui::GetScrollY() || y > ImGui::GetScrollY() + ImGui::GetWindowHeight() - line)
      ImGui::SetScrollY(y - ImGui::GetWindowHeight() * 0.5f);
  }
  ImGui::EndChild();
  ImGui::End();
}

}  // namespace cblab::ui

// timeline.cpp — the schedule timeline: requests down, steps across, one cell per (request,
// step) coloured by what the request did; under it each step's budget as stacked bars.
// Custom drawing the ImGui way: one InvisibleButton is the canvas, ImDrawList draws, and the
// cell under the mouse is found by arithmetic. Only the visible columns are drawn.
module;
#include <imgui.h>
#include <algorithm>
#include <cmath>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

constexpr ImU32 kWaiting = IM_COL32(75, 75, 88, 255);
constexpr ImU32 kDecodeBar = IM_COL32(90, 160, 235, 255);
constexpr ImU32 kPrefillBar = IM_COL32(235, 150, 70, 255);

void legend_swatch(ImU32 color, const char* label) {
  ImGui::ColorButton(label, ImGui::ColorConvertU32ToFloat4(color), ImGuiColorEditFlags_NoTooltip,
                     ImVec2(10, 10));
  ImGui::SameLine(0, 4);
  ImGui::TextUnformatted(label);
  ImGui::SameLine();
}

}  // namespace

void TimelinePanel::draw(const Session& session, View& view) {
  ImGui::Begin("Schedule timeline");
  view.remember_window("Schedule timeline");
  legend_swatch(kWaiting, "waiting");
  legend_swatch(request_color(0), "prefill chunk (tall, length)");
  legend_swatch(request_color(0, 0.6f), "decode (short)");
  legend_swatch(IM_COL32(255, 255, 255, 255), "finished |");
  legend_swatch(kDecodeBar, "decode tokens");
  legend_swatch(kPrefillBar, "prefill tokens");
  ImGui::NewLine();

  const auto& history = session.history();
  const int first = session.first_kept_step();
  const int num_cols = static_cast<int>(history.size());
  const int R = static_cast<int>(session.engine().requests().size());
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float bar_h = std::clamp(avail.y * 0.25f, 30.f, 80.f), gap = 6.f;
  const float lane_h = std::clamp((avail.y - bar_h - gap - 16.f) / std::max(R, 1), 2.f, 14.f);
  const float cell_w = std::clamp((avail.x - 8.f) / std::max(num_cols, 1), 3.f, 22.f);
  const float lanes_h = lane_h * R;
  const ImVec2 content(std::max(cell_w * num_cols, 1.f), lanes_h + gap + bar_h);

  ImGui::BeginChild("##timeline", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  // Follow the selected step (stepping, running, stepping back).
  if (view.selected_step != followed_step_) {
    followed_step_ = view.selected_step;
    const float x = (view.selected_step - first) * cell_w;
    const float w = ImGui::GetWindowWidth();
    if (x < ImGui::GetScrollX() || x + cell_w > ImGui::GetScrollX() + w - 8.f)
      ImGui::SetScrollX(std::max(0.f, x - w * 0.8f));
  }
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##canvas", content);
  view.remember("timeline.canvas");
  const bool hovered = ImGui::IsItemHovered();
  const bool clicked = ImGui::IsItemClicked();
  ImDrawList* dl = ImGui::GetWindowDrawList();

  const ImVec2 clip_lo = ImGui::GetWindowPos(), clip_hi(clip_lo.x + ImGui::GetWindowWidth(),
                                                        clip_lo.y + ImGui::GetWindowHeight());
  const int c0 = std::max(0, static_cast<int>((clip_lo.x - origin.x) / cell_w));
  const int c1 = std::min(num_cols, static_cast<int>((clip_hi.x - origin.x) / cell_w) + 1);
  const int r0 = std::max(0, static_cast<int>((clip_lo.y - origin.y) / lane_h));
  const int r1 = std::min(R, static_cast<int>((clip_hi.y - origin.y) / lane_h) + 1);

  if (view.hover.request >= 0 && view.hover.request < R) {  // the hovered request's lane
    const float y = origin.y + view.hover.request * lane_h;
    dl->AddRectFilled(ImVec2(clip_lo.x, y), ImVec2(clip_hi.x, y + lane_h), IM_COL32(255, 255, 255, 28));
  }
  const int chunk = session.workload().engine.prefill_chunk_size;
  for (int c = c0; c < c1; ++c) {
    const StepView& s = history[c];
    const float x = origin.x + c * cell_w;
    for (int r = r0; r < std::min<int>(r1, static_cast<int>(s.cells.size())); ++r) {
      const Cell& cell = s.cells[r];
      const float y = origin.y + r * lane_h, pad = lane_h > 4 ? 1.f : 0.f;
      const ImVec2 lo(x + (cell_w > 4 ? 1.f : 0.f), y + pad), hi(x + cell_w, y + lane_h - pad);
      switch (cell.activity) {
        case Activity::waiting:
          dl->AddRectFilled(ImVec2(lo.x, y + lane_h * 0.35f), ImVec2(hi.x, y + lane_h * 0.65f), kWaiting);
          break;
        case Activity::stalled:
          dl->AddRect(lo, hi, request_color(r, 0.5f));
          break;
        case Activity::prefill: {
          // Taller for a fuller chunk: the chunk's share of prefill_chunk_size.
          const float f = 0.45f + 0.55f * std::min(1.f, static_cast<float>(cell.len) / std::max(chunk, 1));
          dl->AddRectFilled(ImVec2(lo.x, hi.y - (hi.y - lo.y) * f), hi, request_color(r));
          if (cell_w >= 16 && lane_h >= 12) {
            const std::string len = std::to_string(cell.len);
            dl->AddText(ImVec2(lo.x + 1, lo.y - 1), IM_COL32(20, 20, 20, 255), len.c_str());
          }
          break;
        }
        case Activity::decode:
          dl->AddRectFilled(ImVec2(lo.x, y + lane_h * 0.3f), ImVec2(hi.x, y + lane_h * 0.7f),
                            request_color(r, 0.6f));
          break;
        default: break;
      }
      if (cell.finished_here)
        dl->AddRectFilled(ImVec2(hi.x - 2.f, lo.y), hi, IM_COL32(255, 255, 255, 255));
    }
    // The step's budget as a stacked bar: decode tokens, then prefill tokens.
    const float base = origin.y + lanes_h + gap + bar_h;
    const float per_token = bar_h / std::max(s.record.budget, 1);
    const float decode_h = s.record.num_decode_tokens() * per_token;
    const float prefill_h = s.record.num_prefill_tokens() * per_token;
    const float bx = x + (cell_w > 4 ? 1.f : 0.f);
    dl->AddRectFilled(ImVec2(bx, base - decode_h), ImVec2(x + cell_w, base), kDecodeBar);
    dl->AddRectFilled(ImVec2(bx, base - decode_h - prefill_h), ImVec2(x + cell_w, base - decode_h), kPrefillBar);
  }
  const float base = origin.y + lanes_h + gap;
  dl->AddLine(ImVec2(clip_lo.x, base), ImVec2(clip_hi.x, base), IM_COL32(200, 200, 200, 90));
  if (const int sel = view.selected_step - first; sel >= 0 && sel < num_cols) {
    const float x = origin.x + sel * cell_w;
    dl->AddRect(ImVec2(x, origin.y), ImVec2(x + cell_w + 1, origin.y + content.y),
                IM_COL32(255, 255, 255, 220), 0.f, 0, 2.f);
  }

  if (hovered && num_cols > 0) {
    const ImVec2 m = ImGui::GetMousePos();
    const int c = static_cast<int>((m.x - origin.x) / cell_w);
    const int r = static_cast<int>((m.y - origin.y) / lane_h);
    if (c >= 0 && c < num_cols) {
      const StepView& s = history[c];
      view.next_hover.step = s.record.step;
      ImGui::BeginTooltip();
      ImGui::TextUnformatted(s.log_line.c_str());
      if (m.y < origin.y + lanes_h && r >= 0 && r < static_cast<int>(s.cells.size())) {
        view.next_hover.request = r;
        const Cell& cell = s.cells[r];
        ImGui::Text("#%d %s: %s%s%s", r, session.engine().requests()[r].spec.id.c_str(),
                    activity_name(static_cast<int>(cell.activity)),
                    cell.activity == Activity::prefill ? (" of " + std::to_string(cell.len) + " tokens").c_str() : "",
                    cell.finished_here ? ", finished" : "");
      }
      ImGui::TextDisabled("click to select step %d", s.record.step);
      ImGui::EndTooltip();
      if (clicked) view.push("select_step", {{"step", s.record.step}});
    }
  }
  view.geometry["timeline"] = {{"x0", origin.x}, {"y0", origin.y}, {"cell_w", cell_w},
                               {"lane_h", lane_h}, {"first_step", first}, {"num_steps", num_cols},
                               {"num_lanes", R}, {"bars_y0", origin.y + lanes_h + gap}, {"bar_h", bar_h}};
  ImGui::EndChild();
  ImGui::End();
}

}  // namespace cblab::ui

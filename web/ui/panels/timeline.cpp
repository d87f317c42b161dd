// timeline.cpp — the schedule timeline: requests down, steps across, one cell per (request,
// step) coloured by what the request did; under it each step's budget as stacked bars.
// Custom drawing the ImGui way: one InvisibleButton is the canvas, ImDrawList draws, and the
// cell under the mouse is found by arithmetic. Only the visible columns are drawn.
// Memory pressure shows here: a preempted request's cell is a red cross (it lost its blocks;
// the tooltip says why and how many computed tokens it lost), it waits again in a reddish
// lane, and its recompute chunks carry a red cap until it is back where it was.
module;
#include <imgui.h>
#include <algorithm>
#include <cmath>
#include <format>
#include <nlohmann/json.hpp>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

constexpr ImU32 kWaiting = IM_COL32(75, 75, 88, 255);
constexpr ImU32 kRequeued = IM_COL32(150, 70, 70, 255);   // waiting again after a preemption
constexpr ImU32 kPreempted = IM_COL32(240, 60, 50, 255);
constexpr ImU32 kAborted = IM_COL32(200, 80, 220, 255);
constexpr ImU32 kDecodeBar = IM_COL32(90, 160, 235, 255);
constexpr ImU32 kPrefillBar = IM_COL32(235, 150, 70, 255);

const Preemption* find_preemption(const StepRecord& r, int request) {
  for (const Preemption& p : r.preempted)
    if (p.request == request) return &p;
  return nullptr;
}

}  // namespace

void TimelinePanel::draw(const Session& session, View& view) {
  ImGui::Begin("Schedule timeline");
  view.remember_window("Schedule timeline");
  legend_swatch(kWaiting, "waiting");
  legend_swatch(request_color(0), "prefill chunk (tall, length)");
  legend_swatch(request_color(0, 0.6f), "decode (short)");
  legend_swatch(request_color(0, 0.3f), "admitted, idle");
  legend_swatch(IM_COL32(255, 255, 255, 255), "finished |");
  legend_swatch(kPreempted, "preempted X");
  legend_swatch(kRequeued, "waiting to resume");
  legend_swatch(kPreempted, "recompute (red cap)");
  legend_swatch(kAborted, "aborted");
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
  // A lane is drawn as runs of equal cells (a request decodes for many steps in a row), so the
  // vertex count stays small; thin separators between steps are drawn once, on top.
  const int chunk = session.workload().engine.prefill_chunk_size;
  auto cell_at = [&](int c, int r) {
    const auto& cells = history[c].cells;
    return r < static_cast<int>(cells.size()) ? cells[r] : Cell{};
  };
  auto same = [](const Cell& a, const Cell& b) {
    return a.activity == b.activity && !a.finished_here && a.requeued == b.requeued &&
           a.activity != Activity::preempted && a.activity != Activity::aborted &&
           (a.activity != Activity::prefill || (a.len == b.len && a.recompute == b.recompute));
  };
  nlohmann::json preempted_drawn = nlohmann::json::array(), aborted_drawn = nlohmann::json::array();
  for (int r = r0; r < r1; ++r) {
    const float y = origin.y + r * lane_h, pad = lane_h > 4 ? 1.f : 0.f;
    for (int c = c0; c < c1;) {
      const Cell cell = cell_at(c, r);
      int end = c + 1;
      while (end < c1 && same(cell_at(end - 1, r), cell_at(end, r))) ++end;
      const float x0 = origin.x + c * cell_w, x1 = origin.x + end * cell_w;
      switch (cell.activity) {
        case Activity::waiting:
          dl->AddRectFilled(ImVec2(x0, y + lane_h * 0.35f), ImVec2(x1, y + lane_h * 0.65f),
                            cell.requeued ? kRequeued : kWaiting);
          break;
        case Activity::preempted: {  // a cross over the whole cell: its K/V are gone
          const ImVec2 lo(x0 + 0.5f, y + pad), hi(x1 - 0.5f, y + lane_h - pad);
          dl->AddRectFilled(lo, hi, (kPreempted & 0x00ffffff) | IM_COL32(0, 0, 0, 90));
          dl->AddLine(lo, hi, kPreempted, 2.f);
          dl->AddLine(ImVec2(lo.x, hi.y), ImVec2(hi.x, lo.y), kPreempted, 2.f);
          preempted_drawn.push_back({history[c].record.step, r});
          break;
        }
        case Activity::aborted: {
          const ImVec2 lo(x0 + 0.5f, y + pad), hi(x1 - 0.5f, y + lane_h - pad);
          dl->AddRectFilled(lo, hi, kAborted);
          dl->AddLine(ImVec2(lo.x, hi.y), ImVec2(hi.x, lo.y), IM_COL32(20, 20, 20, 255), 1.5f);
          aborted_drawn.push_back({history[c].record.step, r});
          break;
        }
        case Activity::stalled:
          dl->AddRectFilled(ImVec2(x0, y + lane_h * 0.2f), ImVec2(x1, y + lane_h * 0.8f), request_color(r, 0.3f));
          break;
        case Activity::prefill: {
          // Taller for a fuller chunk: the chunk's share of prefill_chunk_size.
          const float f = 0.45f + 0.55f * std::min(1.f, static_cast<float>(cell.len) / std::max(chunk, 1));
          const float top = y + lane_h - pad - (lane_h - 2 * pad) * f;
          dl->AddRectFilled(ImVec2(x0, top), ImVec2(x1, y + lane_h - pad), request_color(r));
          if (cell.recompute)  // re-running tokens a preemption dropped
            dl->AddRectFilled(ImVec2(x0, top), ImVec2(x1, top + std::max(lane_h * 0.2f, 1.f)), kPreempted);
          if (cell_w >= 16 && lane_h >= 12)
            for (int k = c; k < end; ++k)
              dl->AddText(ImVec2(origin.x + k * cell_w + 2, y), IM_COL32(20, 20, 20, 255),
                          std::to_string(cell.len).c_str());
          break;
        }
        case Activity::decode:
          dl->AddRectFilled(ImVec2(x0, y + lane_h * 0.3f), ImVec2(x1, y + lane_h * 0.7f), request_color(r, 0.6f));
          break;
        default: break;
      }
      const Cell last = cell_at(end - 1, r);
      if (last.finished_here)
        dl->AddRectFilled(ImVec2(x1 - 2.f, y + pad), ImVec2(x1, y + lane_h - pad), IM_COL32_WHITE);
      c = end;
    }
  }
  // The page's background: windows draw none (main.cpp), so take its colour, opaque.
  ImVec4 bg = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
  bg.w = 1.f;
  const ImU32 window_bg = ImGui::ColorConvertFloat4ToU32(bg);
  for (int c = c0; c < c1; ++c) {
    const StepView& s = history[c];
    const float x = origin.x + c * cell_w;
    if (cell_w > 4)  // the separator between steps
      dl->AddRectFilled(ImVec2(x, origin.y), ImVec2(x + 1.f, origin.y + lanes_h),
                        window_bg);
    // The step's budget as a stacked bar: decode tokens, then prefill tokens.
    const float base = origin.y + lanes_h + gap + bar_h;
    const float per_token = bar_h / std::max(s.record.budget, 1);
    const float decode_h = s.record.num_decode_tokens() * per_token;
    const float prefill_h = s.record.num_prefill_tokens() * per_token;
    const float bx = x + (cell_w > 4 ? 1.f : 0.f);
    dl->AddRectFilled(ImVec2(bx, base - decode_h), ImVec2(x + cell_w, base), kDecodeBar);
    dl->AddRectFilled(ImVec2(bx, base - decode_h - prefill_h), ImVec2(x + cell_w, base - decode_h), kPrefillBar);
    if (!s.record.preempted.empty())  // a step that preempted: a red mark over its bar
      dl->AddRectFilled(ImVec2(bx, base - bar_h - 3.f), ImVec2(x + cell_w, base - bar_h), kPreempted);
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
      view.tip(s.log_line);
      if (m.y < origin.y + lanes_h && r >= 0 && r < static_cast<int>(s.cells.size())) {
        view.next_hover.request = r;
        const Cell& cell = s.cells[r];
        view.tip(std::format("#{} {}: {}{}{}{}", r, session.engine().requests()[r].name(),
                             activity_name(static_cast<int>(cell.activity)),
                             cell.activity == Activity::prefill ? std::format(" of {} tokens", cell.len) : "",
                             cell.recompute ? " (recompute: a preemption dropped them)" : "",
                             cell.finished_here ? ", finished" : ""));
        if (const Preemption* p = find_preemption(s.record, r)) {
          ImGui::PushStyleColor(ImGuiCol_Text, kPreempted);
          view.tip(std::format("preempted ({}): {} of #{} found no free block", to_string(p->reason),
                               p->reason == PreemptionReason::decode_needs_block ? "a decode" : "a prefill chunk",
                               p->needed_by));
          ImGui::PopStyleColor();
          view.tip(std::format("{} computed tokens lost: recomputed when it is admitted again",
                               p->num_tokens_lost));
        }
        if (cell.activity == Activity::aborted) view.tip("aborted: its blocks went back to the pool");
        if (cell.requeued) view.tip("back in the waiting queue after a preemption");
      }
      ImGui::TextDisabled("click to select step %d", s.record.step);
      ImGui::EndTooltip();
      if (clicked) view.push("select_step", {{"step", s.record.step}});
    }
  }
  view.geometry["timeline"] = {{"x0", origin.x}, {"y0", origin.y}, {"cell_w", cell_w},
                               {"lane_h", lane_h}, {"first_step", first}, {"num_steps", num_cols},
                               {"num_lanes", R}, {"bars_y0", origin.y + lanes_h + gap}, {"bar_h", bar_h},
                               {"preempted_drawn", preempted_drawn}, {"aborted_drawn", aborted_drawn}};
  ImGui::EndChild();
  ImGui::End();
}

}  // namespace cblab::ui

// paged_kv.cpp — the KV block pool after the selected step, and the block tables that map each
// request's logical blocks to physical ones. Block colour = owning request, filled in
// proportion to its used slots; free blocks are dim. Hovering a block, a table entry or a
// request (in any panel) highlights the same blocks everywhere.
module;
#include <imgui.h>
#include <algorithm>
#include <cstdint>
#include <format>
#include <string>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

constexpr ImU32 kFree = IM_COL32(48, 48, 56, 255);
constexpr ImU32 kTaken = IM_COL32(255, 220, 80, 255);  // allocated in this step
constexpr ImU32 kFreed = IM_COL32(255, 90, 80, 255);   // returned in this step

// The largest square pitch (px) at which n blocks fit in w x h.
float grid_pitch(int n, float w, float h) {
  for (float p = 40.f; p > 2.f; p -= 1.f) {
    const int cols = std::max(1, static_cast<int>(w / p));
    if ((n + cols - 1) / cols * p <= h) return p;
  }
  return 2.f;
}

bool contains(const std::vector<std::int32_t>& v, int x) {
  return std::ranges::find(v, x) != v.end();
}

}  // namespace

void PagedKVPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Paged KV cache");
  view.remember_window("Paged KV cache");
  const StepView* s = session.at(view.selected_step);
  const EngineConfig& config = session.workload().engine;
  const int NB = config.num_blocks, B = config.block_size;
  const auto& requests = session.engine().requests();
  ImGui::Text("%s cache: %d blocks x %d slots", std::string(to_string(config.kv_cache)).c_str(), NB, B);
  if (s) {
    ImGui::SameLine();
    ImGui::Text("| after step %d: %d used, %d free, +%zu taken, -%zu freed", s->record.step,
                s->num_blocks_used, NB - s->num_blocks_used, s->record.blocks_allocated.size(),
                s->record.blocks_freed.size());
  }

  // [grid]
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float grid_w = std::max(avail.x * 0.62f, 60.f), grid_h = std::max(avail.y - 4.f, 20.f);
  const float pitch = grid_pitch(NB, grid_w, grid_h);
  const int cols = std::max(1, static_cast<int>(grid_w / pitch));
  const float gap = pitch >= 6.f ? 1.f : 0.f;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##grid", ImVec2(cols * pitch, ((NB + cols - 1) / cols) * pitch));
  view.remember("kv.grid");
  const bool grid_hovered = ImGui::IsItemHovered();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  auto block_lo = [&](int b) {
    return ImVec2(origin.x + (b % cols) * pitch, origin.y + (b / cols) * pitch);
  };
  for (int b = 0; b < NB; ++b) {
    const ImVec2 lo = block_lo(b), hi(lo.x + pitch - gap, lo.y + pitch - gap);
    const BlockSnapshot* snap = s ? &s->record.blocks[b] : nullptr;
    if (!snap || snap->ref_count == 0) {
      dl->AddRectFilled(lo, hi, kFree);
    } else {
      dl->AddRectFilled(lo, hi, request_color(snap->owner, 0.32f));
      const float f = static_cast<float>(snap->used_slots) / B;
      dl->AddRectFilled(lo, ImVec2(lo.x + (hi.x - lo.x) * f, hi.y), request_color(snap->owner));
    }
    if (!s) continue;
    const int owner = s->record.blocks[b].owner;
    if (pitch >= 6.f) {
      if (contains(s->record.blocks_allocated, b)) dl->AddRect(lo, hi, kTaken);
      else if (contains(s->record.blocks_freed, b)) dl->AddRect(lo, hi, kFreed);
    }
    if (view.hover.block == b)
      dl->AddRect(ImVec2(lo.x - 1, lo.y - 1), ImVec2(hi.x + 1, hi.y + 1), IM_COL32_WHITE, 0.f, 0, 2.f);
    else if (owner >= 0 && owner == view.hover.request)
      dl->AddRect(lo, hi, IM_COL32_WHITE);
  }
  if (grid_hovered && s) {
    const ImVec2 m = ImGui::GetMousePos();
    const int b = static_cast<int>((m.y - origin.y) / pitch) * cols + static_cast<int>((m.x - origin.x) / pitch);
    if (b >= 0 && b < NB) {
      const BlockSnapshot& snap = s->record.blocks[b];
      view.next_hover.block = b;
      view.next_hover.request = snap.owner;
      ImGui::BeginTooltip();
      if (snap.ref_count == 0) {
        ImGui::Text("block %d: free%s", b, contains(s->record.blocks_freed, b) ? " (freed this step)" : "");
      } else {
        const auto table = session.block_table_at(snap.owner, s->record.step);
        const auto logical = std::ranges::find(table, b) - table.begin();
        ImGui::Text("block %d: request #%d %s, logical block %td", b, snap.owner,
                    requests[snap.owner].spec.id.c_str(), logical);
        ImGui::Text("%d of %d slots used, ref count %d%s", snap.used_slots, B, snap.ref_count,
                    contains(s->record.blocks_allocated, b) ? ", taken this step" : "");
        ImGui::Text("slots %d..%d", b * B, b * B + B - 1);
      }
      ImGui::EndTooltip();
    }
  }
  view.geometry["kv"] = {{"x0", origin.x}, {"y0", origin.y}, {"pitch", pitch}, {"cols", cols},
                         {"num_blocks", NB}};

  // [block tables]
  ImGui::SameLine();
  ImGui::BeginChild("##tables");
  ImGui::TextDisabled("block tables: logical -> physical");
  if (s) {
    std::vector<int> holders;
    for (int r = 0; r < static_cast<int>(requests.size()); ++r)
      if (!session.block_table_at(r, s->record.step).empty()) holders.push_back(r);
    if (holders.empty()) ImGui::TextDisabled("no request holds blocks");
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(holders.size()));
    while (clipper.Step())
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
        const int r = holders[i];
        const auto table = session.block_table_at(r, s->record.step);
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(request_color(r)), "#%-3d", r);
        if (ImGui::IsItemHovered()) view.next_hover.request = r;
        ImDrawList* tl = ImGui::GetWindowDrawList();
        for (std::size_t j = 0; j < table.size(); ++j) {
          ImGui::SameLine(0, 3);
          const std::string label = std::to_string(table[j]);
          const ImVec2 size(ImGui::CalcTextSize(label.c_str()).x + 6, ImGui::GetTextLineHeight());
          const ImVec2 lo = ImGui::GetCursorScreenPos();
          ImGui::PushID(static_cast<int>(r * 4096 + j));
          ImGui::InvisibleButton("##e", size);
          ImGui::PopID();
          const bool hot = ImGui::IsItemHovered();
          const bool lit = hot || view.hover.block == table[j] || view.hover.request == r;
          tl->AddRectFilled(lo, ImVec2(lo.x + size.x, lo.y + size.y), request_color(r, lit ? 0.95f : 0.45f));
          tl->AddText(ImVec2(lo.x + 3, lo.y), IM_COL32(15, 15, 15, 255), label.c_str());
          if (hot) {
            view.next_hover.block = table[j];
            view.next_hover.request = r;
            // A line from the table entry to its physical block in the grid.
            const ImVec2 b = block_lo(table[j]);
            ImGui::GetForegroundDrawList()->AddLine(
                ImVec2(lo.x, lo.y + size.y / 2), ImVec2(b.x + pitch / 2, b.y + pitch / 2),
                IM_COL32_WHITE, 2.f);
            ImGui::SetTooltip("request #%d logical block %zu -> physical block %d", r, j, table[j]);
          }
        }
      }
  }
  ImGui::EndChild();
  ImGui::End();
}

}  // namespace cblab::ui

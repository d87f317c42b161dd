// paged_kv.cpp — the KV block pool after the selected step, and the block tables that map each
// request's logical blocks to physical ones. Block colour = owning request, filled in
// proportion to its used slots; free blocks are dim. Hovering a block, a table entry or a
// request (in any panel) highlights the same blocks everywhere.
// Prefix caching shows here too: a block several requests share (ref count > 1) wears a white
// band and its count, and a free block whose K/V are still in the prefix cache stays teal —
// a later request with the same prefix takes it back without computing anything. The step's
// prefix-cache lookups (hits and misses) are listed above the block tables.
module;
#include <imgui.h>
#include <algorithm>
#include <cstdint>
#include <cstddef>
#include <format>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

constexpr ImU32 kFree = IM_COL32(48, 48, 56, 255);
constexpr ImU32 kCachedFree = IM_COL32(40, 120, 125, 255);  // free, K/V still in the prefix cache
constexpr ImU32 kShared = IM_COL32(255, 255, 255, 255);     // band on a block with ref count > 1
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

bool contains(const std::vector<std::int32_t>& v, int x) {  // v: a step's few block moves
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
  legend_swatch(kFree, "free");
  legend_swatch(request_color(0), "used by a request (filled to its slots)");
  legend_swatch(kShared, "shared, ref count > 1 (band, count)");
  legend_swatch(kCachedFree, "free but cached: reusable");
  legend_swatch(kTaken, "taken this step");
  legend_swatch(kFreed, "freed this step");
  ImGui::NewLine();
  if (config.prefix_caching)
    ImGui::TextDisabled("prefix caching on: full blocks are shared by chained hash; cached blocks %s",
                        s ? std::format("{} shared, {} free but cached", s->num_shared_blocks,
                                        s->num_cached_free_blocks).c_str() : "appear after a step");

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
  // Few vertices, so SwiftShader keeps up with 1024 blocks: the whole grid is one free-coloured
  // rectangle, a used block adds one or two, and the gaps between blocks are drawn once per
  // grid line on top.
  const int rows = (NB + cols - 1) / cols;
  dl->AddRectFilled(origin, ImVec2(origin.x + cols * pitch, origin.y + (rows - 1) * pitch), kFree);
  dl->AddRectFilled(ImVec2(origin.x, origin.y + (rows - 1) * pitch),
                    ImVec2(origin.x + ((NB - 1) % cols + 1) * pitch, origin.y + rows * pitch), kFree);
  // The page's background: windows draw none (main.cpp), so take its colour, opaque.
  ImVec4 bg = ImGui::GetStyleColorVec4(ImGuiCol_WindowBg);
  bg.w = 1.f;
  const ImU32 window_bg = ImGui::ColorConvertFloat4ToU32(bg);
  nlohmann::json shared_drawn = nlohmann::json::array(), cached_free_drawn = nlohmann::json::array();
  for (int b = 0; s && b < NB; ++b) {
    const BlockSnapshot& snap = s->record.blocks[b];
    const ImVec2 lo = block_lo(b), hi(lo.x + pitch, lo.y + pitch);
    if (snap.ref_count == 0) {
      if (snap.is_cached) {
        dl->AddRectFilled(lo, hi, kCachedFree);
        cached_free_drawn.push_back(b);
      }
      continue;
    }
    const float x_used = lo.x + pitch * static_cast<float>(snap.used_slots) / B;
    dl->AddRectFilled(lo, ImVec2(x_used, hi.y), request_color(snap.owner));
    if (snap.used_slots < B) dl->AddRectFilled(ImVec2(x_used, lo.y), hi, request_color(snap.owner, 0.32f));
    if (snap.ref_count > 1) {  // one copy of K/V read by ref_count requests
      dl->AddRectFilled(lo, ImVec2(hi.x, lo.y + std::max(pitch * 0.3f, 1.f)), kShared);
      shared_drawn.push_back(b);
    }
  }
  if (gap > 0.f) {
    for (int c = 1; c <= cols; ++c)
      dl->AddRectFilled(ImVec2(origin.x + c * pitch - gap, origin.y),
                        ImVec2(origin.x + c * pitch, origin.y + rows * pitch), window_bg);
    for (int r = 1; r <= rows; ++r)
      dl->AddRectFilled(ImVec2(origin.x, origin.y + r * pitch - gap),
                        ImVec2(origin.x + cols * pitch, origin.y + r * pitch), window_bg);
  }
  // Outlines: blocks taken / freed in this step, and the highlighted ones.
  auto outline = [&](int b, ImU32 color, float thickness) {
    const ImVec2 lo = block_lo(b);
    dl->AddRect(lo, ImVec2(lo.x + pitch - gap, lo.y + pitch - gap), color, 0.f, 0, thickness);
  };
  if (s && pitch >= 6.f) {
    for (std::int32_t b : s->record.blocks_allocated) outline(b, kTaken, 1.f);
    for (std::int32_t b : s->record.blocks_freed) outline(b, kFreed, 1.f);
  }
  if (s && pitch >= 14.f)  // the ref count on shared blocks, where it fits
    for (const auto& b : shared_drawn) {
      const ImVec2 lo = block_lo(b.get<int>());
      dl->AddText(ImVec2(lo.x + 2.f, lo.y + pitch * 0.3f), IM_COL32(15, 15, 15, 255),
                  std::to_string(s->record.blocks[b.get<int>()].ref_count).c_str());
    }
  if (s && view.hover.request >= 0)  // every block in its table, its own and shared ones
    for (std::int32_t b : session.block_table_at(view.hover.request, s->record.step))
      if (b >= 0 && b < NB) outline(b, IM_COL32_WHITE, 1.f);
  if (view.hover.block >= 0 && view.hover.block < NB) outline(view.hover.block, IM_COL32_WHITE, 2.f);
  if (grid_hovered && s) {
    const ImVec2 m = ImGui::GetMousePos();
    const int b = static_cast<int>((m.y - origin.y) / pitch) * cols + static_cast<int>((m.x - origin.x) / pitch);
    if (b >= 0 && b < NB) {
      const BlockSnapshot& snap = s->record.blocks[b];
      view.next_hover.block = b;
      view.next_hover.request = snap.owner;
      ImGui::BeginTooltip();
      if (snap.ref_count == 0) {
        view.tip(std::format("block {}: free{}", b, contains(s->record.blocks_freed, b) ? " (freed this step)" : ""));
        if (snap.is_cached) {
          view.tip("still in the prefix cache: a request whose prompt starts with these tokens");
          view.tip("takes it back without computing; evicted (least recently freed first)");
          view.tip("only when a fresh block is needed");
        }
      } else {
        // Every request whose table holds it (more than one when shared).
        for (int r = 0; r < static_cast<int>(requests.size()); ++r) {
          const auto table = session.block_table_at(r, s->record.step);
          const auto logical = std::ranges::find(table, b) - table.begin();
          if (logical < static_cast<std::ptrdiff_t>(table.size()))
            view.tip(std::format("block {}: request #{} {}, logical block {}", b, r, requests[r].name(), logical));
        }
        view.tip(std::format("{} of {} slots used, ref count {}{}{}", snap.used_slots, B, snap.ref_count,
                             snap.ref_count > 1 ? " (shared: one copy of K/V)" : "",
                             contains(s->record.blocks_allocated, b) ? ", taken this step" : ""));
        if (snap.is_cached) view.tip("full and in the prefix cache (by its chained hash)");
        view.tip(std::format("slots {}..{}", b * B, b * B + B - 1));
      }
      ImGui::EndTooltip();
    }
  }
  view.geometry["kv"] = {{"x0", origin.x}, {"y0", origin.y}, {"pitch", pitch}, {"cols", cols},
                         {"num_blocks", NB}, {"shared_drawn", shared_drawn},
                         {"cached_free_drawn", cached_free_drawn}};

  // [block tables]
  ImGui::SameLine();
  ImGui::BeginChild("##tables");
  if (s && !s->record.prefix_hits.empty()) {  // this step's prefix-cache lookups
    nlohmann::json hits_shown = nlohmann::json::array();
    ImGui::TextDisabled("prefix cache, step %d:", s->record.step);
    for (const PrefixHit& h : s->record.prefix_hits) {
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(request_color(h.request)), "#%-3d", h.request);
      if (ImGui::IsItemHovered()) view.next_hover.request = h.request;
      ImGui::SameLine(0, 3);
      if (h.num_cached_tokens > 0)
        ImGui::Text("hit %d of %d tokens (%d blocks shared)", h.num_cached_tokens, h.num_tokens_queried,
                    h.num_cached_tokens / B);
      else
        ImGui::TextDisabled("miss (%d tokens computed)", h.num_tokens_queried);
      hits_shown.push_back({h.request, h.num_cached_tokens, h.num_tokens_queried});
    }
    view.geometry["kv"]["prefix_hits_shown"] = hits_shown;
    ImGui::Separator();
  }
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
          if (table[j] >= 0 && s->record.blocks[table[j]].ref_count > 1)  // shared: the grid's white band
            tl->AddRectFilled(lo, ImVec2(lo.x + size.x, lo.y + 2.f), kShared);
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

// ragged_batch.cpp — the selected step's batch as the attention kernel sees it: T new tokens
// from several requests laid end to end, and the engine's ragged causal mask (T, Tk) over
// every row's context (its cached prefix, then its new tokens). Each query sees one
// contiguous run of keys, so the mask is drawn as runs, computed once per selected step.
module;
#include <imgui.h>
#include <algorithm>
#include <cstdint>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

std::string token_text(std::int32_t t) {
  if (t >= 0x20 && t < 0x7f) return std::string("'") + static_cast<char>(t) + "'";
  return std::to_string(t);
}

}  // namespace

void RaggedBatchPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Ragged batch");
  view.remember_window("Ragged batch");
  const StepView* s = session.at(view.selected_step);
  if (!s || s->record.batch.num_tokens() == 0) {
    ImGui::TextDisabled(s ? "step %d ran no tokens" : "select a step (run or step first)",
                        view.selected_step);
    ImGui::End();
    return;
  }
  const Batch& b = s->record.batch;
  const int T = b.num_tokens();
  if (mask_step != s->record.step) {  // the engine's own mask, flattened into runs
    mask_step = s->record.step;
    mask = ragged_causal_mask(b);
    key_row.clear();
    key_position.clear();
    for (int row = 0; row < b.num_seqs(); ++row)
      for (int p = 0; p < b.context_lens[row]; ++p) {
        key_row.push_back(row);
        key_position.push_back(p);
      }
    runs.clear();
    const int Tk = static_cast<int>(key_row.size());
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < Tk;) {
        if (!mask[static_cast<std::size_t>(t) * Tk + k]) { ++k; continue; }
        const int begin = k;
        while (k < Tk && mask[static_cast<std::size_t>(t) * Tk + k]) ++k;
        runs.insert(runs.end(), {t, begin, k});
      }
  }
  const int Tk = static_cast<int>(key_row.size());
  ImGui::Text("step %d: T = %d new tokens in %d rows, Tk = %d keys (cached prefix + new)",
              s->record.step, T, b.num_seqs(), Tk);

  // [token table]
  const float table_w = 230.f;
  if (ImGui::BeginTable("##tokens", 5, ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                                       ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit,
                        ImVec2(table_w, 0))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* h : {"t", "req", "pos", "token", "slot"}) ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    ImGuiListClipper clipper;
    clipper.Begin(T);
    while (clipper.Step())
      for (int t = clipper.DisplayStart; t < clipper.DisplayEnd; ++t) {
        const int r = b.token_request[t];
        ImGui::TableNextRow();
        if (view.hover.token == t || view.hover.request == r)
          ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, IM_COL32(255, 255, 255, 40));
        ImGui::TableNextColumn();
        // A row-wide selectable: hovering anywhere on the row names its token and request.
        ImGui::Selectable(std::to_string(t).c_str(), false, ImGuiSelectableFlags_SpanAllColumns);
        if (ImGui::IsItemHovered()) {
          view.next_hover.token = t;
          view.next_hover.request = r;
        }
        ImGui::TableNextColumn();
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(request_color(r)), "#%d", r);
        ImGui::TableNextColumn();
        ImGui::Text("%d", b.positions[t]);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(token_text(b.token_ids[t]).c_str());
        ImGui::TableNextColumn();
        ImGui::Text("%d", b.slot_mapping[t]);
      }
    ImGui::EndTable();
  }
  ImGui::SameLine();

  // [mask]
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float cell_w = std::max(avail.x - 4.f, 16.f) / std::max(Tk, 1);
  const float cell_h = std::clamp((avail.y - 4.f) / T, 1.f, 14.f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##mask", ImVec2(cell_w * Tk, cell_h * T));
  view.remember("batch.mask");
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(origin, ImVec2(origin.x + cell_w * Tk, origin.y + cell_h * T), IM_COL32(30, 30, 36, 255));
  // Each row's own block (its queries x its keys), faint: attention never leaves it.
  for (int row = 0, k0 = 0; row < b.num_seqs(); k0 += b.context_lens[row], ++row) {
    const int r = b.requests[row];
    const float alpha = view.hover.request == r ? 0.35f : 0.15f;
    dl->AddRectFilled(ImVec2(origin.x + k0 * cell_w, origin.y + b.cu_seqlens_q[row] * cell_h),
                      ImVec2(origin.x + (k0 + b.context_lens[row]) * cell_w,
                             origin.y + b.cu_seqlens_q[row + 1] * cell_h),
                      request_color(r, 0.9f, alpha));
  }
  for (std::size_t i = 0; i < runs.size(); i += 3) {
    const int t = runs[i], kb = runs[i + 1], ke = runs[i + 2];
    const int row = key_row[kb], r = b.requests[row];
    // Keys before the row's new tokens are its cached prefix (K/V written in earlier steps).
    const int first_new = kb - key_position[kb] + b.context_lens[row] - b.query_len(row);
    const float y0 = origin.y + t * cell_h, y1 = y0 + std::max(cell_h - (cell_h > 3 ? 1.f : 0.f), 1.f);
    if (kb < first_new)
      dl->AddRectFilled(ImVec2(origin.x + kb * cell_w, y0),
                        ImVec2(origin.x + std::min(ke, first_new) * cell_w, y1), request_color(r, 0.5f));
    if (ke > first_new)
      dl->AddRectFilled(ImVec2(origin.x + std::max(kb, first_new) * cell_w, y0),
                        ImVec2(origin.x + ke * cell_w, y1), request_color(r, 0.95f));
  }
  if (hovered) {
    const ImVec2 m = ImGui::GetMousePos();
    const int t = std::clamp(static_cast<int>((m.y - origin.y) / cell_h), 0, T - 1);
    const int k = std::clamp(static_cast<int>((m.x - origin.x) / cell_w), 0, Tk - 1);
    const int row = key_row[k], r = b.token_request[t];
    const bool prefix = key_position[k] < b.context_lens[row] - b.query_len(row);
    view.next_hover.token = t;
    view.next_hover.request = r;
    ImGui::BeginTooltip();
    ImGui::Text("query t=%d: request #%d, position %d, token %s", t, r, b.positions[t],
                token_text(b.token_ids[t]).c_str());
    ImGui::Text("key k=%d: request #%d, position %d (%s)", k, b.requests[row], key_position[k],
                prefix ? "cached prefix" : "new this step");
    ImGui::Text("may attend: %s", mask[static_cast<std::size_t>(t) * Tk + k] ? "yes" : "no");
    ImGui::EndTooltip();
  }
  ImGui::TextDisabled("dim = cached prefix, bright = new tokens (causal)");
  view.geometry["mask"] = {{"x0", origin.x}, {"y0", origin.y}, {"cell_w", cell_w},
                           {"cell_h", cell_h}, {"T", T}, {"Tk", Tk}};
  ImGui::End();
}

}  // namespace cblab::ui

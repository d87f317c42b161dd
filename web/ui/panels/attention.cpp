// attention.cpp — see attention.cppm. Rows are the request's new tokens in the selected step
// (a prefill chunk, or one decode token), columns every key position 0..last; the cached
// prefix is left of the white line. Masked cells are drawn empty: their weight is exactly 0.
module;
#include <imgui.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {

void AttentionPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Attention");
  view.remember_window("Attention");
  const StepView* s = session.at(view.selected_step);
  const auto& model = session.engine().model().config();
  ImGui::SetNextItemWidth(90);
  ImGui::SliderInt("layer", &layer, 0, model.n_layers - 1);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(90);
  ImGui::SliderInt("head", &head, 0, model.n_heads - 1);
  layer = std::clamp(layer, 0, model.n_layers - 1);
  head = std::clamp(head, 0, model.n_heads - 1);

  // Which request: the hovered one if it ran in this step, else the chosen one, else the
  // first row of the step's batch.
  const Batch* batch = s ? &s->record.batch : nullptr;
  auto ran = [&](int r) {
    return batch && std::find(batch->requests.begin(), batch->requests.end(), r) != batch->requests.end();
  };
  int r = ran(view.hover.request) ? view.hover.request : ran(request) ? request : -1;
  if (r < 0 && batch && !batch->requests.empty()) r = batch->requests.front();
  if (r < 0) {
    ImGui::TextDisabled("select a step that ran tokens");
    ImGui::End();
    return;
  }
  request = r == view.hover.request ? request : r;

  if (cached_step != s->record.step || cached_request != r || cached_layer != layer) {
    first = 1 << 30, last = -1;
    for (int t = 0; t < batch->num_tokens(); ++t)
      if (batch->token_request[t] == r) {
        first = std::min(first, batch->positions[t]);
        last = std::max(last, batch->positions[t]);
      }
    const Request& req = session.engine().requests()[r];
    std::vector<std::int32_t> tokens(last + 1);
    for (int p = 0; p <= last; ++p) tokens[p] = req.token_at(p);
    weights = session.engine().model().attention_weights(tokens, layer);
    cached_step = s->record.step, cached_request = r, cached_layer = layer;
  }
  const int S = last + 1, Q = last - first + 1;
  ImGui::Text("request #%d, step %d: %d new token%s at [%d, %d] over %d keys (%d cached)", r,
              s->record.step, Q, Q == 1 ? "" : "s", first, last, S, first);

  // The heatmap: one InvisibleButton as the canvas, cells by ImDrawList, hit-test by arithmetic.
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float cell = std::clamp(std::min(avail.x / S, (avail.y - 4) / Q), 1.f, 24.f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##attention", ImVec2(std::max(cell * S, 1.f), std::max(cell * Q, 1.f)));
  view.remember("attention heatmap");
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 color = request_color(r);
  const float* w = &weights[static_cast<std::size_t>(head) * S * S];
  double max_row_error = 0;
  int masked_nonzero = 0;
  for (int i = 0; i < Q; ++i) {
    const int p = first + i;
    double sum = 0;
    for (int j = 0; j < S; ++j) {
      const float x = w[static_cast<std::size_t>(p) * S + j];
      sum += x;
      if (j > p) {
        masked_nonzero += x != 0.f;
        continue;
      }
      const ImVec2 a(origin.x + j * cell, origin.y + i * cell);
      // sqrt spreads small weights so a long context stays readable.
      const int alpha = 40 + static_cast<int>(215 * std::sqrt(std::clamp(x, 0.f, 1.f)));
      dl->AddRectFilled(a, ImVec2(a.x + cell - (cell > 3), a.y + cell - (cell > 3)),
                        (color & 0x00ffffff) | (static_cast<ImU32>(alpha) << 24));
    }
    max_row_error = std::max(max_row_error, std::fabs(sum - 1.0));
  }
  if (first > 0)
    dl->AddLine(ImVec2(origin.x + first * cell, origin.y), ImVec2(origin.x + first * cell, origin.y + Q * cell),
                IM_COL32(255, 255, 255, 200), 1.5f);
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const int i = static_cast<int>((m.y - origin.y) / cell), j = static_cast<int>((m.x - origin.x) / cell);
    if (i >= 0 && i < Q && j >= 0 && j < S)
      ImGui::SetTooltip("query position %d -> key position %d%s\nweight %.4f", first + i, j,
                        j < first ? " (cached prefix)" : "", w[static_cast<std::size_t>(first + i) * S + j]);
  }
  view.geometry["attention"] = {{"request", r}, {"step", s->record.step}, {"layer", layer},
                                {"head", head}, {"num_queries", Q}, {"num_keys", S},
                                {"first_position", first}, {"max_row_sum_error", max_row_error},
                                {"masked_nonzero", masked_nonzero}};
  ImGui::End();
}

}  // namespace cblab::ui

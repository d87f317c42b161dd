// metrics.cpp — the run over time, one value per kept step: tokens per step, KV utilisation,
// running and waiting counts, preemptions so far, the prefix cache's hit rate so far (cached
// tokens / tokens looked up at admission: the engine's own totals, as the CLI summary prints
// them), and throughput (tokens the forward pass processed per second of its own compute
// time, so the number measures the kernels, not the frame rate).
module;
#include <imgui.h>
#include <algorithm>
#include <cfloat>
#include <format>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

using Getter = float (*)(const StepView&, const Session&);

void plot(const char* label, const Session& session, Getter get, float lo, float hi, float height,
          View& view) {
  struct Ctx { const Session* session; Getter get; };
  Ctx ctx{&session, get};
  const int n = static_cast<int>(session.history().size());
  float last = n ? get(session.history().back(), session) : 0.f;
  if (const StepView* s = session.at(view.selected_step)) last = get(*s, session);
  const std::string overlay = std::format("{}: {:.1f}", label, last);
  ImGui::PlotLines(
      std::format("##{}", label).c_str(),
      [](void* data, int i) {
        const auto* c = static_cast<const Ctx*>(data);
        return c->get(c->session->history()[i], *c->session);
      },
      &ctx, n, 0, overlay.c_str(), lo, hi, ImVec2(-1, height));
  view.geometry["metrics"][label] = last;
}

}  // namespace

void MetricsPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Metrics");
  view.remember_window("Metrics");
  const EngineConfig& e = session.workload().engine;
  constexpr int kPlots = 7;
  const float h = std::max((ImGui::GetContentRegionAvail().y - kPlots * ImGui::GetStyle().ItemSpacing.y) / kPlots, 20.f);
  ImGui::TextDisabled("value at the selected step");
  plot("tokens/step", session, [](const StepView& s, const Session&) { return static_cast<float>(s.record.budget_used); },
       0.f, static_cast<float>(e.max_tokens_per_step), h, view);
  plot("KV used %", session, [](const StepView& s, const Session& ss) {
         return 100.f * s.num_blocks_used / std::max(ss.workload().engine.num_blocks, 1); },
       0.f, 100.f, h, view);
  plot("running", session, [](const StepView& s, const Session&) { return static_cast<float>(s.record.num_running); },
       0.f, static_cast<float>(e.max_running), h, view);
  plot("waiting", session, [](const StepView& s, const Session&) { return static_cast<float>(s.record.num_waiting); },
       0.f, FLT_MAX, h, view);
  plot("preemptions", session, [](const StepView& s, const Session&) {
         return static_cast<float>(s.metrics.num_preemptions); },
       0.f, FLT_MAX, h, view);
  plot("prefix hit %", session, [](const StepView& s, const Session&) {
         return static_cast<float>(100. * s.metrics.prefix_cache_hit_rate()); },
       0.f, 100.f, h, view);
  plot("tokens/s (compute)", session, [](const StepView& s, const Session&) {
         return s.record.compute_us > 0 ? 1e6f * s.record.budget_used / s.record.compute_us : 0.f; },
       0.f, FLT_MAX, h, view);
  ImGui::End();
}

}  // namespace cblab::ui

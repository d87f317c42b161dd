// controls.cpp — the Controls panel. Configuration edits are kept aside until "Apply", because
// a new configuration means a new engine: the session restarts from step 0 (and says so).
module;
#include <imgui.h>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

nlohmann::json config_json(const ModelConfig& m, const EngineConfig& e) {
  return {{"model", {{"d_model", m.d_model}, {"n_layers", m.n_layers}, {"n_heads", m.n_heads},
                     {"n_kv_heads", m.n_kv_heads}, {"mlp_dim", m.mlp_dim}, {"seed", m.seed}}},
          {"engine", {{"max_tokens_per_step", e.max_tokens_per_step},
                      {"prefill_chunk_size", e.prefill_chunk_size},
                      {"kv_cache", std::string(to_string(e.kv_cache))},
                      {"block_size", e.block_size}, {"num_blocks", e.num_blocks},
                      {"max_running", e.max_running}, {"policy", std::string(to_string(e.policy))},
                      {"reserve_full_kv", e.reserve_full_kv}, {"prefix_caching", e.prefix_caching}}}};
}

}  // namespace

void ControlsPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Controls");
  view.remember_window("Controls");
  const Workload& w = session.workload();
  if (!synced) {
    model = w.model;
    engine = w.engine;
    max_history = static_cast<int>(session.max_history());
    synced = true;
  }

  // [run]
  const bool at_head = view.selected_step >= session.num_steps() - 1;
  if (ImGui::Button(view.playing ? "Pause" : "Run")) view.push("play", {{"on", !view.playing}});
  view.remember("Run");
  ImGui::SameLine();
  if (ImGui::Button("Step")) view.push("step");
  view.remember("Step");
  ImGui::SameLine();
  ImGui::BeginDisabled(view.selected_step <= session.first_kept_step());
  if (ImGui::Button("Step back")) view.push("step_back");
  view.remember("Step back");
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Reset")) view.push("reset");
  view.remember("Reset");
  ImGui::TextDisabled("keys: Right step, Left back, Space run, Home/End");
  ImGui::SetNextItemWidth(160);
  ImGui::SliderFloat("steps/s", &view.steps_per_second, 0.5f, 240.f, "%.1f",
                     ImGuiSliderFlags_Logarithmic);
  ImGui::Text("step %d of %d run%s", view.selected_step, session.num_steps(),
              session.is_done() ? " (all finished)" : "");
  if (!at_head) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1.f, 0.8f, 0.3f, 1.f), "viewing the past");
  }
  if (session.num_dropped() > 0)
    ImGui::TextColored(ImVec4(1.f, 0.8f, 0.3f, 1.f),
                       "history keeps the last %zu steps (cap: %zu steps or %zu MiB): %d oldest dropped",
                       session.history().size(), session.max_history(),
                       Session::kMaxHistoryBytes >> 20, session.num_dropped());

  // [kernels]
  ImGui::SeparatorText("kernels");
  const std::string arch(kernels::arch());
  ImGui::SetNextItemWidth(110);
  if (ImGui::BeginCombo("arch", arch.c_str())) {
    for (std::string_view a : kernels::available_archs())
      if (ImGui::Selectable(std::string(a).c_str(), a == arch))
        view.push("set_arch", {{"name", std::string(a)}});
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  if (const StepView* s = session.at(view.selected_step))
    ImGui::Text("step %d: %lld us, %d tokens", s->record.step,
                static_cast<long long>(s->record.compute_us), s->record.budget_used);
  else
    ImGui::TextDisabled("no step yet");
  ImGui::Text("%.0f fps, %.0f painted", view.frames_per_second, view.paints_per_second);
  ImGui::SetItemTooltip("frames per second, and how many of them changed the picture and were painted;\n"
                        "the others would have painted the same pixels again, so they skip it");

  // [config]
  ImGui::SeparatorText("engine (Apply restarts)");
  ImGui::PushItemWidth(110);
  ImGui::InputInt("token budget", &engine.max_tokens_per_step);
  ImGui::InputInt("chunk size", &engine.prefill_chunk_size);
  ImGui::InputInt("max running", &engine.max_running);
  int kind = engine.kv_cache == KVCacheKind::paged ? 1 : 0;
  if (ImGui::Combo("KV cache", &kind, "dense\0paged\0"))
    engine.kv_cache = kind ? KVCacheKind::paged : KVCacheKind::dense;
  ImGui::InputInt("block size", &engine.block_size);
  ImGui::InputInt("blocks", &engine.num_blocks);
  int policy = engine.policy == SchedulePolicy::priority ? 1 : 0;
  if (ImGui::Combo("policy", &policy, "fcfs\0priority\0"))
    engine.policy = policy ? SchedulePolicy::priority : SchedulePolicy::fcfs;
  ImGui::Checkbox("reserve full KV (off: preempt)", &engine.reserve_full_kv);
  ImGui::Checkbox("prefix caching", &engine.prefix_caching);
  ImGui::SeparatorText("model");
  ImGui::InputInt("d_model", &model.d_model);
  ImGui::InputInt("layers", &model.n_layers);
  ImGui::InputInt("heads", &model.n_heads);
  ImGui::InputInt("kv heads", &model.n_kv_heads);
  ImGui::InputInt("mlp dim", &model.mlp_dim);
  int seed = static_cast<int>(model.seed);
  if (ImGui::InputInt("seed", &seed)) model.seed = static_cast<unsigned>(std::max(seed, 0));
  ImGui::InputInt("history cap", &max_history);
  ImGui::PopItemWidth();
  if (ImGui::Button("Apply (restarts)")) {
    nlohmann::json args = config_json(model, engine);
    args["max_history"] = max_history;
    view.push("set_config", args);
  }
  view.remember("Apply");
  ImGui::SameLine();
  if (ImGui::Button("Revert")) synced = false;
  ImGui::End();
}

}  // namespace cblab::ui

// app.cpp — the App: the window layout, the actions (one path for buttons and the JS API),
// and the state value tests read.
module;
#include <imgui.h>
#include <algorithm>
#include <chrono>
#include <format>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {

using nlohmann::json;

namespace {

// A request spec from JSON in the workload file's format (so the same keys and messages).
RequestSpec parse_request(const json& args) {
  json one = args;
  const Workload w = parse_workload(json{{"requests", json::array({one})}}.dump());
  return w.requests.front();
}

int int_arg(const json& args, const char* key, int lo, int hi, int fallback) {
  if (!args.contains(key)) return fallback;
  const json& v = args[key];
  // nlohmann reads a non-negative integer as unsigned (above 2^63 it is only that): compared
  // as such, never wrapped to a negative value.
  const bool in_range =
      v.is_number_unsigned() ? v.get<unsigned long long>() <= static_cast<unsigned long long>(hi) &&
                                   (lo <= 0 || v.get<unsigned long long>() >= static_cast<unsigned long long>(lo))
                             : v.is_number_integer() && v.get<long long>() >= lo && v.get<long long>() <= hi;
  if (!in_range)
    throw std::invalid_argument(std::format("{} = {}: allowed an integer in {}..{}", key, v.dump(), lo, hi));
  return v.get<int>();
}

// Engine totals as the result JSON and the CLI summary name them.
json metrics_json(const EngineMetrics& m) {
  return {{"preemptions", m.num_preemptions}, {"preemptions_decode", m.num_preemptions_decode},
          {"preemptions_prefill", m.num_preemptions_prefill}, {"tokens_lost", m.num_tokens_lost},
          {"aborted", m.num_aborted}, {"prefix_cache_hit_rate", m.prefix_cache_hit_rate()},
          {"prefix_cache_hit_tokens", m.prefix_cache_hit_tokens},
          {"prefix_cache_query_tokens", m.prefix_cache_query_tokens},
          {"max_kv_utilization", m.max_kv_utilization()}};
}

// What issue 7 adds to a step: preemptions, aborts, prefix-cache lookups, shared and cached
// blocks, each request's activity, and the totals after the step.
json step_extras(const StepView& s) {
  const StepRecord& r = s.record;
  json preempted = json::array(), hits = json::array(), shared = json::array(), cached_free = json::array();
  for (const Preemption& p : r.preempted)
    preempted.push_back({{"request", p.request}, {"needed_by", p.needed_by},
                         {"reason", std::string(to_string(p.reason))}, {"tokens_lost", p.num_tokens_lost}});
  for (const PrefixHit& h : r.prefix_hits)
    hits.push_back({{"request", h.request}, {"cached_tokens", h.num_cached_tokens},
                    {"queried_tokens", h.num_tokens_queried}});
  for (int b = 0; b < static_cast<int>(r.blocks.size()); ++b) {
    if (r.blocks[b].ref_count > 1) shared.push_back(b);
    if (r.blocks[b].ref_count == 0 && r.blocks[b].is_cached) cached_free.push_back(b);
  }
  json activities = json::array();
  for (const Cell& c : s.cells) activities.push_back(activity_name(static_cast<int>(c.activity)));
  return {{"preempted", preempted}, {"aborted", r.aborted}, {"prefix_hits", hits},
          {"shared_blocks", shared}, {"cached_free_blocks", cached_free},
          {"activities", activities}, {"metrics", metrics_json(s.metrics)}};
}

bool bool_arg(const json& args, const char* key, bool fallback) {
  if (!args.contains(key)) return fallback;
  const json& v = args[key];
  if (!v.is_boolean()) throw std::invalid_argument(std::format("{} = {}: allowed true or false", key, v.dump()));
  return v.get<bool>();
}

std::string string_arg(const json& args, const char* key, const std::string& fallback) {
  if (!args.contains(key)) return fallback;
  const json& v = args[key];
  if (!v.is_string()) throw std::invalid_argument(std::format("{} = {}: allowed a string", key, v.dump()));
  return v.get<std::string>();
}

}  // namespace

App::App() { load(make_scenario("chat"), "scenario chat"); }

void App::load(const Workload& workload, const std::string& what) {
  session_.load(workload);  // throws before changing anything
  view_.selected_step = -1;
  view_.playing = false;
  controls_.synced = false;
  ++share_revision_;
  view_.message = std::format("loaded {}: {} requests; the session restarted", what,
                              workload.requests.size());
  view_.message_is_error = false;
}

void App::step_forward() {
  if (view_.selected_step < session_.num_steps() - 1) {  // replaying the kept past
    view_.selected_step = std::max(view_.selected_step + 1, session_.first_kept_step());
    return;
  }
  if (!session_.step()) {
    view_.playing = false;
    return;
  }
  view_.selected_step = session_.num_steps() - 1;
  const StepRecord& r = session_.history().back().record;
  // The engine's own guard (Engine::run): an idle step with an arrived request that can never
  // be admitted would repeat forever.
  const auto& waiting = session_.engine().scheduler().waiting();
  if (r.budget_used == 0 && r.num_running == 0 && !waiting.empty() &&
      session_.engine().requests()[waiting.front()].spec.arrival_step <= r.step) {
    view_.playing = false;
    throw std::invalid_argument(std::format(
        "step {}: request #{} can never be admitted with this configuration", r.step, waiting.front()));
  }
}

void App::tick(float dt_seconds, bool may_step) {
  if (!view_.playing) {
    step_debt_ = 0.f;
    return;
  }
  // At most 8 steps per frame: a slow frame does not snowball into a long one.
  step_debt_ = std::min(step_debt_ + dt_seconds * view_.steps_per_second, 8.f);
  while (may_step && step_debt_ >= 1.f && view_.playing) {
    step_debt_ -= 1.f;
    try {
      step_forward();
    } catch (const std::exception& e) {
      view_.message = e.what();
      view_.message_is_error = true;
    }
    if (session_.is_done() && view_.selected_step == session_.num_steps() - 1) view_.playing = false;
  }
}

void App::place(float x, float y, float w, float h) {
  const ImGuiCond cond = relayout_ ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
  ImGui::SetNextWindowPos(ImVec2(x, y), cond);
  ImGui::SetNextWindowSize(ImVec2(w, h), cond);
}

void App::draw(Pass pass) {
  const auto start = std::chrono::steady_clock::now();
  if (pass == Pass::frame) ++frames_;
  view_.begin_frame();
  tick(ImGui::GetIO().DeltaTime, pass == Pass::frame);
  // The rates Controls shows, counted over a second and changed once a second: a figure that
  // changed every frame would force every frame to be painted again.
  if (const double now = ImGui::GetTime(); now - rate_since_ >= 1.0) {
    view_.frames_per_second = static_cast<float>((frames_ - rate_frames_) / (now - rate_since_));
    view_.paints_per_second = static_cast<float>((frames_drawn_ - rate_frames_drawn_) / (now - rate_since_));
    rate_since_ = now;
    rate_frames_ = frames_;
    rate_frames_drawn_ = frames_drawn_;
  }

  // The layout follows the window: recomputed (and re-applied) whenever the display resizes.
  const ImVec2 d = ImGui::GetIO().DisplaySize;
  relayout_ = relayout_ || d.x != layout_w_ || d.y != layout_h_;
  layout_w_ = d.x;
  layout_h_ = d.y;
  const float left = std::clamp(d.x * 0.25f, 260.f, 360.f), W = d.x - left;
  const float controls_h = std::min(d.y * 0.5f, 470.f);
  const float row1 = d.y * 0.32f, row2 = d.y * 0.36f, row3 = d.y - row1 - row2;
  place(0, 0, left, controls_h);
  controls_.draw(session_, view_);
  place(0, controls_h, left, d.y - controls_h);
  workload_.draw(session_, view_);
  place(left, 0, W, row1);
  timeline_.draw(session_, view_);
  place(left, row1, W * 0.5f, row2);
  batch_.draw(session_, view_);
  place(left + W * 0.5f, row1, W * 0.5f, row2);
  kv_.draw(session_, view_);
  place(left, row1 + row2, W * 0.34f, row3);
  requests_.draw(session_, view_);
  place(left + W * 0.34f, row1 + row2, W * 0.24f, row3);
  attention_.draw(session_, view_);
  place(left + W * 0.58f, row1 + row2, W * 0.20f, row3);
  metrics_.draw(session_, view_);
  place(left + W * 0.78f, row1 + row2, W * 0.22f, row3);
  log_.draw(session_, view_);
  relayout_ = false;

  // Keyboard: the same commands as the Controls buttons (not while typing into a text field).
  if (!ImGui::GetIO().WantTextInput) {
    if (ImGui::IsKeyPressed(ImGuiKey_RightArrow)) view_.push("step");
    if (ImGui::IsKeyPressed(ImGuiKey_LeftArrow, false) && view_.selected_step > session_.first_kept_step())
      view_.push("step_back");
    if (ImGui::IsKeyPressed(ImGuiKey_Space, false)) view_.push("play", {{"on", !view_.playing}});
    if (ImGui::IsKeyPressed(ImGuiKey_Home, false) && session_.num_steps() > 0)
      view_.push("select_step", {{"step", session_.first_kept_step()}});
    if (ImGui::IsKeyPressed(ImGuiKey_End, false) && session_.num_steps() > 0)
      view_.push("select_step", {{"step", session_.num_steps() - 1}});
  }
  run_commands();
  if (pass == Pass::settle) return;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  draw_ms_ = frames_ == 1 ? ms : 0.9 * draw_ms_ + 0.1 * ms;
}

void App::run_commands() {
  std::vector<Command> commands;
  commands.swap(view_.commands);
  for (const Command& c : commands) {
    try {
      act(c.name, c.args);
    } catch (const std::exception&) {
      // act() has already put the message on the page.
    }
  }
}

json App::act(std::string_view name, const json& args) {
  try {
    return act_unchecked(name, args);
  } catch (const std::exception& e) {
    view_.message = e.what();
    view_.message_is_error = true;
    throw std::invalid_argument(e.what());
  }
}

json App::act_unchecked(std::string_view name, const json& args) {
  if (!args.is_object()) throw std::invalid_argument(std::format("{}: arguments must be an object", name));
  if (name == "load_workload") {
    if (!args.contains("json")) throw std::invalid_argument("load_workload: missing \"json\" (the workload text or object)");
    const json& j = args["json"];
    const std::string text = j.is_string() ? j.get<std::string>() : j.dump();
    Workload w;
    try {
      w = parse_workload(text);
    } catch (const InputError& e) {
      throw std::invalid_argument(std::format("workload not loaded: {} (the session is kept)", e.what()));
    }
    try {
      load(w, "workload");
    } catch (const InputError& e) {
      throw std::invalid_argument(std::format("workload not loaded: {} (the session is kept)", e.what()));
    }
  } else if (name == "load_scenario") {
    const std::string scenario = string_arg(args, "name", "chat");
    const int seed = int_arg(args, "seed", 0, 1 << 30, 1);
    const int count = int_arg(args, "count", 1, 256, 16);
    load(make_scenario(scenario, static_cast<std::uint64_t>(seed), count), "scenario " + scenario);
  } else if (name == "step") {
    const int n = int_arg(args, "n", 1, 100000, 1);
    for (int i = 0; i < n; ++i) step_forward();
  } else if (name == "run") {  // every step, synchronously, until every request has finished
    const int max_steps = int_arg(args, "max_steps", 1, 1000000, 100000);
    for (int i = 0; i < max_steps && !session_.is_done(); ++i) step_forward();
    view_.selected_step = session_.num_steps() - 1;
  } else if (name == "step_back") {
    if (view_.selected_step <= session_.first_kept_step())
      throw std::invalid_argument(std::format("step_back: step {} is the oldest kept step", view_.selected_step));
    --view_.selected_step;
  } else if (name == "select_step") {
    const int first = session_.first_kept_step(), last = session_.num_steps() - 1;
    if (last < first) throw std::invalid_argument("select_step: no step has run yet");
    view_.selected_step = int_arg(args, "step", first, last, last);
  } else if (name == "reset") {
    session_.restart();
    view_.selected_step = -1;
    view_.playing = false;
    view_.message = "reset: the same workload from step 0";
    view_.message_is_error = false;
  } else if (name == "play") {
    view_.playing = bool_arg(args, "on", true) && !session_.is_done();
  } else if (name == "set_speed") {
    view_.steps_per_second = static_cast<float>(int_arg(args, "steps_per_second", 1, 1000, 8));
  } else if (name == "set_config") {
    // Merge into the current workload's JSON and read it back: the same keys, types and
    // messages as a workload file; then the engine checks the values.
    json merged = json::parse(workload_json(session_.workload()));
    for (const char* part : {"model", "engine"})
      if (args.contains(part)) merged[part].merge_patch(args[part]);
    const int max_history = int_arg(args, "max_history", 1, 1000000, static_cast<int>(session_.max_history()));
    Workload w;
    try {
      w = parse_workload(merged.dump());
      load(w, "configuration");
    } catch (const InputError& e) {
      throw std::invalid_argument(std::format("configuration not applied: {} (the session is kept)", e.what()));
    }
    session_.set_max_history(static_cast<std::size_t>(max_history));
  } else if (name == "set_max_history") {
    session_.set_max_history(static_cast<std::size_t>(int_arg(args, "n", 1, 1000000, 4096)));
    if (view_.selected_step >= 0)  // -1 (nothing selected) stays -1, also before any step
      view_.selected_step = std::max(view_.selected_step, session_.first_kept_step());
  } else if (name == "set_arch") {
    kernels::set_arch(string_arg(args, "name", ""));
    view_.message = std::format("arch {}: used from the next step (Reset to rerun from step 0)", kernels::arch());
    view_.message_is_error = false;
  } else if (name == "add_request") {
    json spec = args;
    if (!spec.contains("id")) {  // a fresh id
      int n = static_cast<int>(session_.engine().requests().size());
      auto taken = [&](const std::string& id) {
        return std::ranges::any_of(session_.workload().requests, [&](const RequestSpec& r) { return r.id == id; });
      };
      while (taken(std::format("u{}", n))) ++n;
      spec["id"] = std::format("u{}", n);
    }
    try {
      const int index = session_.add_request(parse_request(spec));
      ++share_revision_;
      view_.message = std::format("added request #{} ({}), arriving at step {}", index,
                                  session_.workload().requests.back().id,
                                  session_.workload().requests.back().arrival_step);
      view_.message_is_error = false;
    } catch (const InputError& e) {
      throw std::invalid_argument(std::format("request not added: {}", e.what()));
    }
  } else if (name == "remove_request") {
    const int n = static_cast<int>(session_.workload().requests.size());
    if (n == 0) throw std::invalid_argument("remove_request: there are no requests");
    const int index = int_arg(args, "index", 0, n - 1, -1);
    if (index < 0) throw std::invalid_argument("remove_request: missing \"index\"");
    Workload w = session_.workload();
    const std::string id = w.requests[index].id;
    w.requests.erase(w.requests.begin() + index);
    load(w, std::format("the workload without #{} {}", index, id));
  } else if (name == "abort_request") {  // the running engine drops it and frees its blocks
    const int n = static_cast<int>(session_.engine().requests().size());
    if (n == 0) throw std::invalid_argument("abort_request: there are no requests");
    const int index = int_arg(args, "index", 0, n - 1, -1);
    if (index < 0) throw std::invalid_argument("abort_request: missing \"index\"");
    if (!session_.abort(index))
      throw std::invalid_argument(std::format("abort_request: request #{} has already finished", index));
    view_.message = std::format("aborted request #{}: its blocks are free; the next step reports it", index);
    view_.message_is_error = false;
  } else if (name == "import_file") {
    if (!on_import_file) throw std::invalid_argument("import_file: no file picker on this platform");
    on_import_file();
  } else if (name == "export_file") {
    if (!on_export_file) throw std::invalid_argument("export_file: no file saving on this platform");
    on_export_file("workload.json", workload_json(session_.workload(), 2) + "\n");
  } else if (name == "export_workload") {
    json s = state();
    s["workload_json"] = workload_json(session_.workload(), 2);
    return s;
  } else {
    throw std::invalid_argument(std::format(
        "unknown action '{}'; actions: load_workload, load_scenario, step, run, step_back, "
        "select_step, reset, play, set_speed, set_config, set_max_history, set_arch, add_request, "
        "remove_request, abort_request, import_file, export_file, export_workload", name));
  }
  return state();
}

json App::state() const {
  const Engine& engine = session_.engine();
  const auto& requests = engine.requests();
  int waiting = 0, running = 0, finished = 0;
  json reqs = json::array();
  for (const Request& r : requests) {
    if (r.is_finished()) ++finished;
    else if (r.state == RequestState::waiting) ++waiting;
    else ++running;
    reqs.push_back({{"id", r.spec.id}, {"name", r.name()}, {"state", std::string(to_string(r.state))},
                    {"num_prompt_tokens", r.num_prompt_tokens()},
                    {"num_computed_tokens", r.num_computed_tokens},
                    {"output_tokens", r.output_tokens},
                    {"finish_reason", std::string(to_string(r.finish_reason))},
                    {"first_token_step", r.first_token_step}, {"finish_step", r.finish_step},
                    {"priority", r.spec.priority}, {"num_preemptions", r.num_preemptions},
                    {"num_cached_prompt_tokens", r.num_cached_prompt_tokens}});
  }
  json archs = json::array();
  for (std::string_view a : kernels::available_archs()) archs.push_back(std::string(a));
  json selected = nullptr;
  if (const StepView* s = session_.at(view_.selected_step)) {
    const StepRecord& r = s->record;
    json prefills = json::array();
    for (const PrefillChunk& p : r.prefills) prefills.push_back({p.request, p.start, p.len});
    json tables = json::object();
    for (int i = 0; i < static_cast<int>(requests.size()); ++i)
      if (auto t = session_.block_table_at(i, r.step); !t.empty()) tables[std::to_string(i)] = t;
    selected = {{"step", r.step}, {"compute_us", r.compute_us}, {"budget_used", r.budget_used},
                {"budget", r.budget}, {"num_decode_tokens", r.num_decode_tokens()},
                {"num_prefill_tokens", r.num_prefill_tokens()}, {"decodes", r.decodes},
                {"prefills", prefills}, {"admitted", r.admitted}, {"finished", r.finished},
                {"num_blocks_used", s->num_blocks_used}, {"blocks_allocated", r.blocks_allocated},
                {"blocks_freed", r.blocks_freed}, {"log_line", s->log_line},
                {"generated", s->generated}, {"block_tables", tables},
                {"batch", {{"num_tokens", r.batch.num_tokens()}, {"requests", r.batch.requests},
                           {"token_request", r.batch.token_request},
                           {"positions", r.batch.positions},
                           {"context_lens", r.batch.context_lens},
                           {"block_tables", r.batch.block_tables},
                           {"max_blocks_per_seq", r.batch.max_blocks_per_seq}}}};
    selected.update(step_extras(*s));
  }
  const Workload& w = session_.workload();
  return {
      {"version", std::string(version)},
      {"arch", std::string(kernels::arch())},
      {"archs", archs},
      {"frame", frames_},
      {"fps", view_.frames_per_second},  // frames (not passes) over the last second
      {"draw_ms", draw_ms_},
      {"vertices", ImGui::GetCurrentContext() ? ImGui::GetIO().MetricsRenderVertices : 0},
      {"step", view_.selected_step},
      {"num_steps", session_.num_steps()},
      {"first_kept_step", session_.first_kept_step()},
      {"dropped_steps", session_.num_dropped()},
      {"max_history", session_.max_history()},
      {"done", session_.is_done()},
      {"playing", view_.playing},
      {"steps_per_second", view_.steps_per_second},
      {"num_requests", requests.size()},
      {"counts", {{"waiting", waiting}, {"running", running}, {"finished", finished}}},
      {"config", json::parse(workload_json({w.model, w.engine, {}}))},
      {"message", view_.message},
      {"error", view_.message_is_error ? json(view_.message) : json(nullptr)},
      {"hover", {{"request", view_.hover.request}, {"block", view_.hover.block},
                 {"step", view_.hover.step}, {"token", view_.hover.token}}},
      {"selected", selected},
      {"requests", reqs},
      {"metrics", metrics_json(engine.metrics())},
      {"scenarios", scenario_names()},
      {"share_revision", share_revision_},
      {"widgets", view_.widgets},
      {"geometry", view_.geometry},
      {"tooltip", view_.tooltip},
  };
}

}  // namespace cblab::ui

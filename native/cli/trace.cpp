// trace.cpp — see trace.hpp. Trace-event format: "X" complete events (ts, dur in us), "i"
// instant events (first token, finished, preempted, aborted, shares prompt blocks), "M"
// metadata naming processes and threads.
#include "trace.hpp"
#include <algorithm>
#include <cstdint>
#include <format>
#include <nlohmann/json.hpp>

namespace cli {

std::string chrome_trace(const std::vector<cblab::StepRecord>& steps,
                         const std::vector<cblab::Request>& requests) {
  using nlohmann::json;
  constexpr int kEngine = 1, kRequests = 2;  // trace "processes"
  json events = json::array();
  auto name_track = [&](int pid, int tid, const std::string& name, int order) {
    events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", tid},
                      {"args", {{"name", name}}}});
    events.push_back({{"ph", "M"}, {"name", "thread_sort_index"}, {"pid", pid}, {"tid", tid},
                      {"args", {{"sort_index", order}}}});
  };
  events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", kEngine}, {"args", {{"name", "engine"}}}});
  events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", kRequests}, {"args", {{"name", "requests"}}}});
  name_track(kEngine, 0, "steps", 0);
  for (std::size_t r = 0; r < requests.size(); ++r)
    name_track(kRequests, static_cast<int>(r) + 1, std::format("#{} {}", r, requests[r].name()),
               static_cast<int>(r));

  // Step s runs over [start[s], start[s] + dur[s]).
  std::vector<int64_t> start(steps.size() + 1, 0);
  for (std::size_t s = 0; s < steps.size(); ++s)
    start[s + 1] = start[s] + std::max<int64_t>(1, steps[s].compute_us);
  auto step_time = [&](int s) { return start[std::clamp<std::size_t>(s, 0, steps.size())]; };

  std::vector<int> admitted(requests.size(), -1);
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const auto& rec = steps[s];
    const int64_t ts = start[s], dur = start[s + 1] - start[s];
    events.push_back({{"ph", "X"}, {"name", std::format("step {}", rec.step)}, {"cat", "step"},
                      {"pid", kEngine}, {"tid", 0}, {"ts", ts}, {"dur", dur},
                      {"args", {{"decode_tokens", rec.num_decode_tokens()},
                                {"prefill_tokens", rec.num_prefill_tokens()},
                                {"budget_used", rec.budget_used}, {"budget", rec.budget},
                                {"running", rec.num_running}, {"waiting", rec.num_waiting},
                                {"blocks_allocated", rec.blocks_allocated.size()},
                                {"blocks_freed", rec.blocks_freed.size()}}}});
    for (int r : rec.admitted) admitted[r] = static_cast<int>(s);
    for (int r : rec.decodes)
      events.push_back({{"ph", "X"}, {"name", "decode"}, {"cat", "decode"}, {"pid", kRequests},
                        {"tid", r + 1}, {"ts", ts}, {"dur", dur}, {"args", {{"step", rec.step}}}});
    for (const auto& c : rec.prefills)
      events.push_back({{"ph", "X"}, {"name", std::format("prefill [{}:{})", c.start, c.start + c.len)},
                        {"cat", "prefill"}, {"pid", kRequests}, {"tid", c.request + 1}, {"ts", ts},
                        {"dur", dur}, {"args", {{"step", rec.step}, {"tokens", c.len}}}});
    // Instant events at the start of the step, on the track of the request they happened to.
    auto instant = [&](int r, const char* cat, const std::string& name, json args) {
      args["step"] = rec.step;
      events.push_back({{"ph", "i"}, {"s", "t"}, {"name", name}, {"cat", cat}, {"pid", kRequests},
                        {"tid", r + 1}, {"ts", ts}, {"args", std::move(args)}});
    };
    for (const auto& p : rec.preempted)  // lost its blocks: waits again, recomputes later
      instant(p.request, "preemption", std::format("preempted (lost {} tokens)", p.num_tokens_lost),
              {{"victim", requests[p.request].name()}, {"needed_by", requests[p.needed_by].name()},
               {"reason", std::string(cblab::to_string(p.reason))}, {"tokens_lost", p.num_tokens_lost}});
    for (int r : rec.aborted)  // Engine::abort between the previous step and this one
      instant(r, "abort", "aborted", {{"request", requests[r].name()}});
    for (const auto& p : rec.prompt_shares)  // parallel sampling: a sibling's prompt blocks
      instant(p.request, "share", std::format("shares {} prompt blocks", p.num_blocks),
              {{"donor", requests[p.donor].name()}, {"blocks", p.num_blocks}});
  }
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const auto& req = requests[r];
    const int tid = static_cast<int>(r) + 1;
    const int arrival = std::min<int>(req.spec.arrival_step, static_cast<int>(steps.size()));
    if (admitted[r] > arrival)
      events.push_back({{"ph", "X"}, {"name", "waiting"}, {"cat", "waiting"}, {"pid", kRequests},
                        {"tid", tid}, {"ts", step_time(arrival)},
                        {"dur", step_time(admitted[r]) - step_time(arrival)}});
    if (req.first_token_step >= 0)
      events.push_back({{"ph", "i"}, {"s", "t"}, {"name", "first token"}, {"pid", kRequests},
                        {"tid", tid}, {"ts", step_time(req.first_token_step + 1)}});
    if (req.finish_step >= 0)
      events.push_back({{"ph", "i"}, {"s", "t"},
                        {"name", std::format("finished ({})", cblab::to_string(req.finish_reason))},
                        {"pid", kRequests}, {"tid", tid}, {"ts", step_time(req.finish_step + 1)}});
  }
  return json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump() + "\n";
}

}  // namespace cli

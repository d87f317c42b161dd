// session.cpp — running the engine and deriving, once per step, what the panels draw.
module;
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {

namespace {

// About how many bytes one kept step takes: its record's vectors and the per-request views.
std::size_t approx_bytes(const StepView& v) {
  const StepRecord& r = v.record;
  const Batch& b = r.batch;
  const std::size_t ints = b.token_ids.size() + b.positions.size() + b.token_request.size() +
                           b.requests.size() + b.cu_seqlens_q.size() + b.context_lens.size() +
                           b.slot_mapping.size() + b.block_tables.size() + r.decodes.size() +
                           r.admitted.size() + r.blocks_allocated.size() + r.blocks_freed.size() +
                           r.finished.size() + v.computed.size() + v.generated.size();
  return sizeof(StepView) + v.log_line.size() + ints * sizeof(std::int32_t) +
         r.blocks.size() * sizeof(BlockSnapshot) + v.cells.size() * sizeof(Cell) +
         r.prefills.size() * sizeof(PrefillChunk) + r.sampled.size() * sizeof(SampledToken);
}

}  // namespace

Session::Session(std::size_t max_history)
    : engine_(std::make_unique<Engine>(make_engine(workload_))), max_history_(max_history) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

void Session::load(const Workload& workload) {
  // Build the new engine first: if it throws, nothing here has changed.
  auto engine = std::make_unique<Engine>(make_engine(workload));
  workload_ = workload;
  engine_ = std::move(engine);
  history_.clear();
  tables_.assign(workload_.requests.size(), {});
  admitted_at_.assign(workload_.requests.size(), -1);
  lost_.assign(workload_.requests.size(), 0);
  total_compute_us_ = 0;
}

void Session::restart() { load(Workload(workload_)); }

int Session::add_request(RequestSpec spec) {
  spec.arrival_step = std::max(spec.arrival_step, num_steps());
  const int index = engine_->add_request(spec);  // throws before any change
  workload_.requests.push_back(std::move(spec));
  tables_.emplace_back();
  admitted_at_.push_back(-1);
  lost_.push_back(0);
  return index;
}

bool Session::abort(int index) {
  if (index < 0 || index >= static_cast<int>(engine_->requests().size())) return false;
  return engine_->abort(engine_->requests()[index].spec.id);
}

void Session::set_max_history(std::size_t n) {
  max_history_ = std::max<std::size_t>(n, 1);
  while (history_.size() > max_history_) history_.pop_front();
}

bool Session::step() {
  if (is_done()) return false;
  record(engine_->step());
  return true;
}

void Session::record(StepRecord&& rec) {
  const int R = static_cast<int>(engine_->requests().size());
  const int s = rec.step;
  for (const Preemption& p : rec.preempted) {
    admitted_at_[p.request] = -1;  // back in the waiting queue
    lost_[p.request] = p.num_tokens_lost;
  }
  for (int r : rec.admitted) admitted_at_[r] = s;
  // Block tables after the step, read from the engine and kept as changes: an entry opens
  // when a (logical, physical) pair appears and closes when it goes (finish, preemption).
  const KVCache& kv = engine_->kv_cache();
  for (int r = 0; r < R; ++r) {
    BlockTableHistory& t = tables_[r];
    const auto table = kv.block_table(r);
    const std::size_t n = std::max(t.now.size(), table.size());
    for (std::size_t i = 0; i < n; ++i) {
      const bool had = i < t.now.size(), has = i < table.size();
      if (had && has && t.now[i] == table[i]) continue;
      if (had)
        for (auto& e : t.entries)
          if (e.to < 0 && e.logical == static_cast<int>(i)) e.to = s;
      if (has) t.entries.push_back({static_cast<int>(i), table[i], s, -1});
    }
    t.now.assign(table.begin(), table.end());
  }

  StepView view;
  view.log_line = format_step(rec);
  view.cells.resize(R);
  // Called right after the engine's step, so the engine's totals are the after-step values.
  view.computed.resize(R);
  view.generated.resize(R);
  view.preemptions.resize(R);
  view.cached.resize(R);
  const auto& requests = engine_->requests();
  for (int r = 0; r < R; ++r) {
    view.computed[r] = requests[r].num_computed_tokens;
    view.generated[r] = requests[r].num_output_tokens();
    view.preemptions[r] = requests[r].num_preemptions;
    view.cached[r] = requests[r].num_cached_prompt_tokens;
  }

  for (int r = 0; r < R; ++r) {
    Cell& c = view.cells[r];
    const Request& q = requests[r];
    if (q.finish_step >= 0 && q.finish_step < s) c.activity = Activity::done;
    else if (admitted_at_[r] >= 0 && admitted_at_[r] <= s) c.activity = Activity::stalled;
    else if (q.spec.arrival_step <= s) c.activity = Activity::waiting;
    c.requeued = c.activity == Activity::waiting && q.num_preemptions > 0;
  }
  for (int r : rec.decodes) view.cells[r] = {Activity::decode, false, false, false, 1};
  for (const PrefillChunk& p : rec.prefills)
    view.cells[p.request] = {Activity::prefill, false, false, p.start < lost_[p.request], p.len};
  for (const Preemption& p : rec.preempted) view.cells[p.request] = {Activity::preempted};
  for (int r : rec.aborted) view.cells[r] = {Activity::aborted};
  for (int r : rec.finished) view.cells[r].finished_here = true;
  for (const BlockSnapshot& b : rec.blocks) {
    view.num_blocks_used += b.ref_count > 0;
    view.num_shared_blocks += b.ref_count > 1;
    view.num_cached_free_blocks += b.ref_count == 0 && b.is_cached;
  }
  view.num_sampled = static_cast<int>(rec.sampled.size());
  view.metrics = engine_->metrics();
  total_compute_us_ += rec.compute_us;
  view.record = std::move(rec);

  history_.push_back(std::move(view));
  // The newest step's size stands for every kept one: the pool's snapshot, which dominates it,
  // has the same size for the whole session.
  const std::size_t max_steps = std::clamp<std::size_t>(
      kMaxHistoryBytes / approx_bytes(history_.back()), 1, max_history_);
  while (history_.size() > max_steps) history_.pop_front();
}

const StepView* Session::at(int step) const {
  const int i = step - first_kept_step();
  if (step < 0 || i < 0 || i >= static_cast<int>(history_.size())) return nullptr;
  return &history_[i];
}

std::vector<std::int32_t> Session::block_table_at(int request, int step) const {
  std::vector<std::int32_t> out;
  if (request < 0 || request >= static_cast<int>(tables_.size())) return out;
  for (const auto& e : tables_[request].entries)
    if (e.from <= step && (e.to < 0 || step < e.to)) {
      if (static_cast<int>(out.size()) <= e.logical) out.resize(e.logical + 1, -1);
      out[e.logical] = e.block;
    }
  return out;
}

std::string workload_json(const Workload& w, int indent) {
  using nlohmann::json;
  const ModelConfig& m = w.model;
  json model = {{"vocab_size", m.vocab_size}, {"d_model", m.d_model}, {"n_layers", m.n_layers},
                {"n_heads", m.n_heads}, {"n_kv_heads", m.n_kv_heads}, {"head_dim", m.head_dim},
                {"mlp_dim", m.mlp_dim}, {"rope_theta", m.rope_theta}, {"seed", m.seed}};
  const EngineConfig& e = w.engine;
  json engine = {{"max_tokens_per_step", e.max_tokens_per_step},
                 {"prefill_chunk_size", e.prefill_chunk_size},
                 {"kv_cache", std::string(to_string(e.kv_cache))},
                 {"block_size", e.block_size}, {"num_blocks", e.num_blocks},
                 {"max_running", e.max_running}, {"policy", std::string(to_string(e.policy))},
                 {"reserve_full_kv", e.reserve_full_kv}, {"prefix_caching", e.prefix_caching}};
  // Every key of a request that differs from its default, so parse_workload gives it back.
  const RequestSpec d{};
  json requests = json::array();
  for (const RequestSpec& r : w.requests) {
    json o = {{"id", r.id}};
    const bool printable = std::ranges::all_of(
        r.prompt_tokens, [](std::int32_t t) { return t >= 0x20 && t < 0x7f; });
    if (printable) o["prompt"] = std::string(r.prompt_tokens.begin(), r.prompt_tokens.end());
    else o["prompt_tokens"] = r.prompt_tokens;
    o["max_new_tokens"] = r.max_new_tokens;
    if (!r.stop_tokens.empty()) o["stop_tokens"] = r.stop_tokens;
    if (r.arrival_step != d.arrival_step) o["arrival_step"] = r.arrival_step;
    if (r.priority != d.priority) o["priority"] = r.priority;
    if (r.n != d.n) o["n"] = r.n;
    const SamplingParams& p = r.sampling;
    if (p.temperature != d.sampling.temperature) o["temperature"] = p.temperature;
    if (p.top_k != d.sampling.top_k) o["top_k"] = p.top_k;
    if (p.top_p != d.sampling.top_p) o["top_p"] = p.top_p;
    if (p.seed != d.sampling.seed) o["seed"] = p.seed;
    requests.push_back(std::move(o));
  }
  return json{{"model", model}, {"engine", engine}, {"requests", requests}}.dump(indent);
}

}  // namespace cblab::ui

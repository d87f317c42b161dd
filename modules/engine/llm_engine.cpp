// llm_engine.cpp — Engine: request validation and the step loop.
module;
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <format>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
module cblab.engine;
import cblab.kernels;

namespace cblab {

Engine::Engine(const ModelConfig& model, const EngineConfig& config)
    : config_(config),
      model_(model),
      kv_([&] {
        KVCacheConfig kv = model_.kv_cache_config(config.kv_cache, config.num_blocks,
                                                  config.block_size);
        kv.prefix_caching = config.prefix_caching;
        return kv;
      }()),
      scheduler_({config.max_tokens_per_step, config.prefill_chunk_size, config.max_running,
                  config.policy, config.reserve_full_kv}) {
  metrics_.num_blocks = config.num_blocks;
}

int Engine::add_request(RequestSpec spec) {
  // Every check comes before any change: a rejected request leaves the engine as it was.
  const int V = model_.config().vocab_size;
  const std::string vocab = std::format("0..{} (model.vocab_size {})", V - 1, V);
  if (spec.id.empty()) throw RequestError("id", "\"\"", "a non-empty string");
  for (const Request& r : requests_)
    if (r.spec.id == spec.id)
      throw RequestError("id", std::format("\"{}\"", spec.id), "an id not used before");
  if (spec.prompt_tokens.empty())
    throw RequestError("prompt_tokens", "[] (empty)", "at least one token");
  for (std::size_t i = 0; i < spec.prompt_tokens.size(); ++i)
    if (spec.prompt_tokens[i] < 0 || spec.prompt_tokens[i] >= V)
      throw RequestError(std::format("prompt_tokens[{}]", i),
                         std::to_string(spec.prompt_tokens[i]), vocab);
  for (std::size_t i = 0; i < spec.stop_tokens.size(); ++i)
    if (spec.stop_tokens[i] < 0 || spec.stop_tokens[i] >= V)
      throw RequestError(std::format("stop_tokens[{}]", i), std::to_string(spec.stop_tokens[i]),
                         vocab);
  if (spec.max_new_tokens < 0)
    throw RequestError("max_new_tokens", std::to_string(spec.max_new_tokens), ">= 0");
  if (spec.arrival_step < 0)
    throw RequestError("arrival_step", std::to_string(spec.arrival_step), ">= 0");
  const SamplingParams& sp = spec.sampling;
  if (!(std::isfinite(sp.temperature) && sp.temperature >= 0))
    throw RequestError("temperature", std::format("{}", sp.temperature), ">= 0 (0 = greedy)");
  if (sp.top_k < 0) throw RequestError("top_k", std::to_string(sp.top_k), ">= 0 (0 = all tokens)");
  if (!(sp.top_p > 0 && sp.top_p <= 1))
    throw RequestError("top_p", std::format("{}", sp.top_p), "0 < top_p <= 1 (1 = all tokens)");
  if (spec.n < 1 || spec.n > kMaxSamples)
    throw RequestError("n", std::to_string(spec.n),
                       std::format("1..{} (samples of the request)", kMaxSamples));

  Request r{.spec = std::move(spec)};
  const int64_t blocks = kv_.blocks_needed(r.max_kv_tokens());  // 64-bit: may exceed 2^31
  if (blocks > config_.num_blocks)
    throw RequestError(
        "prompt_tokens + max_new_tokens",
        std::format("{} + {} (needs {} blocks of {})", r.num_prompt_tokens(),
                    r.spec.max_new_tokens, blocks, config_.block_size),
        std::format("a request whose KV fits in engine.num_blocks ({} blocks = {} tokens)",
                    config_.num_blocks, int64_t{config_.num_blocks} * config_.block_size));
  const int64_t num_tokens = int64_t{r.num_prompt_tokens()} + r.spec.max_new_tokens;
  if (num_tokens > kMaxRequestTokens)
    throw RequestError("prompt_tokens + max_new_tokens",
                       std::format("{} + {} = {} tokens", r.num_prompt_tokens(),
                                   r.spec.max_new_tokens, num_tokens),
                       std::format("at most {} tokens per request (cap)", kMaxRequestTokens));

  const int index = static_cast<int>(requests_.size());
  r.arrived_step = std::max(r.spec.arrival_step, step_);
  r.first_sample = index;
  // Parallel sampling: one sequence per sample, each with its own stream (vLLM: seed + k).
  const uint64_t seed = r.spec.sampling.seed;
  for (int k = 0; k < r.spec.n; ++k) {
    Request sample = r;
    sample.sample_index = k;
    sample.spec.sampling.seed = seed + static_cast<uint64_t>(k);
    requests_.push_back(std::move(sample));
    scheduler_.add(index + k, requests_);
  }
  return index;
}

bool Engine::abort(std::string_view id) {
  const auto it = std::ranges::find_if(requests_, [&](const Request& r) { return r.spec.id == id; });
  if (it == requests_.end())
    throw RequestError("id", std::format("\"{}\"", id), "the id of a request added before");
  bool aborted = false;
  const int first = static_cast<int>(it - requests_.begin());
  for (int i = first; i < first + it->spec.n; ++i) {  // every sample of the request
    Request& r = requests_[i];
    if (r.is_finished()) continue;
    scheduler_.remove(i);
    const auto freed = kv_.free(i);  // nothing for a waiting or preempted request
    aborted_blocks_.insert(aborted_blocks_.end(), freed.begin(), freed.end());
    aborted_.push_back(i);
    r.state = RequestState::finished;
    r.finish_reason = FinishReason::abort;
    r.finish_step = step_;  // reported by the next step's record
    r.finish_us = clock_us_;
    ++metrics_.num_aborted;
    aborted = true;
  }
  return aborted;
}

StepRecord Engine::step() {
  const auto step_start = std::chrono::steady_clock::now();
  StepRecord record{.step = step_, .budget = config_.max_tokens_per_step};
  record.aborted = std::exchange(aborted_, {});
  record.blocks_freed = std::exchange(aborted_blocks_, {});
  note_arrivals();

  // 1. Schedule: every decoding request gets one token, prefill chunks fill the rest of the
  //    token budget, and waiting requests are admitted while the KV cache has room. A running
  //    request that finds no free block preempts another (or itself): control flow.
  Schedule work = scheduler_.schedule(step_, requests_, kv_);
  record.num_blocks_used_peak = kv_.pool().num_blocks() - kv_.pool().num_free_blocks();

  // 2. Flatten the work into one ragged batch: no padding, one row per request.
  Batch batch = build_batch(work, requests_, kv_);

  // 3. One fused forward pass over every decode token and every prefill chunk; each token's
  //    K/V are written into its slot, then attention reads the request's whole context.
  if (!work.empty()) {
    const auto start = std::chrono::steady_clock::now();
    const ForwardOutput out = model_.forward(batch, kv_);
    record.compute_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start).count();

    // 4. Requests whose tokens are now all cached sample their next token. Blocks that just
    //    became full join the prefix cache.
    sample_and_append(batch, out, record);
    for (int i : batch.requests)
      kv_.cache_full_blocks(i, requests_[i].all_tokens(), requests_[i].num_computed_tokens);
  }

  // 5. Finished requests leave the running set and give their blocks back.
  finish_and_free(record);

  record.decodes = std::move(work.decodes);
  record.prefills = std::move(work.prefills);
  record.admitted = std::move(work.admitted);
  record.budget_used = work.num_tokens;
  record.blocks_allocated = std::move(work.blocks_allocated);
  record.blocks_freed.insert(record.blocks_freed.begin(), work.blocks_freed.begin(),
                             work.blocks_freed.end());
  record.preempted = std::move(work.preempted);
  record.prefix_hits = std::move(work.prefix_hits);
  record.prompt_shares = std::move(work.prompt_shares);
  record.batch = std::move(batch);
  record.blocks = kv_.snapshot();
  record.num_running = static_cast<int>(scheduler_.running().size());
  record.num_waiting = static_cast<int>(scheduler_.waiting().size());
  record.step_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - step_start).count();
  note_times(record);
  ++step_;
  return record;
}

void Engine::note_arrivals() {
  for (int i : scheduler_.waiting()) {
    Request& r = requests_[i];
    if (r.arrival_us < 0 && r.arrived_step <= step_) r.arrival_us = clock_us_;
  }
}

void Engine::note_times(StepRecord& record) {
  clock_us_ += record.step_us;
  record.clock_us = clock_us_;
  for (const SampledToken& t : record.sampled) {
    Request& r = requests_[t.request];
    if (r.first_token_us < 0) r.first_token_us = clock_us_;
  }
  for (int i : record.finished) requests_[i].finish_us = clock_us_;

  metrics_.busy_us = clock_us_;
  metrics_.num_computed_tokens += record.budget_used;
  metrics_.num_output_tokens += static_cast<int>(record.sampled.size());
  metrics_.max_blocks_used = std::max(metrics_.max_blocks_used, record.num_blocks_used_peak);
  for (const PrefixHit& h : record.prefix_hits) {
    metrics_.prefix_cache_query_tokens += h.num_tokens_queried;
    metrics_.prefix_cache_hit_tokens += h.num_cached_tokens;
  }
  for (const Preemption& p : record.preempted) {
    ++metrics_.num_preemptions;
    ++(p.reason == PreemptionReason::decode_needs_block ? metrics_.num_preemptions_decode
                                                        : metrics_.num_preemptions_prefill);
    metrics_.num_tokens_lost += p.num_tokens_lost;
  }
}

void Engine::sample_and_append(const Batch& batch, const ForwardOutput& out,
                               StepRecord& record) {
  const int V = model_.config().vocab_size;
  for (int row = 0; row < batch.num_seqs(); ++row) {
    const int i = batch.requests[row];
    Request& r = requests_[i];
    r.num_computed_tokens += batch.query_len(row);
    if (r.num_computed_tokens < r.num_tokens()) continue;  // mid-prompt chunk: nothing to sample

    if (r.spec.max_new_tokens == 0) {  // prefill only
      r.state = RequestState::finished;
      r.finish_reason = FinishReason::length;
      continue;
    }
    const int32_t token =
        sample(std::span(out.logits).subspan(static_cast<std::size_t>(row) * V, V),
               r.spec.sampling, r.num_output_tokens());
    r.output_tokens.push_back(token);
    record.sampled.push_back({i, token});
    if (r.first_token_step < 0) r.first_token_step = step_;
    r.state = RequestState::decoding;
    if (std::ranges::find(r.spec.stop_tokens, token) != r.spec.stop_tokens.end()) {
      r.state = RequestState::finished;
      r.finish_reason = FinishReason::stop;
    } else if (r.num_output_tokens() == r.spec.max_new_tokens) {
      r.state = RequestState::finished;
      r.finish_reason = FinishReason::length;
    }
  }
}

void Engine::finish_and_free(StepRecord& record) {
  for (int i : scheduler_.running()) {
    Request& r = requests_[i];
    if (!r.is_finished()) continue;
    r.finish_step = step_;
    record.finished.push_back(i);
    const auto freed = kv_.free(i);
    record.blocks_freed.insert(record.blocks_freed.end(), freed.begin(), freed.end());
  }
  scheduler_.remove_finished(requests_);
}

int Engine::run(const std::function<void(const StepRecord&)>& on_step) {
  const int first = step_;
  while (has_unfinished()) {
    const StepRecord record = step();
    if (on_step) on_step(record);
    // Admission guarantees progress: an idle step with nothing running and an arrived request
    // waiting would mean that request can never be admitted.
    const bool arrived_waiting = std::ranges::any_of(
        scheduler_.waiting(), [&](int i) { return requests_[i].spec.arrival_step <= record.step; });
    if (record.budget_used == 0 && record.num_running == 0 && arrived_waiting)
      throw std::logic_error("Engine::run: no progress possible (scheduler invariant broken)");
  }
  return step_ - first;
}

}  // namespace cblab

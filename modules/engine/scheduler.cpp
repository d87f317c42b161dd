// scheduler.cpp — the token-budget scheduler: decodes first, then prefill chunks, then FCFS
// admission while the KV cache has room.
module;
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <deque>
#include <format>
#include <string>
#include <vector>
module cblab.engine;

namespace cblab {

Scheduler::Scheduler(const SchedulerConfig& config) : config_(config) {
  if (config.max_tokens_per_step < 1)
    throw ConfigError("engine.max_tokens_per_step", std::to_string(config.max_tokens_per_step),
                      ">= 1");
  if (config.prefill_chunk_size < 1)
    throw ConfigError("engine.prefill_chunk_size", std::to_string(config.prefill_chunk_size),
                      ">= 1");
  if (config.prefill_chunk_size > config.max_tokens_per_step)
    throw ConfigError("engine.prefill_chunk_size", std::to_string(config.prefill_chunk_size),
                      std::format("1..engine.max_tokens_per_step ({})",
                                  config.max_tokens_per_step));
  if (config.max_running < 1)
    throw ConfigError("engine.max_running", std::to_string(config.max_running), ">= 1");
}

void Scheduler::add(int request, const std::vector<Request>& requests) {
  // Insert before the first queued request that arrives strictly later: FCFS by arrival,
  // and requests arriving in the same step keep the order they were added in.
  const int arrival = requests[request].spec.arrival_step;
  const auto at = std::upper_bound(waiting_.begin(), waiting_.end(), arrival,
                                   [&](int a, int i) { return a < requests[i].spec.arrival_step; });
  waiting_.insert(at, request);
}

int Scheduler::blocks_promised(const std::vector<Request>& requests, const KVCache& kv) const {
  int promised = 0;
  for (int i : running_)
    promised += kv.blocks_needed(requests[i].max_kv_tokens()) - kv.num_blocks_held(i);
  return promised;
}

Schedule Scheduler::schedule(int step, std::vector<Request>& requests, KVCache& kv) {
  Schedule s;
  s.step = step;
  int budget = config_.max_tokens_per_step;

  // 1. Decodes first: one token each. Their slots were promised at admission.
  for (int i : running_) {
    if (budget == 0) break;
    if (requests[i].state != RequestState::decoding) continue;
    const bool ok = kv.allocate_slots(i, 1, &s.blocks_allocated);
    assert(ok && "admission promised every running request its blocks");
    s.decodes.push_back(i);
    --budget;
  }

  // 2. Requests already prefilling get their next chunk.
  auto schedule_chunk = [&](int i) {
    Request& r = requests[i];
    const int len = std::min({config_.prefill_chunk_size, r.num_prompt_tokens_left(), budget});
    const bool ok = kv.allocate_slots(i, len, &s.blocks_allocated);
    assert(ok && "admission promised every running request its blocks");
    s.prefills.push_back({i, r.num_computed_tokens, len});
    budget -= len;
  };
  for (int i : running_) {
    if (budget == 0) break;
    if (requests[i].state == RequestState::prefilling) schedule_chunk(i);
  }

  // 3. Admit waiting requests, first come first served: stop at the first that cannot go.
  while (budget > 0 && !waiting_.empty() &&
         static_cast<int>(running_.size()) < config_.max_running) {
    const int i = waiting_.front();
    Request& r = requests[i];
    if (r.spec.arrival_step > step) break;  // has not arrived yet
    const int room = kv.pool().num_free_blocks() - blocks_promised(requests, kv);
    if (kv.blocks_needed(r.max_kv_tokens()) > room) break;  // wait for blocks to be freed
    waiting_.pop_front();
    running_.push_back(i);
    r.state = RequestState::prefilling;
    s.admitted.push_back(i);
    schedule_chunk(i);
  }

  s.num_tokens = config_.max_tokens_per_step - budget;
  return s;
}

void Scheduler::remove_finished(const std::vector<Request>& requests) {
  std::erase_if(running_, [&](int i) { return requests[i].is_finished(); });
}

}  // namespace cblab

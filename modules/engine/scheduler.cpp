// scheduler.cpp — the token-budget scheduler: decodes first, then prefill chunks, then
// admission while the KV cache has room; preemption when a running request finds no block.
module;
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <deque>
#include <format>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>
module cblab.engine;

namespace cblab {

std::string_view to_string(SchedulePolicy p) {
  return p == SchedulePolicy::fcfs ? "fcfs" : "priority";
}

std::string_view to_string(PreemptionReason r) {
  return r == PreemptionReason::decode_needs_block ? "decode_needs_block" : "prefill_needs_block";
}

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

namespace {
// Parallel sampling: what sample i can share at admission.
struct SiblingShare {
  int donor = -1;       // a running sibling holding the blocks; -1 = nobody to share with
  int num_blocks = 0;   // full prompt blocks to share
  bool wait = false;    // a running sibling is still computing them: wait, do not compute twice
};

SiblingShare sibling_share(int i, const std::vector<Request>& requests, const KVCache& kv) {
  const Request& r = requests[i];
  // Full blocks of the prompt, leaving at least the last token to compute (its logits are
  // needed): (P - 1) / B at first, P / B after a preemption (outputs follow the prompt).
  const int num_blocks =
      std::min(r.num_prompt_tokens(), r.num_tokens() - 1) / kv.config().block_size;
  if (r.spec.n == 1 || num_blocks == 0) return {};
  bool sibling_running = false;
  for (int j = r.first_sample; j < r.first_sample + r.spec.n; ++j) {
    const Request& sibling = requests[j];
    if (j == i || !sibling.is_running()) continue;
    if (sibling.num_computed_tokens >= num_blocks * kv.config().block_size)
      return {.donor = j, .num_blocks = num_blocks};
    sibling_running = true;
  }
  return {.wait = sibling_running};
}
}  // namespace

bool Scheduler::runs_before(int a, int b, const std::vector<Request>& requests) const {
  const RequestSpec& x = requests[a].spec;
  const RequestSpec& y = requests[b].spec;
  if (config_.policy == SchedulePolicy::priority)
    return std::tuple(x.priority, x.arrival_step, a) < std::tuple(y.priority, y.arrival_step, b);
  return std::tuple(x.arrival_step, a) < std::tuple(y.arrival_step, b);
}

void Scheduler::add(int request, const std::vector<Request>& requests) {
  // Insert after the last queued request that runs before it. Scanning from the back keeps
  // preempted requests (fcfs puts them at the head, out of arrival order) where they are.
  auto at = waiting_.end();
  while (at != waiting_.begin() && !runs_before(*(at - 1), request, requests)) --at;
  waiting_.insert(at, request);
}

void Scheduler::remove(int request) {
  std::erase(waiting_, request);
  std::erase(running_, request);
}

int Scheduler::blocks_promised(const std::vector<Request>& requests, const KVCache& kv) const {
  int promised = 0;
  for (int i : running_)
    promised += kv.blocks_needed(requests[i].max_kv_tokens()) - kv.num_blocks_held(i);
  return promised;
}

void Scheduler::preempt(int victim, int needed_by, PreemptionReason reason,
                        std::vector<Request>& requests, KVCache& kv, Schedule& s) {
  Request& r = requests[victim];
  s.preempted.push_back({victim, needed_by, reason, r.num_computed_tokens});
  const auto freed = kv.free(victim);
  s.blocks_freed.insert(s.blocks_freed.end(), freed.begin(), freed.end());
  r.num_computed_tokens = 0;  // recompute: prompt and output run through the model again
  r.state = RequestState::preempted;
  ++r.num_preemptions;
  std::erase(running_, victim);
  if (config_.policy == SchedulePolicy::fcfs) waiting_.push_front(victim);  // first to return
  else add(victim, requests);  // by priority: ahead of every waiting request of its priority
}

Schedule Scheduler::schedule(int step, std::vector<Request>& requests, KVCache& kv) {
  Schedule s;
  s.step = step;
  int budget = config_.max_tokens_per_step;
  std::vector<int> scheduled;  // running requests given tokens this step: never victims

  // Slots for num_new_tokens more tokens of request i. When the pool is out, preempt the last
  // running request (policy order) not scheduled yet until it fits; false if i itself went.
  auto allocate_or_preempt = [&](int i, int num_new_tokens, PreemptionReason reason) {
    while (!kv.allocate_slots(i, num_new_tokens, &s.blocks_allocated)) {
      assert(!config_.reserve_full_kv && "admission promised every running request its blocks");
      const auto victim = std::find_if(running_.rbegin(), running_.rend(), [&](int v) {
        return std::ranges::find(scheduled, v) == scheduled.end();
      });
      assert(victim != running_.rend() && "i itself is running and not scheduled");
      const int v = *victim;
      preempt(v, i, reason, requests, kv, s);
      if (v == i) return false;
    }
    return true;
  };

  // 1. Decodes first: one token each.
  const std::vector<int> order = running_;  // running_ shrinks when a request is preempted
  for (int i : order) {
    if (budget == 0) break;
    if (requests[i].state != RequestState::decoding) continue;  // prefilling, or preempted now
    if (!allocate_or_preempt(i, 1, PreemptionReason::decode_needs_block)) continue;
    s.decodes.push_back(i);
    scheduled.push_back(i);
    --budget;
  }

  // 2. Requests already prefilling get their next chunk (of the prompt, or after a preemption
  //    of prompt + output: the recompute).
  auto schedule_chunk = [&](int i) {
    Request& r = requests[i];
    const int len = std::min({config_.prefill_chunk_size, r.num_tokens_to_prefill(), budget});
    if (!allocate_or_preempt(i, len, PreemptionReason::prefill_needs_block)) return;
    s.prefills.push_back({i, r.num_computed_tokens, len});
    scheduled.push_back(i);
    budget -= len;
  };
  for (int i : order) {
    if (budget == 0) break;
    if (requests[i].state == RequestState::prefilling) schedule_chunk(i);
  }

  // 3. Admit waiting requests that have arrived, in queue order; stop at the first that
  //    cannot go. Not in a step that preempted: the pool just proved too small.
  while (s.preempted.empty() && budget > 0 &&
         static_cast<int>(running_.size()) < config_.max_running) {
    // A sample whose sibling is still computing the shared prompt blocks is passed over.
    const auto next = std::ranges::find_if(waiting_, [&](int i) {
      return requests[i].spec.arrival_step <= step && !sibling_share(i, requests, kv).wait;
    });
    if (next == waiting_.end()) break;  // nobody has arrived yet (or can go yet)
    const int i = *next;
    Request& r = requests[i];
    // Blocks shared with a sibling or found in the cache are not taken fresh; cached blocks on
    // the free list still use free room.
    const SiblingShare share = sibling_share(i, requests, kv);
    const PrefixMatch hit = share.donor >= 0 ? PrefixMatch{} : kv.match_prefix(r.all_tokens());
    const int room = kv.pool().num_free_blocks() - hit.num_free_blocks -
                     (config_.reserve_full_kv ? blocks_promised(requests, kv) : 0);
    const int need = kv.blocks_needed(config_.reserve_full_kv ? r.max_kv_tokens() : r.num_tokens());
    if (need - hit.num_blocks - share.num_blocks > room) break;  // wait for blocks to be freed
    waiting_.erase(next);
    if (share.donor >= 0) {
      r.num_computed_tokens = kv.share_blocks(i, share.donor, share.num_blocks);
      s.prompt_shares.push_back({i, share.donor, share.num_blocks});
    } else if (kv.config().prefix_caching) {  // a hit, or a miss: both count for the hit rate
      r.num_computed_tokens = kv.take_prefix(i, hit);
      s.prefix_hits.push_back({i, r.num_computed_tokens, r.num_tokens()});
      if (r.num_preemptions == 0) r.num_cached_prompt_tokens = r.num_computed_tokens;
    }
    if (config_.policy == SchedulePolicy::fcfs) {
      running_.push_back(i);
    } else {
      const auto at = std::ranges::find_if(
          running_, [&](int j) { return runs_before(i, j, requests); });
      running_.insert(at, i);
    }
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

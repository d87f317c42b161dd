// cblab.engine:scheduler — decides, each step, which tokens run.
//
// The policy of the original lab (and of vLLM's chunked prefill):
//   1. every decoding request gets its one token first, so decodes are never starved;
//   2. requests still prefilling get the next chunk of their prompt (<= prefill_chunk_size),
//      while the token budget (max_tokens_per_step) lasts;
//   3. waiting requests that have arrived are admitted in queue order, while fewer than
//      max_running run, the budget lasts, and the KV cache has room; the first that cannot go
//      stops admission (no overtaking).
// Two admission rules (SchedulerConfig::reserve_full_kv):
//   reserve_full_kv = true (default, the original lab): admit only when the pool can hold the
//     request's whole life (prompt + max_new_tokens - 1 slots, counting the blocks already
//     promised to running requests). No running request ever waits for a block: no preemption.
//   reserve_full_kv = false (vLLM, nano-vllm): admit when the blocks of the tokens it must
//     compute now fit. More requests run at once, and a running request can find the pool
//     empty. That is control flow, not an error: the scheduler PREEMPTS a victim — the last
//     running request, in policy order, not yet scheduled this step (fcfs: the most recently
//     admitted; priority: the lowest priority, latest arrival), possibly the request itself —
//     frees its blocks and queues it again at the head with its tokens kept; it recomputes
//     prompt + output when re-admitted. A step that preempted admits nobody.
// Blocks are taken lazily, one when a request's table needs it, so the pool fills as the
// cache really does.
// Policies (SchedulerConfig::policy): fcfs orders the waiting queue by arrival_step and the
// running set by admission; priority orders both by (priority, arrival_step, request index),
// smaller priority first.
// Prefix caching: at admission the KV cache is asked for the longest cached prefix of the
// request's tokens; those blocks join its table (shared) and it starts computing after them.
// Only the blocks it must take fresh, plus cached blocks it takes off the free list, count
// against the room.
// Parallel sampling (RequestSpec::n > 1; vLLM v1's design): a request is n sequences, one per
// sample, scheduled like any request. They share the prompt's full blocks by reference count:
// a sample is admitted into the first (P - 1) / B blocks of a running sibling that has
// computed them (with prefix caching on or off), and computes the rest of the prompt — at least
// its last token, whose logits it samples from — into blocks of its own. Only full blocks are
// shared and every sequence writes only past them, so no block is ever written while shared
// and nothing is copied (vLLM's rule). A sample whose sibling is still computing those blocks
// waits for it (without holding up the requests queued behind it); a sample with no running
// sibling computes the prompt itself (or finds it in the prefix cache). A preempted sample is
// re-admitted the same way and recomputes only what it does not share.
// Not here: preempting running requests to admit a more important waiting one, swapping.
module;
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>
export module cblab.engine:scheduler;
import :request;
import :kv_cache;

export namespace cblab {

enum class SchedulePolicy { fcfs, priority };
enum class PreemptionReason { decode_needs_block, prefill_needs_block };
std::string_view to_string(SchedulePolicy p);
std::string_view to_string(PreemptionReason r);

struct SchedulerConfig {
  int max_tokens_per_step = 64;  // token budget of one step (decodes + prefill chunk tokens)
  int prefill_chunk_size = 32;   // most prompt tokens of one request per step
  int max_running = 16;          // most requests admitted at once
  SchedulePolicy policy = SchedulePolicy::fcfs;
  bool reserve_full_kv = true;   // admission reserves a request's whole life: no preemption
};

// Prompt tokens [start, start + len) of one request.
struct PrefillChunk {
  int request = 0;
  int start = 0;
  int len = 0;
};

// One request sent back to the waiting queue because a running request found no free block.
struct Preemption {
  int request = 0;         // the victim
  int needed_by = 0;       // the request that could not get a block (may be the victim)
  PreemptionReason reason = PreemptionReason::decode_needs_block;
  int num_tokens_lost = 0; // its computed tokens whose K/V were dropped: recomputed later
};

// An admitted request whose first tokens were found in the prefix cache.
struct PrefixHit {
  int request = 0;
  int num_cached_tokens = 0;  // tokens whose K/V it shares instead of computing
  int num_tokens_queried = 0; // tokens it looked up (all of its tokens)
};

// An admitted sample that shares the full prompt blocks of a running sibling (parallel sampling).
struct PromptShare {
  int request = 0;     // the admitted sample
  int donor = 0;       // the sibling whose block table it shares
  int num_blocks = 0;  // leading blocks shared (ref count + 1 each); their tokens count as computed
};

// What one step runs: one plain value.
struct Schedule {
  int step = 0;
  std::vector<int> decodes;                // request indices, one token each
  std::vector<PrefillChunk> prefills;      // prompt chunks, after the decodes
  std::vector<int> admitted;               // requests that left the waiting queue this step
  int num_tokens = 0;                      // budget used: decodes + sum of chunk lengths
  std::vector<int32_t> blocks_allocated;   // block ids taken from the pool this step
  std::vector<Preemption> preempted;       // in the order they happened
  std::vector<int32_t> blocks_freed;       // block ids the preemptions returned to the pool
  std::vector<PrefixHit> prefix_hits; // admitted requests that found cached blocks
  std::vector<PromptShare> prompt_shares;  // admitted samples that share a sibling's blocks
  bool empty() const { return num_tokens == 0; }
};

class Scheduler {
 public:
  // Throws ConfigError for a non-positive budget, chunk or max_running, or a chunk > budget.
  explicit Scheduler(const SchedulerConfig& config);

  // Queues a request in policy order (stable: equal keys keep the order they were added in).
  void add(int request, const std::vector<Request>& requests);
  // Picks this step's work and gives it KV slots; admitted requests become prefilling,
  // preempted ones lose their blocks and wait again.
  Schedule schedule(int step, std::vector<Request>& requests, KVCache& kv);
  // A finished request leaves the running set.
  void remove_finished(const std::vector<Request>& requests);
  // An aborted request leaves the queue or the running set (the engine frees its blocks).
  void remove(int request);

  bool has_unfinished() const { return !waiting_.empty() || !running_.empty(); }
  const std::deque<int>& waiting() const { return waiting_; }
  const std::vector<int>& running() const { return running_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  // Blocks that running requests may still take before they finish (reserve_full_kv).
  int blocks_promised(const std::vector<Request>& requests, const KVCache& kv) const;
  // True when a runs before b under the policy (priority: smaller priority, then arrival).
  bool runs_before(int a, int b, const std::vector<Request>& requests) const;
  // Frees the victim's blocks and queues it again (fcfs: at the head of the waiting queue).
  void preempt(int victim, int needed_by, PreemptionReason reason,
               std::vector<Request>& requests, KVCache& kv, Schedule& s);

  SchedulerConfig config_;
  std::deque<int> waiting_;   // request indices, admission order
  std::vector<int> running_;  // request indices, policy order (fcfs: admission order)
};

}  // namespace cblab

// cblab.engine:scheduler — decides, each step, which tokens run.
//
// The policy of the original lab (and of vLLM's chunked prefill):
//   1. every decoding request gets its one token first, so decodes are never starved;
//   2. requests still prefilling get the next chunk of their prompt (<= prefill_chunk_size),
//      while the token budget (max_tokens_per_step) lasts;
//   3. waiting requests are admitted first-come first-served, while fewer than max_running
//      run, the budget lasts, and the KV cache has room for the request's whole life.
// "Room for the whole life" (prompt + max_new_tokens - 1 slots, counting the blocks already
// promised to running requests) is what lets every admitted request finish without
// preemption: no running request ever waits for a block. Blocks are still taken lazily, one
// when a request's table needs it, so the pool fills as the cache really does.
// Not here: preemption, priorities, abort, prefix-cache hits (issue 7).
module;
#include <cstdint>
#include <deque>
#include <vector>
export module cblab.engine:scheduler;
import :request;
import :kv_cache;

export namespace cblab {

struct SchedulerConfig {
  int max_tokens_per_step = 64;  // token budget of one step (decodes + prefill chunk tokens)
  int prefill_chunk_size = 32;   // most prompt tokens of one request per step
  int max_running = 16;          // most requests admitted at once
};

// Prompt tokens [start, start + len) of one request.
struct PrefillChunk {
  int request = 0;
  int start = 0;
  int len = 0;
};

// What one step runs: one plain value.
struct Schedule {
  int step = 0;
  std::vector<int> decodes;                // request indices, one token each
  std::vector<PrefillChunk> prefills;      // prompt chunks, after the decodes
  std::vector<int> admitted;               // requests that left the waiting queue this step
  int num_tokens = 0;                      // budget used: decodes + sum of chunk lengths
  std::vector<int32_t> blocks_allocated;   // block ids taken from the pool this step
  bool empty() const { return num_tokens == 0; }
};

class Scheduler {
 public:
  // Throws ConfigError for a non-positive budget, chunk or max_running, or a chunk > budget.
  explicit Scheduler(const SchedulerConfig& config);

  // Queues a request, FCFS by arrival_step (stable: equal arrivals keep their order).
  void add(int request, const std::vector<Request>& requests);
  // Picks this step's work and gives it KV slots; admitted requests become prefilling.
  Schedule schedule(int step, std::vector<Request>& requests, KVCache& kv);
  // A finished request leaves the running set.
  void remove_finished(const std::vector<Request>& requests);

  bool has_unfinished() const { return !waiting_.empty() || !running_.empty(); }
  const std::deque<int>& waiting() const { return waiting_; }
  const std::vector<int>& running() const { return running_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  // Blocks that running requests may still take before they finish.
  int blocks_promised(const std::vector<Request>& requests, const KVCache& kv) const;

  SchedulerConfig config_;
  std::deque<int> waiting_;   // request indices, admission order
  std::vector<int> running_;  // request indices, admission order
};

}  // namespace cblab

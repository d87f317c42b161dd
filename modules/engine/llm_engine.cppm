// cblab.engine:llm_engine — the Engine: requests in, one step at a time, tokens out.
//
// Engine::step() is continuous batching in five lines: schedule (and preempt when KV runs
// out), build the ragged batch, run one fused forward pass, sample and append, finish and free. It returns a StepRecord: a
// plain, copyable value holding everything that happened in the step — what was scheduled,
// the batch metadata, block moves, a snapshot of the pool, the sampled tokens, the time. The
// CLI prints it, the tests compare it, the web page draws it (and can time-travel through a
// list of them).
// Time: the engine's clock is the wall time spent inside step() (pauses between steps, in a
// debugger or on the web page, do not count); time to first token and time per output token
// are measured on it, and in steps.
// Parallel sampling (RequestSpec::n > 1, vLLM v1's design): add_request fans a request out into
// n sequences at consecutive indices, sample k seeded with seed + k; they share the prompt's
// full KV blocks (see :scheduler) and are otherwise scheduled, preempted, sampled and counted
// one by one. abort(id) aborts them all.
// Not here: threads or async serving.
module;
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>
export module cblab.engine:llm_engine;
import :request;
import :kv_cache;
import :scheduler;
import :batch;
import :model;

export namespace cblab {

struct EngineConfig {
  int max_tokens_per_step = 64;               // token budget per step
  int prefill_chunk_size = 32;                // most prompt tokens per request per step
  int max_running = 16;                       // most requests admitted at once
  KVCacheKind kv_cache = KVCacheKind::paged;  // where K/V live
  int block_size = 16;                        // B: slots per block
  int num_blocks = 256;                       // NB: blocks in the pool
  SchedulePolicy policy = SchedulePolicy::fcfs;  // order of the queue, the running set, victims
  bool reserve_full_kv = true;  // true: admission reserves a request's whole life, never
                                // preempts; false: admit when the blocks to compute now fit,
                                // preempt (recompute) when a running request finds no block
  bool prefix_caching = false;  // share cached full blocks of common prefixes (paged only)
};

// Totals over every step so far: what a serving engine reports.
struct EngineMetrics {
  int num_blocks = 0;                  // NB, for utilization
  int num_computed_tokens = 0;         // decode + prefill tokens run through the model
  int num_output_tokens = 0;           // tokens sampled
  int num_preemptions = 0;
  int num_preemptions_decode = 0;      // by reason: a decode found no free block
  int num_preemptions_prefill = 0;     // by reason: a prefill chunk found no free block
  int num_tokens_lost = 0;             // computed tokens dropped by preemptions (recomputed)
  int num_aborted = 0;                 // sequences aborted (each sample of a request counts)
  int max_blocks_used = 0;             // most blocks in use at once (after a step's allocations)
  int prefix_cache_query_tokens = 0;   // tokens of admitted requests looked up in the cache
  int prefix_cache_hit_tokens = 0;     // of those, tokens found (K/V shared, not computed)
  int64_t busy_us = 0;                 // engine time: wall time inside step()

  double max_kv_utilization() const { return num_blocks ? double(max_blocks_used) / num_blocks : 0; }
  double tokens_per_s() const { return busy_us ? num_output_tokens * 1e6 / busy_us : 0; }
  double prefix_cache_hit_rate() const {
    return prefix_cache_query_tokens ? double(prefix_cache_hit_tokens) / prefix_cache_query_tokens : 0;
  }
  double computed_tokens_per_s() const { return busy_us ? num_computed_tokens * 1e6 / busy_us : 0; }
};

struct SampledToken {
  int request = 0;
  int32_t token = 0;
};

struct StepRecord {
  int step = 0;
  // What the scheduler chose.
  std::vector<int> decodes;             // request indices, one token each
  std::vector<PrefillChunk> prefills;   // (request, start, len)
  std::vector<int> admitted;            // left the waiting queue this step
  int budget_used = 0;                  // decode tokens + prefill tokens
  int budget = 0;                       // max_tokens_per_step
  // The ragged batch the forward pass ran (token ids, positions, request per token,
  // cu_seqlens_q, context lens, slot mapping, block tables).
  Batch batch;
  // KV blocks: taken and returned this step, and every block of the pool after the step.
  std::vector<int32_t> blocks_allocated;
  std::vector<int32_t> blocks_freed;
  std::vector<BlockSnapshot> blocks;    // (NB)
  // What came out.
  std::vector<SampledToken> sampled;
  std::vector<int> finished;
  int num_running = 0;                  // after the step
  int num_waiting = 0;                  // after the step
  int64_t compute_us = 0;               // wall time of the forward pass, microseconds
  // Memory pressure and aborts. Blocks these returned to the pool are in blocks_freed.
  std::vector<Preemption> preempted;    // (victim, needed_by, reason, tokens lost), in order
  std::vector<int> aborted;             // requests aborted since the previous step
  int num_blocks_used_peak = 0;         // blocks in use after the schedule's allocations
  int64_t step_us = 0;                  // wall time of the whole step, microseconds
  int64_t clock_us = 0;                 // engine time at the end of the step (sum of step_us)
  // Prefix caching: admitted requests that looked up the cache (and how many tokens they found;
  // blocks[b].is_cached and ref_count > 1 show the shared and the cached-but-free blocks).
  std::vector<PrefixHit> prefix_hits;
  // Parallel sampling: admitted samples that share a sibling's full prompt blocks (the shared
  // blocks show ref_count > 1 in blocks while the samples run).
  std::vector<PromptShare> prompt_shares;

  int num_decode_tokens() const { return static_cast<int>(decodes.size()); }
  int num_prefill_tokens() const { return budget_used - num_decode_tokens(); }
};

class Engine {
 public:
  // Throws ConfigError (model.* or engine.* field) for a bad configuration.
  Engine(const ModelConfig& model, const EngineConfig& config);

  // Queues a request; returns its index (the number every StepRecord uses). With n > 1 its
  // samples take the indices index .. index + n - 1. Throws RequestError, adding nothing, for
  // an empty or duplicate id, an empty prompt, a token outside the vocabulary, a negative
  // max_new_tokens or arrival_step, bad sampling parameters, n outside 1..kMaxSamples, or a
  // request whose KV could never fit in the pool.
  int add_request(RequestSpec spec);
  // Aborts a waiting, preempted or running request (every sample of it): it finishes with
  // reason abort and gives its blocks back now (reported in the next StepRecord's aborted and
  // blocks_freed). Returns false if it had already finished; throws RequestError for an
  // unknown id.
  bool abort(std::string_view id);
  // One step of continuous batching (see the file comment).
  StepRecord step();
  // Steps until every request has finished; calls on_step with each record. Returns the
  // number of steps taken.
  int run(const std::function<void(const StepRecord&)>& on_step = {});

  bool has_unfinished() const { return scheduler_.has_unfinished(); }
  int num_steps() const { return step_; }
  const std::vector<Request>& requests() const { return requests_; }
  const KVCache& kv_cache() const { return kv_; }
  const Scheduler& scheduler() const { return scheduler_; }
  const TinyLLM& model() const { return model_; }
  const EngineConfig& config() const { return config_; }
  const EngineMetrics& metrics() const { return metrics_; }

 private:
  void sample_and_append(const Batch& batch, const ForwardOutput& out, StepRecord& record);
  void finish_and_free(StepRecord& record);

  EngineConfig config_;
  TinyLLM model_;
  KVCache kv_;
  Scheduler scheduler_;
  void note_arrivals();
  void note_times(StepRecord& record);

  EngineMetrics metrics_;
  std::vector<Request> requests_;  // every request ever added, by index
  int step_ = 0;                   // index of the next step
  int64_t clock_us_ = 0;           // engine time: wall time spent inside step()
  std::vector<int> aborted_;       // aborted since the last step, for its record
  std::vector<int32_t> aborted_blocks_;
};

}  // namespace cblab

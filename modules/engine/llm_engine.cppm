// cblab.engine:llm_engine — the Engine: requests in, one step at a time, tokens out.
//
// Engine::step() is continuous batching in five lines: schedule, build the ragged batch, run
// one fused forward pass, sample and append, finish and free. It returns a StepRecord: a
// plain, copyable value holding everything that happened in the step — what was scheduled,
// the batch metadata, block moves, a snapshot of the pool, the sampled tokens, the time. The
// CLI prints it, the tests compare it, the web page draws it (and can time-travel through a
// list of them).
// Not here: preemption, priorities, abort, sampling parameters, prefix caching (issue 7);
// threads or async serving.
module;
#include <cstdint>
#include <functional>
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

  int num_decode_tokens() const { return static_cast<int>(decodes.size()); }
  int num_prefill_tokens() const { return budget_used - num_decode_tokens(); }
};

class Engine {
 public:
  // Throws ConfigError (model.* or engine.* field) for a bad configuration.
  Engine(const ModelConfig& model, const EngineConfig& config);

  // Queues a request; returns its index (the number every StepRecord uses). Throws
  // RequestError, adding nothing, for an empty or duplicate id, an empty prompt, a token
  // outside the vocabulary, a negative max_new_tokens or arrival_step, or a request whose KV
  // could never fit in the pool.
  int add_request(RequestSpec spec);
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

 private:
  void sample_and_append(const Batch& batch, const ForwardOutput& out, StepRecord& record);
  void finish_and_free(StepRecord& record);

  EngineConfig config_;
  TinyLLM model_;
  KVCache kv_;
  Scheduler scheduler_;
  std::vector<Request> requests_;  // every request ever added, by index
  int step_ = 0;                   // index of the next step
};

}  // namespace cblab

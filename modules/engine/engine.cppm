// cblab.engine — continuous batching, end to end: requests, the KV cache (dense and paged),
// the token-budget scheduler, ragged batches, TinyLLM, and the Engine whose step() ties them
// together. Every step returns one plain StepRecord; workloads and results are JSON files.
//
// The partitions, in the order a step uses them:
export module cblab.engine;

export import :errors;     // InputError, ConfigError, RequestError, WorkloadError
export import :request;    // RequestSpec, SamplingParams, Request, its states and finish reasons
export import :kv_cache;   // BlockPool (free list, ref counts), KVCache (block tables, slots, K/V)
export import :scheduler;  // Scheduler: decodes, chunks, admission, preemption -> Schedule
export import :batch;      // Batch: the flattened ragged batch; ragged_causal_mask
export import :model;      // TinyLLM: seeded weights, fused forward, the teaching paths
export import :sampling;   // sample(): greedy, temperature, top-k, top-p with a seeded draw
export import :llm_engine; // Engine (add_request, step, run), EngineConfig, StepRecord
export import :workload;   // workload and result JSON files
export import :print;      // format_* for every component, and the per-step log line

// engine_fuzz.cpp — libFuzzer target over the engine's invariants.
//
// The input bytes are a little program: a configuration (including the admission rule,
// prefix caching and the policy), then operations (add a request, step, abort, run to the
// end). After every step the invariants a continuous-batching engine must keep are checked; a
// broken one aborts (a libFuzzer crash, saved as a reproducer):
//   - the token budget: decodes + prefill chunk tokens = budget_used <= max_tokens_per_step
//   - block conservation: free + used = total; a block's ref count is the number of block
//     tables holding it (prefix caching shares blocks, nothing else holds them); a block with
//     ref count 0 is on the free list and has no owner; a finished request holds no block
//   - progress: every request finishes within a bound of steps (preemption by recompute
//     included)
//   - correctness, on a sample of finished requests: the tokens equal the request run alone
//     in a fresh engine (sampled requests too: a draw depends only on the seed and the token
//     index), and a greedy request's tokens also equal the dense single-sequence path
//     (kernels forced to "scalar", where every path is bit-exact)
// Bad configurations and requests must be rejected with an InputError, never crash.
// Build: preset native-debug (ASan + UBSan + coverage); run: see docs/errors.md.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>
import cblab;

namespace {

// Reads the fuzzer's bytes as small numbers; past the end every read is 0.
struct Input {
  std::span<const uint8_t> bytes;
  std::size_t pos = 0;
  bool done() const { return pos >= bytes.size(); }
  int next(int lo, int hi) {  // in [lo, hi]
    const int b = done() ? 0 : bytes[pos++];
    return lo + b % (hi - lo + 1);
  }
};

#define CHECK_INVARIANT(cond, what)                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "invariant broken: %s (%s) at %s:%d\n", what, #cond, __FILE__, __LINE__); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

void check_step(const cblab::Engine& engine, const cblab::StepRecord& s) {
  const auto& cfg = engine.config();
  int chunk_tokens = 0;
  for (const auto& c : s.prefills) {
    CHECK_INVARIANT(c.len >= 1 && c.len <= cfg.prefill_chunk_size, "chunk length within 1..chunk size");
    chunk_tokens += c.len;
  }
  CHECK_INVARIANT(s.budget_used == s.num_decode_tokens() + chunk_tokens, "budget = decodes + chunks");
  CHECK_INVARIANT(s.budget_used <= cfg.max_tokens_per_step, "budget never exceeded");

  const auto& kv = engine.kv_cache();
  const auto& pool = kv.pool();
  std::map<int32_t, int> holders;  // block -> block tables holding it
  const auto& requests = engine.requests();
  for (int r = 0; r < static_cast<int>(requests.size()); ++r) {
    const auto table = kv.block_table(r);
    for (int32_t b : table) {
      CHECK_INVARIANT(b >= 0 && b < pool.num_blocks(), "block ids are in the pool");
      ++holders[b];
    }
    std::vector<int32_t> sorted(table.begin(), table.end());
    std::ranges::sort(sorted);
    CHECK_INVARIANT(std::ranges::adjacent_find(sorted) == sorted.end(), "a block table holds a block once");
    if (requests[r].is_finished()) CHECK_INVARIANT(table.empty(), "a finished request holds no block");
    if (!requests[r].is_running()) CHECK_INVARIANT(table.empty(), "only a running request holds blocks");
  }
  int num_free = 0;
  for (int b = 0; b < pool.num_blocks(); ++b) {
    const auto it = holders.find(b);
    const int held_by = it == holders.end() ? 0 : it->second;
    CHECK_INVARIANT(pool.ref_count(b) == held_by, "ref count = block tables holding the block");
    if (pool.ref_count(b) == 0) {
      ++num_free;
      CHECK_INVARIANT(pool.owner(b) == -1, "a free block has no owner");
    }
  }
  CHECK_INVARIANT(num_free == pool.num_free_blocks(), "free list = blocks with ref count 0");
  CHECK_INVARIANT(static_cast<int>(holders.size()) + num_free == pool.num_blocks(), "free + used = total");
}

// Greedy tokens of one request run alone through forward_sequence (no cache, dense causal).
std::vector<int32_t> alone_dense(const cblab::TinyLLM& model, const cblab::Request& r) {
  std::vector<int32_t> seq = r.spec.prompt_tokens, out;
  const int vocab = model.config().vocab_size;
  while (static_cast<int>(out.size()) < r.spec.max_new_tokens) {
    const auto fwd = model.forward_sequence(seq);
    const std::span<const float> logits(fwd.logits.data() + fwd.logits.size() - vocab, vocab);
    const int32_t t = cblab::kernels::argmax_reference(logits);
    out.push_back(t);
    seq.push_back(t);
    if (std::ranges::count(r.spec.stop_tokens, t) > 0) break;
  }
  return out;
}

// The request's tokens when it is the only one in a fresh engine of the same configuration.
std::vector<int32_t> alone_engine(const cblab::Engine& engine, const cblab::Request& r) {
  cblab::Engine e(engine.model().config(), engine.config());
  cblab::RequestSpec spec = r.spec;
  spec.arrival_step = 0;
  e.add_request(spec);
  e.run();
  return e.requests()[0].output_tokens;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const bool scalar = (cblab::kernels::set_arch("scalar"), true);
  (void)scalar;
  Input in{{data, size}};
  const cblab::ModelConfig model{.d_model = 8 * in.next(1, 4), .n_heads = in.next(1, 2),
                                 .seed = static_cast<uint64_t>(in.next(0, 255))};
  cblab::EngineConfig cfg;
  // Ranges include bad values (0, chunk > budget, prefix caching on a dense cache): those must
  // be clean errors.
  cfg.max_tokens_per_step = in.next(0, 40);
  cfg.prefill_chunk_size = in.next(0, 40);
  cfg.max_running = in.next(0, 6);
  cfg.kv_cache = in.next(0, 1) ? cblab::KVCacheKind::paged : cblab::KVCacheKind::dense;
  cfg.block_size = in.next(0, 8);
  cfg.num_blocks = in.next(0, 24);
  const int flags = in.next(0, 7);  // bit 0: preempt by recompute, 1: prefix caching, 2: priority
  cfg.reserve_full_kv = (flags & 1) == 0;
  cfg.prefix_caching = (flags & 2) != 0;
  cfg.policy = (flags & 4) ? cblab::SchedulePolicy::priority : cblab::SchedulePolicy::fcfs;
  std::unique_ptr<cblab::Engine> engine;
  try {
    engine = std::make_unique<cblab::Engine>(model, cfg);
  } catch (const cblab::InputError&) {
    return 0;  // rejected cleanly: fine
  }

  int64_t total_tokens = 0;
  int latest_arrival = 0, num_added = 0;
  std::vector<int32_t> last_prompt;
  while (!in.done()) {
    const int op = in.next(0, 4);
    if (op <= 1) {  // add a request (twice as likely as the other operations)
      cblab::RequestSpec spec;
      spec.id = "r" + std::to_string(num_added + in.next(0, 1));  // sometimes a duplicate id
      // Sometimes the previous prompt's start first: a shared prefix for the prefix cache.
      if (in.next(0, 2) == 0)
        spec.prompt_tokens.assign(last_prompt.begin(),
                                  last_prompt.begin() + in.next(0, static_cast<int>(last_prompt.size())));
      const int len = in.next(0, 24);  // 0 with nothing shared: an empty prompt, rejected
      for (int i = 0; i < len; ++i) spec.prompt_tokens.push_back(in.next(0, 255));
      spec.max_new_tokens = in.next(0, 6);
      if (in.next(0, 7) == 0) spec.stop_tokens.push_back(in.next(0, 255));
      spec.arrival_step = engine->num_steps() + in.next(0, 3);
      spec.priority = in.next(-2, 2);
      if (in.next(0, 3) == 0)
        spec.sampling = {.temperature = 0.8f, .top_k = in.next(0, 8), .seed = static_cast<uint64_t>(in.next(0, 255))};
      try {
        engine->add_request(spec);
        ++num_added;
        total_tokens += static_cast<int64_t>(spec.prompt_tokens.size()) + spec.max_new_tokens;
        latest_arrival = std::max(latest_arrival, spec.arrival_step);
        last_prompt = spec.prompt_tokens;
      } catch (const cblab::InputError&) {
      }
    } else if (op == 2) {
      if (engine->has_unfinished()) check_step(*engine, engine->step());
    } else if (op == 3) {  // abort: a known id (running, waiting or finished) or an unknown one
      try {
        engine->abort("r" + std::to_string(in.next(0, num_added)));
      } catch (const cblab::InputError&) {
      }
    } else {
      break;  // run to the end
    }
  }
  // Progress: every step admits, computes a token or waits for an arrival; with preemption a
  // request can lose its computed tokens, at most once per other request's admission.
  const int64_t bound = engine->num_steps() + latest_arrival + (total_tokens + 2) * (num_added + 1);
  while (engine->has_unfinished()) {
    CHECK_INVARIANT(engine->num_steps() <= bound, "every request finishes (no request stuck)");
    check_step(*engine, engine->step());
  }
  // Correctness on a sample: the first and the last request that was not aborted.
  const auto& requests = engine->requests();
  std::vector<std::size_t> sample;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CHECK_INVARIANT(requests[i].is_finished(), "finished after run");
    if (requests[i].finish_reason != cblab::FinishReason::abort) sample.push_back(i);
  }
  if (sample.size() > 2) sample.erase(sample.begin() + 1, sample.end() - 1);
  for (std::size_t i : sample) {
    const cblab::Request& r = requests[i];
    CHECK_INVARIANT(r.output_tokens == alone_engine(*engine, r),
                    "batched tokens equal the request alone in a fresh engine");
    if (r.spec.sampling.is_greedy())
      CHECK_INVARIANT(r.output_tokens == alone_dense(engine->model(), r),
                      "greedy tokens equal the request run alone (dense)");
  }
  return 0;
}

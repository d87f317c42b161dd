// engine_fuzz.cpp — libFuzzer target over the engine's invariants.
//
// The input bytes are a little program: a configuration, then operations (add a request,
// step, run to the end). After every step the invariants a continuous-batching engine must
// keep are checked; a broken one aborts (a libFuzzer crash, saved as a reproducer):
//   - the token budget: decodes + prefill chunk tokens = budget_used <= max_tokens_per_step
//   - block conservation: free + held = total, a free block has ref count 0 and no owner,
//     and no block appears in two block tables (nothing is shared before prefix caching)
//   - progress: every request finishes within a bound of steps
//   - correctness: a finished request's tokens equal the request run alone through the
//     dense single-sequence path (kernels forced to "scalar", where both are bit-exact)
// Bad configurations and requests must be rejected with an InputError, never crash.
// Build: preset native-debug (ASan + UBSan + coverage); run: see docs/errors.md.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
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
  int num_free = 0;
  for (int b = 0; b < pool.num_blocks(); ++b) {
    CHECK_INVARIANT(pool.ref_count(b) >= 0, "ref counts are never negative");
    if (pool.ref_count(b) == 0) {
      ++num_free;
      CHECK_INVARIANT(pool.owner(b) == -1, "a free block has no owner");
    }
  }
  CHECK_INVARIANT(num_free == pool.num_free_blocks(), "free list = blocks with ref count 0");
  std::set<int32_t> held;
  const auto& requests = engine.requests();
  for (int r = 0; r < static_cast<int>(requests.size()); ++r) {
    for (int32_t b : kv.block_table(r)) {
      CHECK_INVARIANT(b >= 0 && b < pool.num_blocks(), "block ids are in the pool");
      CHECK_INVARIANT(held.insert(b).second, "no block in two block tables");
      CHECK_INVARIANT(pool.ref_count(b) >= 1, "a held block is not free");
    }
    if (requests[r].is_finished()) CHECK_INVARIANT(kv.num_blocks_held(r) == 0, "a finished request holds no block");
  }
  CHECK_INVARIANT(static_cast<int>(held.size()) + num_free == pool.num_blocks(), "free + held = total");
}

// Greedy tokens of one request run alone through forward_sequence (no cache, dense causal).
std::vector<int32_t> alone(const cblab::TinyLLM& model, const cblab::Request& r) {
  std::vector<int32_t> seq = r.spec.prompt_tokens, out;
  const int vocab = model.config().vocab_size;
  while (static_cast<int>(out.size()) < r.spec.max_new_tokens) {
    const auto fwd = model.forward_sequence(seq);
    const std::span<const float> logits(fwd.logits.data() + fwd.logits.size() - vocab, vocab);
    const int32_t t = cblab::kernels::argmax_reference(logits);
    out.push_back(t);
    seq.push_back(t);
    bool stop = false;
    for (int32_t s : r.spec.stop_tokens) stop |= s == t;
    if (stop) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const bool scalar = (cblab::kernels::set_arch("scalar"), true);
  (void)scalar;
  Input in{{data, size}};
  const cblab::ModelConfig model{.d_model = 8 * in.next(1, 4), .n_heads = in.next(1, 2),
                                 .seed = static_cast<uint64_t>(in.next(0, 255))};
  cblab::EngineConfig cfg;
  // Ranges include bad values (0, chunk > budget): those must be clean errors.
  cfg.max_tokens_per_step = in.next(0, 40);
  cfg.prefill_chunk_size = in.next(0, 40);
  cfg.max_running = in.next(0, 6);
  cfg.kv_cache = in.next(0, 1) ? cblab::KVCacheKind::paged : cblab::KVCacheKind::dense;
  cfg.block_size = in.next(0, 8);
  cfg.num_blocks = in.next(0, 24);
  std::unique_ptr<cblab::Engine> engine;
  try {
    engine = std::make_unique<cblab::Engine>(model, cfg);
  } catch (const cblab::InputError&) {
    return 0;  // rejected cleanly: fine
  }

  int total_tokens = 0, latest_arrival = 0;
  int num_added = 0;
  while (!in.done()) {
    const int op = in.next(0, 3);
    if (op <= 1) {  // add a request (twice as likely as the other operations)
      cblab::RequestSpec spec;
      spec.id = "r" + std::to_string(num_added + in.next(0, 1));  // sometimes a duplicate id
      const int len = in.next(0, 24);  // 0: an empty prompt must be rejected
      for (int i = 0; i < len; ++i) spec.prompt_tokens.push_back(in.next(0, 255));
      spec.max_new_tokens = in.next(0, 6);
      if (in.next(0, 7) == 0) spec.stop_tokens.push_back(in.next(0, 255));
      spec.arrival_step = engine->num_steps() + in.next(0, 3);
      try {
        engine->add_request(spec);
        ++num_added;
        total_tokens += len + spec.max_new_tokens;
        latest_arrival = std::max(latest_arrival, spec.arrival_step);
      } catch (const cblab::InputError&) {
      }
    } else if (op == 2) {
      if (engine->has_unfinished()) check_step(*engine, engine->step());
    } else {
      break;  // run to the end
    }
  }
  // Progress: every step either admits, computes a token, or waits for an arrival.
  const int bound = engine->num_steps() + latest_arrival + total_tokens + 2;
  while (engine->has_unfinished()) {
    CHECK_INVARIANT(engine->num_steps() <= bound, "every request finishes (no request stuck)");
    check_step(*engine, engine->step());
  }
  // Correctness on a sample: the first and the last request.
  const auto& requests = engine->requests();
  for (std::size_t i : {std::size_t{0}, requests.size() - 1}) {
    if (i >= requests.size()) continue;
    CHECK_INVARIANT(requests[i].is_finished(), "finished after run");
    CHECK_INVARIANT(requests[i].output_tokens == alone(engine->model(), requests[i]),
                    "batched tokens equal the request run alone (dense)");
  }
  return 0;
}

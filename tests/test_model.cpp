// TinyLLM: the seeded weights, and every batched forward path against the single-sequence
// dense oracle (forward_sequence) — "batched equals alone", token by token.
#include <catch_amalgamated.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>
import cblab;

namespace test_model {  // this file's names: the test sources build as unity batches

namespace {

// A model with every feature on: 2 layers, grouped-query attention (4 heads, 2 KV heads), MLP.
const cblab::ModelConfig kModel{.vocab_size = 256, .d_model = 32, .n_layers = 2, .n_heads = 4,
                                .n_kv_heads = 2, .mlp_dim = 48, .seed = 7};

// Tolerance for "equal": |got - want| <= 1e-5 + 1e-5 |want| (hidden states are RMS-normalized,
// so |want| is about 1; logits are below ~10). Batched and alone run the same operations on
// the same numbers; only attention's summation may be ordered differently.
bool close(float got, float want) { return std::fabs(got - want) <= 1e-5f + 1e-5f * std::fabs(want); }

float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  float m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

enum class Path { fused, ragged, decode };

// Runs `steps` (lists of (sequence, start, len) rows) through one batched path, teacher-forced
// on known sequences, and checks every new token's hidden state and every row's logits against
// forward_sequence on the same sequence prefix.
void check_batched_equals_alone(const std::vector<std::vector<int32_t>>& seqs,
                                const std::vector<std::vector<cblab::PrefillChunk>>& steps,
                                cblab::KVCacheKind kind, int block_size, Path path) {
  const cblab::TinyLLM model(kModel);
  const int E = kModel.d_model, V = kModel.vocab_size;
  cblab::KVCache kv(model.kv_cache_config(kind, 64, block_size));
  std::vector<cblab::Request> requests;
  for (std::size_t s = 0; s < seqs.size(); ++s)
    requests.push_back({.spec = {.id = std::to_string(s), .prompt_tokens = seqs[s]}});
  std::vector<cblab::ForwardOutput> alone;
  for (const auto& seq : seqs) alone.push_back(model.forward_sequence(seq));

  float worst = 0;
  for (const auto& rows : steps) {
    for (const auto& row : rows) REQUIRE(kv.allocate_slots(row.request, row.len));
    const cblab::Batch batch = cblab::build_batch(rows, requests, kv);
    const cblab::ForwardOutput out = path == Path::fused    ? model.forward(batch, kv)
                                     : path == Path::ragged ? model.forward_prefill_ragged(batch, kv)
                                                            : model.forward_decode(batch, kv);
    for (int t = 0; t < batch.num_tokens(); ++t) {
      const auto got = std::span(out.hidden).subspan(static_cast<std::size_t>(t) * E, E);
      const auto want = std::span(alone[batch.token_request[t]].hidden)
                            .subspan(static_cast<std::size_t>(batch.positions[t]) * E, E);
      worst = std::max(worst, max_abs_diff(got, want));
      for (int i = 0; i < E; ++i) REQUIRE(close(got[i], want[i]));
    }
    for (int r = 0; r < batch.num_seqs(); ++r) {  // logits at each row's last token
      const auto& seq = seqs[batch.requests[r]];
      const auto prefix = model.forward_sequence(std::span(seq).first(batch.context_lens[r]));
      const auto got = std::span(out.logits).subspan(static_cast<std::size_t>(r) * V, V);
      for (int i = 0; i < V; ++i) REQUIRE(close(got[i], prefix.logits[i]));
    }
  }
  INFO("max |batched - alone| of hidden states: " << worst);
  CHECK(worst <= 1e-5f);
}

std::vector<int32_t> text(const char* s) {
  std::vector<int32_t> t;
  for (; *s; ++s) t.push_back(static_cast<unsigned char>(*s));
  return t;
}

}  // namespace

TEST_CASE("splitmix64 gives the published sequence and exact uniform floats", "[model]") {
  cblab::SplitMix64 rng{0};
  CHECK(rng.next() == 0xE220A8397B1DCDAFull);
  CHECK(rng.next() == 0x6E789E6AA1B965F4ull);
  CHECK(rng.next() == 0x06C45D188009454Full);
  cblab::SplitMix64 u{0};
  // Top 24 bits of 0xE220A8397B1DCDAF = 0xE220A8 = 14819496; (14819496 - 2^23) / 2^23.
  CHECK(u.uniform() == static_cast<float>(14819496 - 8388608) / 8388608.f);
}

TEST_CASE("the same seed builds the same model; another seed another", "[model]") {
  const std::vector<int32_t> prompt = text("hello");
  const auto a = cblab::TinyLLM(kModel).forward_sequence(prompt);
  const auto b = cblab::TinyLLM(kModel).forward_sequence(prompt);
  CHECK(a.logits == b.logits);
  auto other = kModel;
  other.seed = 8;
  CHECK(cblab::TinyLLM(other).forward_sequence(prompt).logits != a.logits);
}

// Three sequences scheduled as the engine would: chunks with cached prefixes, one-token rows
// (decodes) and whole prompts, mixed in the same batches.
const std::vector<std::vector<int32_t>> kSeqs{text("continuous"), text("batching is fun!"),
                                              text("paged")};
const std::vector<std::vector<cblab::PrefillChunk>> kMixedSteps{
    {{0, 0, 3}, {1, 0, 5}},
    {{0, 3, 1}, {1, 5, 7}, {2, 0, 2}},
    {{1, 12, 1}, {0, 4, 6}, {2, 2, 1}},
    {{1, 13, 1}, {2, 3, 2}},
    {{1, 14, 2}}};

TEST_CASE("batched equals alone: fused varlen paged forward, block sizes 1, 4, 16", "[model]") {
  for (int block_size : {1, 4, 16}) {
    INFO("block_size " << block_size);
    check_batched_equals_alone(kSeqs, kMixedSteps, cblab::KVCacheKind::paged, block_size,
                               Path::fused);
  }
}

TEST_CASE("batched equals alone: dense cache with the ragged mask", "[model]") {
  check_batched_equals_alone(kSeqs, kMixedSteps, cblab::KVCacheKind::dense, 4, Path::fused);
  check_batched_equals_alone(kSeqs, kMixedSteps, cblab::KVCacheKind::paged, 4, Path::ragged);
}

TEST_CASE("batched equals alone: forward_decode, each decode token sees itself", "[model]") {
  // Prefill whole prompts first, then three decode steps of one token per sequence.
  const std::vector<std::vector<cblab::PrefillChunk>> prefill{{{0, 0, 7}, {1, 0, 13}, {2, 0, 2}}};
  const std::vector<std::vector<cblab::PrefillChunk>> decodes{
      {{0, 7, 1}, {1, 13, 1}, {2, 2, 1}}, {{0, 8, 1}, {1, 14, 1}, {2, 3, 1}}};
  for (auto kind : {cblab::KVCacheKind::paged, cblab::KVCacheKind::dense}) {
    std::vector<std::vector<cblab::PrefillChunk>> steps = prefill;
    steps.insert(steps.end(), decodes.begin(), decodes.end());
    // forward_decode on decode-only batches; the prefill batch goes through forward.
    const cblab::TinyLLM model(kModel);
    cblab::KVCache kv(model.kv_cache_config(kind, 64, 4));
    std::vector<cblab::Request> requests;
    for (std::size_t s = 0; s < kSeqs.size(); ++s)
      requests.push_back({.spec = {.id = std::to_string(s), .prompt_tokens = kSeqs[s]}});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      for (const auto& row : steps[i]) REQUIRE(kv.allocate_slots(row.request, row.len));
      const auto batch = cblab::build_batch(steps[i], requests, kv);
      const auto out = i == 0 ? model.forward(batch, kv) : model.forward_decode(batch, kv);
      for (int r = 0; r < batch.num_seqs(); ++r) {
        const auto& seq = kSeqs[batch.requests[r]];
        const auto want = model.forward_sequence(std::span(seq).first(batch.context_lens[r]));
        const auto got = std::span(out.logits).subspan(static_cast<std::size_t>(r) * 256, 256);
        for (int v = 0; v < 256; ++v) REQUIRE(close(got[v], want.logits[v]));
      }
    }
  }
}

TEST_CASE("forward_decode refuses a row of more than one token", "[model]") {
  const cblab::TinyLLM model(kModel);
  cblab::KVCache kv(model.kv_cache_config(cblab::KVCacheKind::paged, 8, 4));
  const std::vector<cblab::Request> requests{{.spec = {.id = "a", .prompt_tokens = {1, 2}}}};
  REQUIRE(kv.allocate_slots(0, 2));
  const std::vector<cblab::PrefillChunk> rows{{0, 0, 2}};
  const cblab::Batch batch = cblab::build_batch(rows, requests, kv);
  CHECK_THROWS_WITH(model.forward_decode(batch, kv),
                    Catch::Matchers::ContainsSubstring("row 0 has 2 new tokens"));
}

TEST_CASE("bad model configurations name the field, the value and what is allowed", "[model]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  auto with = [](auto edit) {
    cblab::ModelConfig c;
    edit(c);
    return c;
  };
  CHECK_THROWS_MATCHES(
      cblab::TinyLLM(with([](auto& c) { c.n_heads = 4; c.n_kv_heads = 3; })), cblab::ConfigError,
      MessageMatches(ContainsSubstring("model.n_kv_heads = 3") &&
                     ContainsSubstring("divisor of model.n_heads (4)")));
  CHECK_THROWS_MATCHES(cblab::TinyLLM(with([](auto& c) { c.d_model = 30; c.n_heads = 4; })),
                       cblab::ConfigError, MessageMatches(ContainsSubstring("model.n_heads = 4")));
  CHECK_THROWS_MATCHES(cblab::TinyLLM(with([](auto& c) { c.head_dim = 7; })), cblab::ConfigError,
                       MessageMatches(ContainsSubstring("model.head_dim = 7")));
  CHECK_THROWS_MATCHES(cblab::TinyLLM(with([](auto& c) { c.n_layers = 0; })), cblab::ConfigError,
                       MessageMatches(ContainsSubstring("model.n_layers = 0: allowed >= 1")));
}

}  // namespace test_model

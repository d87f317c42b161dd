// Sampling and stopping: the seeded draw against splitmix64's published outputs, the sampler's
// frequencies against the softmax it should follow, seeds in the engine, top_k = 1 = greedy,
// and abort (waiting or running) freeing everything while the others keep their tokens.
#include <catch_amalgamated.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>
import cblab;

namespace test_sampling {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kModel{.d_model = 32, .n_layers = 2, .n_heads = 2, .mlp_dim = 32,
                                .seed = 7};
const cblab::EngineConfig kConfig{.max_tokens_per_step = 32, .prefill_chunk_size = 8,
                                  .max_running = 8, .block_size = 4, .num_blocks = 64};

std::vector<int32_t> text(const std::string& s) { return {s.begin(), s.end()}; }

cblab::RequestSpec sampled(std::string id, std::string prompt, uint64_t seed, float temperature = 1.f) {
  return {.id = std::move(id), .prompt_tokens = text(prompt), .max_new_tokens = 12,
          .sampling = {.temperature = temperature, .seed = seed}};
}

// Output tokens of every request, in order.
std::vector<std::vector<int32_t>> run(const std::vector<cblab::RequestSpec>& specs,
                                      const cblab::EngineConfig& config = kConfig) {
  cblab::Engine engine(kModel, config);
  for (const auto& s : specs) engine.add_request(s);
  engine.run();
  std::vector<std::vector<int32_t>> out;
  for (const auto& r : engine.requests()) out.push_back(r.output_tokens);
  return out;
}

// Frequencies of each token over n draws (output indices 0..n-1).
std::vector<double> frequencies(const std::vector<float>& logits, cblab::SamplingParams p, int n) {
  std::vector<double> f(logits.size(), 0.0);
  for (int k = 0; k < n; ++k) f[cblab::sample(logits, p, k)] += 1.0 / n;
  return f;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  std::vector<double> p;
  double sum = 0;
  for (float l : logits) sum += std::exp(l / temperature);
  for (float l : logits) p.push_back(std::exp(l / temperature) / sum);
  return p;
}
}  // namespace

TEST_CASE("the draw is splitmix64's k-th output: the published values for seed 0", "[sampling]") {
  // splitmix64 seeded with 0 outputs 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, ... (Vigna's
  // reference C code); the draw keeps the top 53 bits.
  CHECK(cblab::sampling_uniform(0, 0) == static_cast<double>(0xe220a8397b1dcdafull >> 11) * 0x1p-53);
  CHECK(cblab::sampling_uniform(0, 1) == static_cast<double>(0x6e789e6aa1b965f4ull >> 11) * 0x1p-53);
  // Counter-based: draw k of seed s is draw 0 of seed s + k * gamma.
  CHECK(cblab::sampling_uniform(5, 3) == cblab::sampling_uniform(5 + 3 * 0x9E3779B97F4A7C15ull, 0));
}

TEST_CASE("sampled frequencies follow softmax(logits / T), cut by top_k and top_p", "[sampling]") {
  const std::vector<float> logits{0.f, 1.f, 2.f, 3.f, -1.f};
  const int n = 40000;  // standard error of a frequency <= 0.0025
  auto close = [](const std::vector<double>& got, const std::vector<double>& want) {
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    INFO("max |frequency - probability| = " << worst);
    CHECK(worst < 0.012);
  };
  close(frequencies(logits, {.temperature = 1.f, .seed = 1}, n), softmax(logits, 1.0));
  close(frequencies(logits, {.temperature = 0.5f, .seed = 2}, n), softmax(logits, 0.5));
  // top_k = 2: only tokens 3 and 2, renormalized.
  const double e = std::exp(1.0);
  close(frequencies(logits, {.temperature = 1.f, .top_k = 2, .seed = 3}, n),
        {0, 0, 1 / (1 + e), e / (1 + e), 0});
  // top_p = 0.8: p(3) = 0.636 < 0.8, p(3) + p(2) = 0.870 >= 0.8: the same two tokens.
  close(frequencies(logits, {.temperature = 1.f, .top_p = 0.8f, .seed = 4}, n),
        {0, 0, 1 / (1 + e), e / (1 + e), 0});
  // A golden sequence: the same on every platform (ctest runs this natively and under Node).
  std::vector<int32_t> drawn;
  for (int k = 0; k < 12; ++k) drawn.push_back(cblab::sample(logits, {.temperature = 1.f, .seed = 42}, k));
  CHECK(drawn == std::vector<int32_t>{2, 3, 3, 3, 3, 2, 3, 2, 3, 3, 3, 3});
}

TEST_CASE("top_k = 1 and a tiny top_p are exactly greedy, at any temperature", "[sampling]") {
  const auto greedy = run({{.id = "g", .prompt_tokens = text("The cat sat"), .max_new_tokens = 12}});
  for (float t : {0.5f, 1.f, 4.f}) {
    auto k1 = sampled("g", "The cat sat", 9, t);
    k1.sampling.top_k = 1;
    auto p0 = sampled("g", "The cat sat", 9, t);
    p0.sampling.top_p = 1e-6f;
    INFO("temperature " << t);
    CHECK(run({k1}) == greedy);
    CHECK(run({p0}) == greedy);
  }
  // And the sampled path differs from greedy at temperature 1 (the model is not degenerate).
  CHECK(run({sampled("g", "The cat sat", 9)}) != greedy);
}

TEST_CASE("same seed, same tokens; another seed, other tokens; the batch does not matter", "[sampling]") {
  const auto a = run({sampled("a", "Once upon a time", 11)});
  const auto b = run({sampled("a", "Once upon a time", 11)});
  CHECK(a == b);
  CHECK(run({sampled("a", "Once upon a time", 12)}) != a);
  // In a batch with other requests, in another position, with another chunk size: same tokens.
  auto config = kConfig;
  config.prefill_chunk_size = 3;
  const auto batched = run({sampled("x", "hello", 1), sampled("y", "continuous batching", 2),
                            sampled("a", "Once upon a time", 11)},
                           config);
  CHECK(batched[2] == a[0]);
  CHECK(batched[0] != batched[1]);
}

TEST_CASE("sampling parameters are checked: field, value, what is allowed", "[sampling]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  cblab::Engine engine(kModel, kConfig);
  auto rejects = [&](cblab::SamplingParams p, const std::string& message) {
    CHECK_THROWS_MATCHES(engine.add_request({.id = "r", .prompt_tokens = {1}, .sampling = p}),
                         cblab::RequestError, MessageMatches(ContainsSubstring(message)));
  };
  rejects({.temperature = -1.f}, "temperature = -1: allowed >= 0 (0 = greedy)");
  rejects({.temperature = NAN}, "temperature = nan");
  rejects({.temperature = 1.f, .top_k = -2}, "top_k = -2: allowed >= 0");
  rejects({.temperature = 1.f, .top_p = 0.f}, "top_p = 0: allowed 0 < top_p <= 1");
  rejects({.temperature = 1.f, .top_p = 1.5f}, "top_p = 1.5");
  CHECK(engine.requests().empty());
}

TEST_CASE("abort: a waiting and a running request give back every block; the rest go on", "[sampling]") {
  const std::vector<cblab::RequestSpec> specs{
      {.id = "keep1", .prompt_tokens = text("first request"), .max_new_tokens = 10},
      {.id = "run", .prompt_tokens = text("this one is aborted while decoding"), .max_new_tokens = 30},
      {.id = "keep2", .prompt_tokens = text("second"), .max_new_tokens = 8,
       .sampling = {.temperature = 1.f, .seed = 5}},
      {.id = "wait", .prompt_tokens = text("never admitted"), .max_new_tokens = 4, .arrival_step = 50}};
  const auto want = run({specs[0], specs[2]});

  cblab::Engine engine(kModel, kConfig);
  for (const auto& s : specs) engine.add_request(s);
  for (int i = 0; i < 6; ++i) engine.step();  // "run" samples its first token in step 4
  const auto& r = engine.requests()[1];
  REQUIRE(r.state == cblab::RequestState::decoding);
  const int held = engine.kv_cache().num_blocks_held(1);
  REQUIRE(held > 0);
  const int free_before = engine.kv_cache().pool().num_free_blocks();

  CHECK(engine.abort("run"));
  CHECK(engine.abort("wait"));
  CHECK(r.finish_reason == cblab::FinishReason::abort);
  CHECK(r.state == cblab::RequestState::finished);
  CHECK(engine.kv_cache().num_blocks_held(1) == 0);
  CHECK(engine.kv_cache().pool().num_free_blocks() == free_before + held);
  CHECK(engine.scheduler().waiting().empty());
  CHECK_FALSE(engine.abort("run"));  // already finished: nothing to do
  CHECK_THROWS_AS(engine.abort("nobody"), cblab::RequestError);

  const auto s = engine.step();  // the next record reports the aborts and the freed blocks
  CHECK(s.aborted == std::vector<int>{1, 3});
  CHECK(static_cast<int>(s.blocks_freed.size()) >= held);
  CHECK(cblab::format_step(s).ends_with(" aborted=[1 3]"));
  engine.run();
  CHECK(engine.requests()[0].output_tokens == want[0]);
  CHECK(engine.requests()[2].output_tokens == want[1]);
  CHECK(engine.requests()[3].output_tokens.empty());
  CHECK(engine.requests()[3].finish_reason == cblab::FinishReason::abort);
  CHECK(engine.kv_cache().pool().num_free_blocks() == kConfig.num_blocks);
  CHECK(engine.metrics().num_aborted == 2);
}

}  // namespace test_sampling

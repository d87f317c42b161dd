// TinyLLM::attention_weights: the weights the page's Attention panel draws.
#include <catch_amalgamated.hpp>
#include <cmath>
#include <cstdint>
#include <vector>
import cblab;

namespace test_attention_weights {  // this file's names: the test sources build as unity batches

TEST_CASE("attention weights are causal rows of a softmax, stable under a longer sequence",
          "[attention_weights]") {
  const cblab::TinyLLM model({.d_model = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .seed = 9});
  const std::vector<int32_t> tokens = {72, 101, 108, 108, 111, 44, 32, 119, 111, 114};
  const int S = static_cast<int>(tokens.size()), H = 4;
  for (int layer : {0, 1}) {
    const auto w = model.attention_weights(tokens, layer);
    REQUIRE(w.size() == static_cast<std::size_t>(H * S * S));
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < S; ++i) {
        double sum = 0;
        for (int j = 0; j < S; ++j) {
          const float x = w[(h * S + i) * S + j];
          if (j > i) CHECK(x == 0.f);  // masked: exactly zero, not a small number
          else CHECK(x >= 0.f);
          sum += x;
        }
        CHECK(std::fabs(sum - 1.0) < 1e-5);
      }
    // The first 6 tokens alone give the same first 6 rows: a query never sees a later token.
    const std::vector<int32_t> prefix(tokens.begin(), tokens.begin() + 6);
    const auto wp = model.attention_weights(prefix, layer);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j <= i; ++j)
          CHECK(std::fabs(wp[(h * 6 + i) * 6 + j] - w[(h * S + i) * S + j]) < 1e-6f);
  }
}

TEST_CASE("attention weights name a bad layer", "[attention_weights]") {
  const cblab::TinyLLM model({.d_model = 16, .seed = 1});
  const std::vector<int32_t> tokens = {1, 2, 3};
  CHECK_THROWS_WITH(model.attention_weights(tokens, 1), "layer = 1: allowed 0..0");
  CHECK_THROWS_AS(model.attention_weights(tokens, -1), cblab::ConfigError);
}

}  // namespace test_attention_weights

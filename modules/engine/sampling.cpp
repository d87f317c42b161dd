// sampling.cpp — greedy, temperature, top-k and top-p with a counter-based seeded draw.
module;
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>
module cblab.engine;
import cblab.kernels;

namespace cblab {

double sampling_uniform(uint64_t seed, int output_index) {
  // SplitMix64's state after k steps is seed + k * gamma: jump straight to draw k.
  SplitMix64 rng{seed + static_cast<uint64_t>(output_index) * 0x9E3779B97F4A7C15ull};
  return static_cast<double>(rng.next() >> 11) * 0x1p-53;  // exact in a double
}

int32_t sample(std::span<const float> logits, const SamplingParams& params, int output_index) {
  if (params.is_greedy()) return kernels::argmax(logits);
  const int V = static_cast<int>(logits.size());

  // 1. Candidates, most likely first (ties: smaller id first); top_k keeps the first K.
  const int K = params.top_k > 0 ? std::min(params.top_k, V) : V;
  std::vector<int32_t> ids(V);  // (V), then (K)
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + K, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  ids.resize(K);

  // 2. Softmax of logits / temperature over the K candidates (minus the maximum: no overflow).
  std::vector<double> probs(K);  // (K)
  const double max_logit = logits[ids[0]];
  for (int i = 0; i < K; ++i)
    probs[i] = std::exp((logits[ids[i]] - max_logit) / static_cast<double>(params.temperature));
  const double total = std::accumulate(probs.begin(), probs.end(), 0.0);

  // 3. top_p: the fewest leading candidates whose probability reaches top_p (at least one).
  int kept = 0;
  double mass = 0;
  while (kept < K) {
    mass += probs[kept++] / total;
    if (mass >= params.top_p) break;
  }

  // 4. Draw: walk the kept candidates' cumulative (unnormalized) probability up to u * sum.
  double kept_sum = 0;
  for (int i = 0; i < kept; ++i) kept_sum += probs[i];
  const double target = sampling_uniform(params.seed, output_index) * kept_sum;
  double cumulative = 0;
  for (int i = 0; i < kept; ++i) {
    cumulative += probs[i];
    if (target < cumulative) return ids[i];
  }
  return ids[kept - 1];  // u * sum rounded up to the sum itself
}

}  // namespace cblab

// elementwise.hpp — RoPE, RMSNorm, softmax and argmax as templates on the xsimd arch.
// Each is one or two passes over a row with W lanes at a time and a scalar tail.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>
#include <xsimd/xsimd.hpp>
#include "madd.hpp"

namespace cblab::kernels::simd {

// Lane i takes lane i ^ 1: swaps the two floats of every (2i, 2i+1) pair.
struct SwapPairs {
  static constexpr unsigned get(unsigned i, unsigned) { return i ^ 1u; }
};

// x: (T, H, D) in place. Pair (2i, 2i+1) turns by position * theta^(-2i/D):
//   (a, b) -> (a cos - b sin, a sin + b cos)  =  x * cos2 + swap_pairs(x) * (-sin, +sin)
// cos and sin are computed once per token (in double, like the reference) and shared by heads.
template <class Arch>
void rope(float* x, const int32_t* positions, int num_tokens, int num_heads, int head_dim,
          float theta) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int W = int(batch::size);
  constexpr auto swap = xsimd::make_batch_constant<uint32_t, Arch, SwapPairs>();
  thread_local std::vector<float> cos2, sin2;  // (D): (c0, c0, c1, c1, ...), (-s0, s0, -s1, s1, ...)
  cos2.resize(head_dim);
  sin2.resize(head_dim);
  for (int t = 0; t < num_tokens; ++t) {
    for (int i = 0; i < head_dim / 2; ++i) {
      const double angle = double(positions[t]) * std::pow(double(theta), -2.0 * i / head_dim);
      const float c = float(std::cos(angle)), s = float(std::sin(angle));
      cos2[2 * i] = cos2[2 * i + 1] = c;
      sin2[2 * i] = -s;
      sin2[2 * i + 1] = s;
    }
    for (int h = 0; h < num_heads; ++h) {
      float* row = x + (std::size_t(t) * num_heads + h) * head_dim;
      int d = 0;
      for (; d + W <= head_dim; d += W) {
        const batch v = batch::load_unaligned(row + d);
        const batch r = v * batch::load_unaligned(&cos2[d]) +
                        xsimd::swizzle(v, swap) * batch::load_unaligned(&sin2[d]);
        r.store_unaligned(row + d);
      }
      for (; d < head_dim; d += 2) {
        const float a = row[d], b = row[d + 1], c = cos2[d], s = sin2[d + 1];
        row[d] = a * c - b * s;
        row[d + 1] = a * s + b * c;
      }
    }
  }
}

// y = x / sqrt(mean(x^2) + eps) * weight, row by row. x, y: (rows, dim)  weight: (dim)
template <class Arch>
void rmsnorm(const float* x, const float* weight, float* y, int rows, int dim, float eps) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int W = int(batch::size);
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + std::size_t(r) * dim;
    float* yr = y + std::size_t(r) * dim;
    batch acc(0.f);
    int d = 0;
    for (; d + W <= dim; d += W) {
      const batch v = batch::load_unaligned(xr + d);
      acc = madd(v, v, acc);
    }
    float sum_squares = xsimd::reduce_add(acc);
    for (; d < dim; ++d) sum_squares += xr[d] * xr[d];
    const float inv_rms = 1.f / std::sqrt(sum_squares / float(dim) + eps);
    const batch vinv(inv_rms);
    d = 0;
    for (; d + W <= dim; d += W)
      (batch::load_unaligned(xr + d) * vinv * batch::load_unaligned(weight + d)).store_unaligned(yr + d);
    for (; d < dim; ++d) yr[d] = xr[d] * inv_rms * weight[d];
  }
}

// Stable softmax of each row in place; a row of only -inf becomes zeros. x: (rows, n)
template <class Arch>
void softmax(float* x, int rows, int n) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int W = int(batch::size);
  constexpr float NEG_INF = -std::numeric_limits<float>::infinity();
  for (int r = 0; r < rows; ++r) {
    float* row = x + std::size_t(r) * n;
    batch vmax(NEG_INF);
    int j = 0;
    for (; j + W <= n; j += W) vmax = xsimd::max(vmax, batch::load_unaligned(row + j));
    float max_value = xsimd::reduce_max(vmax);
    for (; j < n; ++j) max_value = std::max(max_value, row[j]);
    if (max_value == NEG_INF) {
      for (j = 0; j < n; ++j) row[j] = 0.f;
      continue;
    }
    const batch vm(max_value);
    batch vsum(0.f);
    for (j = 0; j + W <= n; j += W) {
      const batch e = xsimd::exp(batch::load_unaligned(row + j) - vm);
      e.store_unaligned(row + j);
      vsum += e;
    }
    float sum = xsimd::reduce_add(vsum);
    for (; j < n; ++j) {
      row[j] = std::exp(row[j] - max_value);
      sum += row[j];
    }
    const batch vinv(1.f / sum);
    for (j = 0; j + W <= n; j += W) (batch::load_unaligned(row + j) * vinv).store_unaligned(row + j);
    for (; j < n; ++j) row[j] *= 1.f / sum;
  }
}

// Index of the largest logit, the first on ties: the maximum with W lanes, then the first
// index holding it. (With NaNs the vector maximum is not meaningful: fall back to the loop.)
template <class Arch>
int argmax(const float* logits, int n) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int W = int(batch::size);
  batch vmax(-std::numeric_limits<float>::infinity());
  int i = 0;
  for (; i + W <= n; i += W) vmax = xsimd::max(vmax, batch::load_unaligned(logits + i));
  float best = xsimd::reduce_max(vmax);
  for (; i < n; ++i) best = std::max(best, logits[i]);
  for (i = 0; i < n; ++i)
    if (logits[i] == best) return i;
  int first = 0;
  for (i = 1; i < n; ++i)
    if (logits[i] > logits[first]) first = i;
  return first;
}

}  // namespace cblab::kernels::simd

// reference.cpp — the scalar references declared in reference.cppm: the oracle.
//
// Plain loops in the obvious order, one float accumulator per output, and a softmax that
// subtracts the row maximum before exponentiating. Every attention reference goes through the
// same helper, attend_row(): one query row against a list of keys, some of which may be masked.
// Speed is not a goal here; being checkable by eye is. The fast versions live in kernels/arch/.
//
// [SECTION] attend_row: one query row, the heart of every attention reference
// [SECTION] attention: dense causal, masked, paged decode, unified varlen paged
// [SECTION] matmul, rope, rmsnorm, softmax, argmax
module;
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <format>
#include <limits>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>
module cblab.kernels;
import :checks;  // argument checks shared with the dispatched ops

namespace cblab::kernels {
using namespace detail;  // the check_* functions
namespace {

// [SECTION] attend_row -------------------------------------------------------------------------

// One query row against num_keys keys.
//   q: (D)   key(j), value(j): pointers to (D) rows   allowed(j): may the query see key j?
//   out: (D) = sum_j softmax_j(scale * q.k_j) v_j over the allowed keys only.
// Stable softmax: scores minus their maximum, so exp() never overflows. A masked key gets
// weight exactly zero (it never enters the sum); with no allowed key at all, out is zero.
template <class KeyAt, class ValueAt, class Allowed>
void attend_row(const float* q, int num_keys, KeyAt key, ValueAt value, Allowed allowed,
                int head_dim, float scale, float* out) {
  std::vector<float> score(std::size_t(num_keys), 0.f);
  float max_score = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < num_keys; ++j) {
    if (!allowed(j)) continue;
    const float* k = key(j);
    float s = 0.f;
    for (int d = 0; d < head_dim; ++d) s += q[d] * k[d];
    score[j] = s * scale;
    if (score[j] > max_score) max_score = score[j];
  }
  for (int d = 0; d < head_dim; ++d) out[d] = 0.f;
  float sum = 0.f;
  for (int j = 0; j < num_keys; ++j) {
    if (!allowed(j)) continue;
    const float p = std::exp(score[j] - max_score);  // in (0, 1], the maximum gets 1
    sum += p;
    const float* v = value(j);
    for (int d = 0; d < head_dim; ++d) out[d] += p * v[d];
  }
  if (sum > 0.f)
    for (int d = 0; d < head_dim; ++d) out[d] /= sum;
}

}  // namespace

// [SECTION] attention --------------------------------------------------------------------------

void attention_dense_causal_reference(std::span<const float> q, std::span<const float> k,
                                      std::span<const float> v, std::span<float> out,
                                      int seq_len, const AttentionShape& shape) {
  check_dense_causal("attention_dense_causal_reference", q, k, v, out, seq_len, shape);
  const int H = shape.num_heads, Hkv = shape.num_kv_heads, D = shape.head_dim;
  const int group = H / Hkv;  // query heads per KV head
  for (int i = 0; i < seq_len; ++i)
    for (int h = 0; h < H; ++h) {
      const int kvh = h / group;
      attend_row(
          &q[(std::size_t(i) * H + h) * D], i + 1,
          [&](int j) { return &k[(std::size_t(j) * Hkv + kvh) * D]; },
          [&](int j) { return &v[(std::size_t(j) * Hkv + kvh) * D]; },
          [](int) { return true; }, D, shape.scale, &out[(std::size_t(i) * H + h) * D]);
    }
}

void attention_masked_reference(std::span<const float> q, std::span<const float> k,
                                std::span<const float> v, std::span<const std::uint8_t> mask,
                                std::span<float> out, int num_queries, int num_keys,
                                const AttentionShape& shape) {
  check_masked("attention_masked_reference", q, k, v, mask, out, num_queries, num_keys, shape);
  const int H = shape.num_heads, Hkv = shape.num_kv_heads, D = shape.head_dim;
  const int group = H / Hkv;
  for (int i = 0; i < num_queries; ++i)
    for (int h = 0; h < H; ++h) {
      const int kvh = h / group;
      attend_row(
          &q[(std::size_t(i) * H + h) * D], num_keys,
          [&](int j) { return &k[(std::size_t(j) * Hkv + kvh) * D]; },
          [&](int j) { return &v[(std::size_t(j) * Hkv + kvh) * D]; },
          [&](int j) { return mask[std::size_t(i) * num_keys + j] != 0; }, D, shape.scale,
          &out[(std::size_t(i) * H + h) * D]);
    }
}

namespace {
// Key position j of a request, through its block table: block table[j / B], slot j % B.
// cache: (NB, B, Hkv, D) -> pointer to the (D) row of KV head kvh.
const float* paged_row(std::span<const float> cache, const PagedKV& kv,
                       std::span<const int32_t> table, int j, int kvh, int Hkv, int D) {
  const std::size_t block = std::size_t(table[j / kv.block_size]);
  const std::size_t slot = std::size_t(j % kv.block_size);
  return &cache[((block * kv.block_size + slot) * Hkv + kvh) * D];
}
}  // namespace

void attention_paged_decode_reference(std::span<const float> q, const PagedKV& kv,
                                      std::span<const int32_t> block_table, int context_len,
                                      std::span<float> out, const AttentionShape& shape) {
  check_paged_decode("attention_paged_decode_reference", q, kv, block_table, context_len, out,
                     shape);
  const int H = shape.num_heads, Hkv = shape.num_kv_heads, D = shape.head_dim;
  const int group = H / Hkv;
  for (int h = 0; h < H; ++h) {
    const int kvh = h / group;
    attend_row(
        &q[std::size_t(h) * D], context_len,
        [&](int j) { return paged_row(kv.k_cache, kv, block_table, j, kvh, Hkv, D); },
        [&](int j) { return paged_row(kv.v_cache, kv, block_table, j, kvh, Hkv, D); },
        [](int) { return true; }, D, shape.scale, &out[std::size_t(h) * D]);
  }
}

void attention_varlen_paged_reference(std::span<const float> q, const PagedKV& kv,
                                      const VarlenBatch& batch, std::span<float> out,
                                      const AttentionShape& shape) {
  check_varlen("attention_varlen_paged_reference", q, kv, batch, out, shape);
  const int H = shape.num_heads, Hkv = shape.num_kv_heads, D = shape.head_dim;
  const std::size_t R = varlen_num_requests(batch);
  const int group = H / Hkv;
  for (std::size_t r = 0; r < R; ++r) {
    const int q_begin = batch.cu_seqlens_q[r], q_len = batch.cu_seqlens_q[r + 1] - q_begin;
    const int C = batch.context_lens[r];
    const auto table = batch.block_tables.subspan(r * batch.max_blocks_per_seq,
                                                  batch.max_blocks_per_seq);
    for (int i = 0; i < q_len; ++i) {
      const int position = C - q_len + i;  // sees keys 0..position
      for (int h = 0; h < H; ++h) {
        const int kvh = h / group;
        const std::size_t row = (std::size_t(q_begin + i) * H + h) * D;
        attend_row(
            &q[row], position + 1,
            [&](int j) { return paged_row(kv.k_cache, kv, table, j, kvh, Hkv, D); },
            [&](int j) { return paged_row(kv.v_cache, kv, table, j, kvh, Hkv, D); },
            [](int) { return true; }, D, shape.scale, &out[row]);
      }
    }
  }
}

// [SECTION] matmul, rope, rmsnorm, softmax, argmax ---------------------------------------------

void matmul_reference(std::span<const float> x, std::span<const float> w, std::span<float> y,
                      int M, int K, int N) {
  check_matmul("matmul_reference", x, w, y, M, K, N);
  // Loop order m, k, n: each y[m][n] still sums x[m][k] * w[k][n] for k = 0, 1, 2, ... in
  // order (the dot-product order), but w is read along its rows, so the oracle is not
  // painfully slow on real projection shapes.
  for (int m = 0; m < M; ++m) {
    float* y_row = &y[std::size_t(m) * N];
    for (int n = 0; n < N; ++n) y_row[n] = 0.f;
    for (int k = 0; k < K; ++k) {
      const float a = x[std::size_t(m) * K + k];
      const float* w_row = &w[std::size_t(k) * N];
      for (int n = 0; n < N; ++n) y_row[n] += a * w_row[n];
    }
  }
}

void rope_reference(std::span<float> x, std::span<const int32_t> positions, int num_heads,
                    int head_dim, float theta) {
  check_rope("rope_reference", x, positions, num_heads, head_dim);
  const std::size_t T = positions.size();
  for (std::size_t t = 0; t < T; ++t)
    for (int i = 0; i < head_dim / 2; ++i) {
      // The angle in double: at position 4096 a float angle would already be off by ~1e-4 rad.
      const double angle = double(positions[t]) * std::pow(double(theta), -2.0 * i / head_dim);
      const float c = float(std::cos(angle)), s = float(std::sin(angle));
      for (int h = 0; h < num_heads; ++h) {
        float* pair = &x[(t * num_heads + h) * head_dim + 2 * i];
        const float a = pair[0], b = pair[1];
        pair[0] = a * c - b * s;
        pair[1] = a * s + b * c;
      }
    }
}

void rmsnorm_reference(std::span<const float> x, std::span<const float> weight, std::span<float> y,
                       int rows, int dim, float eps) {
  check_rmsnorm("rmsnorm_reference", x, weight, y, rows, dim);
  for (int r = 0; r < rows; ++r) {
    const float* xr = &x[std::size_t(r) * dim];
    float sum_squares = 0.f;
    for (int d = 0; d < dim; ++d) sum_squares += xr[d] * xr[d];
    const float inv_rms = 1.f / std::sqrt(sum_squares / float(dim) + eps);
    for (int d = 0; d < dim; ++d) y[std::size_t(r) * dim + d] = xr[d] * inv_rms * weight[d];
  }
}

void softmax_reference(std::span<float> x, int rows, int n) {
  check_softmax("softmax_reference", x, rows, n);
  for (int r = 0; r < rows; ++r) {
    float* row = &x[std::size_t(r) * n];
    float max_value = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < n; ++j)
      if (row[j] > max_value) max_value = row[j];
    // A row of nothing but -inf (everything masked) has no distribution: it becomes zeros.
    if (max_value == -std::numeric_limits<float>::infinity()) {
      for (int j = 0; j < n; ++j) row[j] = 0.f;
      continue;
    }
    float sum = 0.f;
    for (int j = 0; j < n; ++j) {
      row[j] = std::exp(row[j] - max_value);  // -inf entries become exactly 0
      sum += row[j];
    }
    for (int j = 0; j < n; ++j) row[j] /= sum;
  }
}

int argmax_reference(std::span<const float> logits) {
  check_argmax("argmax_reference", logits);
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return int(best);
}

}  // namespace cblab::kernels

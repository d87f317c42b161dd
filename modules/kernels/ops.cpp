// ops.cpp — the dispatched kernels. Each op runs the active arch's SIMD version where one
// exists, and the scalar reference otherwise.
module;
#include <cstdint>
#include <span>
module cblab.kernels;

namespace cblab::kernels {

void attention_dense_causal(std::span<const float> q, std::span<const float> k,
                                      std::span<const float> v, std::span<float> out,
                                      int seq_len, const AttentionShape& shape) {
  attention_dense_causal_reference(q, k, v, out, seq_len, shape);
}

void attention_masked(std::span<const float> q, std::span<const float> k,
                                std::span<const float> v, std::span<const std::uint8_t> mask,
                                std::span<float> out, int num_queries, int num_keys,
                                const AttentionShape& shape) {
  attention_masked_reference(q, k, v, mask, out, num_queries, num_keys, shape);
}

void attention_paged_decode(std::span<const float> q, const PagedKV& kv,
                                      std::span<const int32_t> block_table, int context_len,
                                      std::span<float> out, const AttentionShape& shape) {
  attention_paged_decode_reference(q, kv, block_table, context_len, out, shape);
}

void attention_varlen_paged(std::span<const float> q, const PagedKV& kv,
                                      const VarlenBatch& batch, std::span<float> out,
                                      const AttentionShape& shape) {
  attention_varlen_paged_reference(q, kv, batch, out, shape);
}

void matmul(std::span<const float> x, std::span<const float> w, std::span<float> y,
                      int M, int K, int N) {
  matmul_reference(x, w, y, M, K, N);
}

void rope(std::span<float> x, std::span<const int32_t> positions, int num_heads,
                    int head_dim, float theta) {
  rope_reference(x, positions, num_heads, head_dim, theta);
}

void rmsnorm(std::span<const float> x, std::span<const float> weight, std::span<float> y,
                       int rows, int dim, float eps) {
  rmsnorm_reference(x, weight, y, rows, dim, eps);
}

void softmax(std::span<float> x, int rows, int n) {
  softmax_reference(x, rows, n);
}

int argmax(std::span<const float> logits) {
  return argmax_reference(logits);
}

}  // namespace cblab::kernels

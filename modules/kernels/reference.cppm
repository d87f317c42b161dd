// cblab.kernels:reference — the scalar references: plain loops, one float accumulator, a
// numerically stable softmax in which masked positions get exactly zero weight. They are the
// oracle every SIMD kernel is tested against, and they stay forever.
//
// Shape letters, used in every comment of cblab.kernels:
//   T  new (query) tokens in a batch       R  requests in a batch
//   H  query heads      Hkv  key/value heads (H % Hkv == 0; query head h reads KV head h / (H/Hkv))
//   D  head_dim         S  sequence length (dense)     Tk  keys (ragged)
//   NB number of KV blocks in the pool     B  block_size (slots per block)
//   C  context length of a request: cached prefix + its new tokens
//   M, K, N  matmul rows, inner dimension, columns
// All tensors are row-major float32 in std::span; sizes are checked and a mismatch throws
// std::invalid_argument naming the argument, its size and the size expected.
module;
#include <cstdint>
#include <span>
export module cblab.kernels:reference;

export namespace cblab::kernels {

// Head layout shared by every attention kernel. scale is usually 1/sqrt(head_dim).
struct AttentionShape {
  int num_heads = 1;     // H
  int num_kv_heads = 1;  // Hkv
  int head_dim = 64;     // D
  float scale = 0.125f;
};

// A paged KV cache as the kernels see it: one global pool of blocks for one layer.
struct PagedKV {
  std::span<const float> k_cache;  // (NB, B, Hkv, D)
  std::span<const float> v_cache;  // (NB, B, Hkv, D)
  int num_blocks = 0;              // NB
  int block_size = 16;             // B
};

// The ragged-batch view of a step: the interface of vLLM's unified attention and of
// FlashAttention's varlen-with-paged-KV. Request r owns query rows [cu_seqlens_q[r],
// cu_seqlens_q[r+1]); with q_len = that count, its query j sits at position C_r - q_len + j
// and sees keys [0, C_r - q_len + j] — its whole cached prefix and, causally, its own chunk.
// A decode token is the case q_len = 1: it sees every cached key and its own.
struct VarlenBatch {
  std::span<const int32_t> cu_seqlens_q;  // (R + 1), cu_seqlens_q[0] = 0, cu_seqlens_q[R] = T
  std::span<const int32_t> context_lens;  // (R) C_r, including the new tokens (already written)
  std::span<const int32_t> block_tables;  // (R, max_blocks_per_seq), row-major; block ids into the pool
  int max_blocks_per_seq = 0;
};

// Dense causal attention over one sequence: query i sees keys 0..i.
// q: (S, H, D)  k, v: (S, Hkv, D)  out: (S, H, D)
void attention_dense_causal_reference(std::span<const float> q, std::span<const float> k,
                                      std::span<const float> v, std::span<float> out,
                                      int seq_len, const AttentionShape& shape);

// Attention with an explicit mask (the teaching path for ragged batches).
// q: (T, H, D)  k, v: (Tk, Hkv, D)  mask: (T, Tk), nonzero = may attend  out: (T, H, D)
// A query row with no allowed key gets zeros.
void attention_masked_reference(std::span<const float> q, std::span<const float> k,
                                std::span<const float> v, std::span<const std::uint8_t> mask,
                                std::span<float> out, int num_queries, int num_keys,
                                const AttentionShape& shape);

// One decode query against its request's paged context (its own K/V already written).
// q: (H, D)  block_table: (>= ceil(C / B))  out: (H, D)
void attention_paged_decode_reference(std::span<const float> q, const PagedKV& kv,
                                      std::span<const int32_t> block_table, int context_len,
                                      std::span<float> out, const AttentionShape& shape);

// Unified varlen paged attention: any mix of prefill chunks and decode tokens in one call.
// q: (T, H, D)  out: (T, H, D)
void attention_varlen_paged_reference(std::span<const float> q, const PagedKV& kv,
                                      const VarlenBatch& batch, std::span<float> out,
                                      const AttentionShape& shape);

// y: (M, N) = x: (M, K) · w: (K, N)   (w stored in-features by out-features)
void matmul_reference(std::span<const float> x, std::span<const float> w, std::span<float> y,
                      int M, int K, int N);

// Rotary position embedding, in place. x: (T, H, D)  positions: (T)
// Pairs (2i, 2i+1) of each head rotate by angle position * theta^(-2i/D).
void rope_reference(std::span<float> x, std::span<const int32_t> positions, int num_heads,
                    int head_dim, float theta = 10000.f);

// RMSNorm. x: (rows, dim)  weight: (dim)  y: (rows, dim) = x / sqrt(mean(x^2) + eps) * weight
void rmsnorm_reference(std::span<const float> x, std::span<const float> weight, std::span<float> y,
                       int rows, int dim, float eps = 1e-5f);

// Numerically stable softmax of each row, in place. x: (rows, n)
void softmax_reference(std::span<float> x, int rows, int n);

// Index of the largest value (the first one on ties). logits: (n), n >= 1
int argmax_reference(std::span<const float> logits);

}  // namespace cblab::kernels

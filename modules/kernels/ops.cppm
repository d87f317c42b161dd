// cblab.kernels:ops — the kernels the engine calls, run on the active arch (see :dispatch).
// Same signatures and shapes as the references in :reference, without the suffix; with the
// arch "scalar" each one is exactly its reference.
module;
#include <cstdint>
#include <span>
export module cblab.kernels:ops;
import :reference;

export namespace cblab::kernels {

void attention_dense_causal(std::span<const float> q, std::span<const float> k,
                                      std::span<const float> v, std::span<float> out,
                                      int seq_len, const AttentionShape& shape);

void attention_masked(std::span<const float> q, std::span<const float> k,
                                std::span<const float> v, std::span<const std::uint8_t> mask,
                                std::span<float> out, int num_queries, int num_keys,
                                const AttentionShape& shape);

void attention_paged_decode(std::span<const float> q, const PagedKV& kv,
                                      std::span<const int32_t> block_table, int context_len,
                                      std::span<float> out, const AttentionShape& shape);

void attention_varlen_paged(std::span<const float> q, const PagedKV& kv,
                                      const VarlenBatch& batch, std::span<float> out,
                                      const AttentionShape& shape);

void matmul(std::span<const float> x, std::span<const float> w, std::span<float> y,
                      int M, int K, int N);

void rope(std::span<float> x, std::span<const int32_t> positions, int num_heads,
                    int head_dim, float theta = 10000.f);

void rmsnorm(std::span<const float> x, std::span<const float> weight, std::span<float> y,
                       int rows, int dim, float eps = 1e-5f);

void softmax(std::span<float> x, int rows, int n);

int argmax(std::span<const float> logits);

}  // namespace cblab::kernels

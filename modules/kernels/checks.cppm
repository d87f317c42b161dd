// cblab.kernels:checks — argument checks shared by the references and the dispatched ops, so a
// bad call fails the same way on every arch. Internal to the module (nothing exported).
// Every message names the function, the argument, its size or value, and what is allowed.
module;
#include <cstddef>
#include <cstdint>
#include <format>
#include <span>
#include <stdexcept>
#include <string_view>
module cblab.kernels:checks;
import :reference;

namespace cblab::kernels::detail {

// Throws "fn: arg has N elements, expected M (what)".
inline void check_size(std::string_view fn, std::string_view arg, std::size_t got,
                       std::size_t want, std::string_view what) {
  if (got != want)
    throw std::invalid_argument(
        std::format("{}: {} has {} elements, expected {} ({})", fn, arg, got, want, what));
}

inline void check_at_least(std::string_view fn, std::string_view arg, long long value,
                           long long minimum) {
  if (value < minimum)
    throw std::invalid_argument(
        std::format("{}: {} is {}, must be >= {}", fn, arg, value, minimum));
}

inline void check_shape(std::string_view fn, const AttentionShape& s) {
  check_at_least(fn, "shape.num_heads", s.num_heads, 1);
  check_at_least(fn, "shape.num_kv_heads", s.num_kv_heads, 1);
  check_at_least(fn, "shape.head_dim", s.head_dim, 1);
  if (s.num_heads % s.num_kv_heads != 0)
    throw std::invalid_argument(std::format(
        "{}: shape.num_heads ({}) must be a multiple of shape.num_kv_heads ({})", fn, s.num_heads,
        s.num_kv_heads));
}

inline void check_paged_kv(std::string_view fn, const PagedKV& kv, const AttentionShape& s) {
  check_at_least(fn, "kv.num_blocks", kv.num_blocks, 0);
  check_at_least(fn, "kv.block_size", kv.block_size, 1);
  const std::size_t want = std::size_t(kv.num_blocks) * kv.block_size * s.num_kv_heads * s.head_dim;
  check_size(fn, "kv.k_cache", kv.k_cache.size(), want, "NB*B*Hkv*D");
  check_size(fn, "kv.v_cache", kv.v_cache.size(), want, "NB*B*Hkv*D");
}

// The first ceil(C / B) entries of a block table must be block ids of the pool.
inline void check_block_table(std::string_view fn, std::span<const int32_t> table,
                              int context_len, const PagedKV& kv) {
  const std::size_t needed = (std::size_t(context_len) + kv.block_size - 1) / kv.block_size;
  if (table.size() < needed)
    throw std::invalid_argument(std::format(
        "{}: block table has {} entries, context {} with block size {} needs at least {}", fn,
        table.size(), context_len, kv.block_size, needed));
  for (std::size_t i = 0; i < needed; ++i)
    if (table[i] < 0 || table[i] >= kv.num_blocks)
      throw std::invalid_argument(std::format(
          "{}: block table entry {} is block {}, the pool has blocks 0..{}", fn, i, table[i],
          kv.num_blocks - 1));
}

inline void check_dense_causal(std::string_view fn, std::span<const float> q,
                               std::span<const float> k, std::span<const float> v,
                               std::span<float> out, int seq_len, const AttentionShape& shape) {
  check_shape(fn, shape);
  check_at_least(fn, "seq_len", seq_len, 0);
  const std::size_t S = std::size_t(seq_len), H = shape.num_heads, Hkv = shape.num_kv_heads,
                    D = shape.head_dim;
  check_size(fn, "q", q.size(), S * H * D, "S*H*D");
  check_size(fn, "k", k.size(), S * Hkv * D, "S*Hkv*D");
  check_size(fn, "v", v.size(), S * Hkv * D, "S*Hkv*D");
  check_size(fn, "out", out.size(), S * H * D, "S*H*D");
}

inline void check_masked(std::string_view fn, std::span<const float> q, std::span<const float> k,
                         std::span<const float> v, std::span<const std::uint8_t> mask,
                         std::span<float> out, int num_queries, int num_keys,
                         const AttentionShape& shape) {
  check_shape(fn, shape);
  check_at_least(fn, "num_queries", num_queries, 0);
  check_at_least(fn, "num_keys", num_keys, 0);
  const std::size_t T = std::size_t(num_queries), Tk = std::size_t(num_keys),
                    H = shape.num_heads, Hkv = shape.num_kv_heads, D = shape.head_dim;
  check_size(fn, "q", q.size(), T * H * D, "T*H*D");
  check_size(fn, "k", k.size(), Tk * Hkv * D, "Tk*Hkv*D");
  check_size(fn, "v", v.size(), Tk * Hkv * D, "Tk*Hkv*D");
  check_size(fn, "mask", mask.size(), T * Tk, "T*Tk");
  check_size(fn, "out", out.size(), T * H * D, "T*H*D");
}

inline void check_paged_decode(std::string_view fn, std::span<const float> q, const PagedKV& kv,
                               std::span<const int32_t> block_table, int context_len,
                               std::span<float> out, const AttentionShape& shape) {
  check_shape(fn, shape);
  check_paged_kv(fn, kv, shape);
  check_at_least(fn, "context_len", context_len, 0);
  const std::size_t HD = std::size_t(shape.num_heads) * shape.head_dim;
  check_size(fn, "q", q.size(), HD, "H*D");
  check_size(fn, "out", out.size(), HD, "H*D");
  check_block_table(fn, block_table, context_len, kv);
}

// Number of requests R of a varlen batch; an empty batch may have cu_seqlens_q {} or {0}.
inline std::size_t varlen_num_requests(const VarlenBatch& batch) { return batch.context_lens.size(); }

// Number of new tokens T = cu_seqlens_q[R] (0 for an empty batch).
inline int varlen_num_tokens(const VarlenBatch& batch) {
  const std::size_t R = varlen_num_requests(batch);
  return R == 0 ? 0 : batch.cu_seqlens_q[R];
}

inline void check_varlen(std::string_view fn, std::span<const float> q, const PagedKV& kv,
                         const VarlenBatch& batch, std::span<float> out,
                         const AttentionShape& shape) {
  check_shape(fn, shape);
  check_paged_kv(fn, kv, shape);
  const std::size_t R = varlen_num_requests(batch);
  if (!(R == 0 && batch.cu_seqlens_q.empty()))
    check_size(fn, "batch.cu_seqlens_q", batch.cu_seqlens_q.size(), R + 1, "R+1");
  check_at_least(fn, "batch.max_blocks_per_seq", batch.max_blocks_per_seq, 0);
  check_size(fn, "batch.block_tables", batch.block_tables.size(), R * batch.max_blocks_per_seq,
             "R*max_blocks_per_seq");
  if (R > 0 && batch.cu_seqlens_q[0] != 0)
    throw std::invalid_argument(std::format("{}: batch.cu_seqlens_q[0] is {}, must be 0", fn,
                                            batch.cu_seqlens_q[0]));
  for (std::size_t r = 0; r < R; ++r) {
    const int q_begin = batch.cu_seqlens_q[r], q_len = batch.cu_seqlens_q[r + 1] - q_begin;
    const int C = batch.context_lens[r];
    if (q_len < 0 || q_len > C)
      throw std::invalid_argument(std::format(
          "{}: request {} has {} new tokens (cu_seqlens_q {}..{}) but context_lens {}; need "
          "0 <= new tokens <= context",
          fn, r, q_len, q_begin, batch.cu_seqlens_q[r + 1], C));
    check_block_table(
        fn, batch.block_tables.subspan(r * batch.max_blocks_per_seq, batch.max_blocks_per_seq), C,
        kv);
  }
  const std::size_t HD = std::size_t(shape.num_heads) * shape.head_dim;
  const std::size_t T = std::size_t(varlen_num_tokens(batch));
  check_size(fn, "q", q.size(), T * HD, "T*H*D with T = cu_seqlens_q[R]");
  check_size(fn, "out", out.size(), T * HD, "T*H*D with T = cu_seqlens_q[R]");
}

inline void check_matmul(std::string_view fn, std::span<const float> x, std::span<const float> w,
                         std::span<float> y, int M, int K, int N) {
  check_at_least(fn, "M", M, 0);
  check_at_least(fn, "K", K, 0);
  check_at_least(fn, "N", N, 0);
  check_size(fn, "x", x.size(), std::size_t(M) * K, "M*K");
  check_size(fn, "w", w.size(), std::size_t(K) * N, "K*N");
  check_size(fn, "y", y.size(), std::size_t(M) * N, "M*N");
}

inline void check_rope(std::string_view fn, std::span<float> x, std::span<const int32_t> positions,
                       int num_heads, int head_dim) {
  check_at_least(fn, "num_heads", num_heads, 1);
  check_at_least(fn, "head_dim", head_dim, 1);
  if (head_dim % 2 != 0)
    throw std::invalid_argument(std::format("{}: head_dim is {}, must be even", fn, head_dim));
  check_size(fn, "x", x.size(), positions.size() * num_heads * head_dim,
             "T*H*D with T = positions.size()");
}

inline void check_rmsnorm(std::string_view fn, std::span<const float> x,
                          std::span<const float> weight, std::span<float> y, int rows, int dim) {
  check_at_least(fn, "rows", rows, 0);
  check_at_least(fn, "dim", dim, 1);
  check_size(fn, "x", x.size(), std::size_t(rows) * dim, "rows*dim");
  check_size(fn, "weight", weight.size(), std::size_t(dim), "dim");
  check_size(fn, "y", y.size(), std::size_t(rows) * dim, "rows*dim");
}

inline void check_softmax(std::string_view fn, std::span<float> x, int rows, int n) {
  check_at_least(fn, "rows", rows, 0);
  check_at_least(fn, "n", n, 0);
  check_size(fn, "x", x.size(), std::size_t(rows) * n, "rows*n");
}

inline void check_argmax(std::string_view fn, std::span<const float> logits) {
  if (logits.empty())
    throw std::invalid_argument(std::format("{}: logits has 0 elements, expected at least 1", fn));
}

}  // namespace cblab::kernels::detail

// ops.cpp — the dispatched kernels. Each op checks its arguments (the same checks as its
// reference), then runs the active arch's SIMD version, or the scalar reference when the arch
// has none ("scalar"). Attention and GEMM are cut into work items here and spread over the
// thread pool; the per-arch code only ever sees one item.
//
// [SECTION] attention: work items and the three ways in (varlen paged, dense, masked)
// [SECTION] matmul
// [SECTION] rope, rmsnorm, softmax, argmax
module;
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>
#include "arch/kernel_table.hpp"
module cblab.kernels;
import :checks;

namespace cblab::kernels {
using namespace detail;

namespace {

// [SECTION] attention --------------------------------------------------------------------------

// A prefill work item is a tile of query tokens for one KV head: its rows are (token, query
// head of the group). Many rows per item make each key tile (loaded once per item, and
// transposed) serve many FMAs — its prefetch, transpose and copy are paid once per 256 rows;
// 256 rows keep the item's Q, O and scores (2 x 256 x D + 256 x 64 floats) in L2 (128 rows
// measured 12-17 % slower over 4096 keys, 512 rows 5-7 % slower over 512). One KV head per item
// also gives Hkv times more items to spread over the threads.
int prefill_tile_tokens(int group) { return std::clamp(256 / group, 1, 256); }

// Work (flops) below which a kernel call, or a part of one, is not worth another thread.
constexpr double MIN_PART_FLOPS = 8e6;

// Split decode (flash-decoding): a decode token over a long context is cut into partitions of
// about DECODE_PARTITION_KEYS keys (a multiple of the kernel's 64-key tile), each one a work
// item that any thread may take. The cut depends only on the context length, never on the
// thread count, so the result is the same bits on 1 thread or many.
constexpr int DECODE_PARTITION_KEYS = 1024;
constexpr int KEY_TILE = 64;

int decode_partitions(int context_len) {
  return std::max(1, (context_len + DECODE_PARTITION_KEYS - 1) / DECODE_PARTITION_KEYS);
}

// The work of one call: its tiles, and for each split decode token where its partitions'
// states (O, m, l per head) are and where the merged row goes.
struct Work {
  struct Split {
    int token;       // row of q/out
    int first_tile;  // index of its first partition in `tiles` (before sorting)
    int first_part;  // index of its first partition's state in `partials`
    int parts;
  };
  std::vector<AttentionTile> tiles;
  std::vector<Split> splits;
  std::vector<float> partials;  // (partitions, H, D + 2)
};

// Cuts a request's new tokens into work items: for a chunk, tiles of prefill_tile_tokens for
// each KV head; for a decode token, one item over all heads — or, over a long context, one per
// partition of its keys.
void add_tiles(Work& work, AttentionTile request, int num_heads, int num_kv_heads, int head_dim) {
  const int parts = request.num_tokens == 1 && !request.mask ? decode_partitions(request.num_keys) : 1;
  if (parts > 1) {
    const int per_part = (request.num_keys + parts - 1) / parts;
    const int step = (per_part + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
    const int first_part = int(work.partials.size()) / (num_heads * (head_dim + 2));
    const int first_tile = int(work.tiles.size());
    int made = 0;
    for (int begin = 0; begin < request.num_keys; begin += step, ++made) {
      AttentionTile t = request;
      t.key_begin = begin;
      t.num_keys = std::min(request.num_keys, begin + step);
      work.tiles.push_back(t);  // run_tiles points it at its state once `partials` is sized
    }
    work.partials.resize(work.partials.size() + std::size_t(made) * num_heads * (head_dim + 2));
    work.splits.push_back({request.first_token, first_tile, first_part, made});
    return;
  }
  if (request.num_tokens == 1) {  // a decode token: every head in one item
    work.tiles.push_back(request);
    return;
  }
  const int step = prefill_tile_tokens(num_heads / num_kv_heads);
  for (int i = 0; i < request.num_tokens; i += step)
    for (int kvh = 0; kvh < num_kv_heads; ++kvh) {
      AttentionTile t = request;
      t.first_token = request.first_token + i;
      t.first_position = request.first_position + i;
      t.num_tokens = std::min(step, request.num_tokens - i);
      t.kv_head = kvh;
      if (t.mask) t.mask += std::size_t(i) * t.mask_stride;
      work.tiles.push_back(t);
    }
}

// Runs the tiles on the thread pool, the most expensive (most query x key pairs) first so the
// threads finish together; then merges the partitions of split decodes.
void run_tiles(const AttentionProblem& problem, Work& work) {
  const int H = problem.num_heads, D = problem.head_dim;
  for (const Work::Split& split : work.splits)  // `partials` is complete: point at the states
    for (int p = 0; p < split.parts; ++p)
      work.tiles[split.first_tile + p].partial =
          &work.partials[std::size_t(split.first_part + p) * H * (D + 2)];
  // Keys an item walks (the last token's view, from its partition's start), and its cost.
  const auto keys = [](const AttentionTile& t) {
    return std::min(t.num_keys, t.first_position + t.num_tokens) - t.key_begin;
  };
  const auto cost = [&](const AttentionTile& t) { return std::int64_t(t.num_tokens) * keys(t); };
  std::stable_sort(work.tiles.begin(), work.tiles.end(),
                   [&](const AttentionTile& a, const AttentionTile& b) { return cost(a) > cost(b); });
  const auto kernel = active().attention_tile;
  // A call with little work runs on this thread alone: waking the pool costs more than it
  // saves. Work counts flops and K/V bytes, a byte read from memory taking about as long as 10
  // flops here (decode is memory bound). The items are computed the same either way.
  double work_flops = 0;
  for (const AttentionTile& t : work.tiles) {
    const int heads = t.kv_head < 0 ? H : H / problem.num_kv_heads;
    const int kv_heads = t.kv_head < 0 ? problem.num_kv_heads : 1;
    work_flops += 4.0 * D * double(cost(t)) * heads + 10.0 * 2 * sizeof(float) * D * double(keys(t)) * kv_heads;
  }
  if (work_flops < 2 * MIN_PART_FLOPS)
    for (const AttentionTile& t : work.tiles) kernel(problem, t);
  else
    parallel_for(int(work.tiles.size()), [&](int i) { kernel(problem, work.tiles[i]); });

  // Merge (exact rescaling, as the online softmax does between key tiles): with M the largest
  // partition maximum, out = sum_p exp(m_p - M) O_p / sum_p exp(m_p - M) l_p.
  for (const Work::Split& split : work.splits)
    for (int h = 0; h < H; ++h) {
      const auto state = [&](int p) {
        return &work.partials[(std::size_t(split.first_part + p) * H + h) * (D + 2)];
      };
      float M = -std::numeric_limits<float>::infinity();
      for (int p = 0; p < split.parts; ++p) M = std::max(M, state(p)[D]);
      float* dst = problem.out + (std::size_t(split.token) * H + h) * D;
      std::fill(dst, dst + D, 0.f);
      if (M == -std::numeric_limits<float>::infinity()) continue;  // no visible key at all
      float L = 0.f;
      for (int p = 0; p < split.parts; ++p) {
        const float* st = state(p);
        const float w = std::exp(st[D] - M);  // a partition that saw nothing: exp(-inf) = 0
        L += w * st[D + 1];
        for (int d = 0; d < D; ++d) dst[d] += w * st[d];
      }
      const float inv = L > 0.f ? 1.f / L : 0.f;
      for (int d = 0; d < D; ++d) dst[d] *= inv;
    }
}

AttentionProblem make_problem(std::span<const float> q, std::span<float> out,
                              std::span<const float> k, std::span<const float> v, int block_size,
                              const AttentionShape& shape) {
  return {.q = q.data(), .out = out.data(), .num_heads = shape.num_heads,
          .num_kv_heads = shape.num_kv_heads, .head_dim = shape.head_dim, .scale = shape.scale,
          .k_cache = k.data(), .v_cache = v.data(), .block_size = block_size,
          .ask_next_slice = decode_prefetch()};
}

}  // namespace

void attention_varlen_paged(std::span<const float> q, const PagedKV& kv, const VarlenBatch& batch,
                            std::span<float> out, const AttentionShape& shape) {
  check_varlen("attention_varlen_paged", q, kv, batch, out, shape);
  if (!active().attention_tile) return attention_varlen_paged_reference(q, kv, batch, out, shape);
  Work work;
  for (std::size_t r = 0; r < varlen_num_requests(batch); ++r) {
    const int q_begin = batch.cu_seqlens_q[r], q_len = batch.cu_seqlens_q[r + 1] - q_begin;
    const int C = batch.context_lens[r];
    add_tiles(work,
              {.first_token = q_begin, .num_tokens = q_len, .first_position = C - q_len,
               .num_keys = C,
               .block_table = batch.block_tables.data() + r * batch.max_blocks_per_seq},
              shape.num_heads, shape.num_kv_heads, shape.head_dim);
  }
  run_tiles(make_problem(q, out, kv.k_cache, kv.v_cache, kv.block_size, shape), work);
}

void attention_paged_decode(std::span<const float> q, const PagedKV& kv,
                            std::span<const int32_t> block_table, int context_len,
                            std::span<float> out, const AttentionShape& shape) {
  check_paged_decode("attention_paged_decode", q, kv, block_table, context_len, out, shape);
  if (!active().attention_tile)
    return attention_paged_decode_reference(q, kv, block_table, context_len, out, shape);
  if (context_len == 0) {  // no key to attend to
    std::ranges::fill(out, 0.f);
    return;
  }
  Work work;
  add_tiles(work, {.first_token = 0, .num_tokens = 1, .first_position = context_len - 1,
                   .num_keys = context_len, .block_table = block_table.data()},
            shape.num_heads, shape.num_kv_heads, shape.head_dim);
  run_tiles(make_problem(q, out, kv.k_cache, kv.v_cache, kv.block_size, shape), work);
}

// Dense K/V (S, Hkv, D) is a pool of one block of S slots: the same kernel serves it.
void attention_dense_causal(std::span<const float> q, std::span<const float> k,
                            std::span<const float> v, std::span<float> out, int seq_len,
                            const AttentionShape& shape) {
  check_dense_causal("attention_dense_causal", q, k, v, out, seq_len, shape);
  if (!active().attention_tile)
    return attention_dense_causal_reference(q, k, v, out, seq_len, shape);
  if (seq_len == 0) return;
  const int32_t only_block = 0;
  Work work;
  add_tiles(work, {.first_token = 0, .num_tokens = seq_len, .first_position = 0,
                   .num_keys = seq_len, .block_table = &only_block},
            shape.num_heads, shape.num_kv_heads, shape.head_dim);
  run_tiles(make_problem(q, out, k, v, seq_len, shape), work);
}

// The mask alone decides visibility: first_position = Tk puts every key in the causal past.
void attention_masked(std::span<const float> q, std::span<const float> k,
                      std::span<const float> v, std::span<const std::uint8_t> mask,
                      std::span<float> out, int num_queries, int num_keys,
                      const AttentionShape& shape) {
  check_masked("attention_masked", q, k, v, mask, out, num_queries, num_keys, shape);
  if (!active().attention_tile)
    return attention_masked_reference(q, k, v, mask, out, num_queries, num_keys, shape);
  if (num_keys == 0) {
    std::ranges::fill(out, 0.f);
    return;
  }
  const int32_t only_block = 0;
  Work work;
  add_tiles(work, {.first_token = 0, .num_tokens = num_queries, .first_position = num_keys,
                   .num_keys = num_keys, .block_table = &only_block, .mask = mask.data(),
                   .mask_stride = num_keys},
            shape.num_heads, shape.num_kv_heads, shape.head_dim);
  run_tiles(make_problem(q, out, k, v, num_keys, shape), work);
}

// [SECTION] matmul -----------------------------------------------------------------------------

// Rows are split evenly over the threads (in multiples of 8, the widest micro-kernel height),
// each part at least MIN_PART_FLOPS of work: waking a thread and packing its own copy of w
// cost more than a small GEMM (the default model's 64 x 64 x 192 ran 0.66-0.70x as fast on
// 2 threads as on 1). Each row's sums are the same whichever part computes it.
void matmul(std::span<const float> x, std::span<const float> w, std::span<float> y, int M, int K,
            int N) {
  check_matmul("matmul", x, w, y, M, K, N);
  const auto kernel = active().matmul_rows;
  if (!kernel) return matmul_reference(x, w, y, M, K, N);
  const double parts_worth = 2.0 * M * K * N / MIN_PART_FLOPS;
  const int parts = std::max(1, std::min({num_threads(), (M + 7) / 8, int(std::min(parts_worth, 256.0))}));
  const int rows_per_part = ((M + parts - 1) / parts + 7) / 8 * 8;
  parallel_for(parts, [&](int p) {
    const int m_begin = p * rows_per_part, m_end = std::min(M, m_begin + rows_per_part);
    kernel(x.data(), w.data(), y.data(), m_begin, m_end, K, N);
  });
}

// [SECTION] rope, rmsnorm, softmax, argmax -----------------------------------------------------

void rope(std::span<float> x, std::span<const int32_t> positions, int num_heads, int head_dim,
          float theta) {
  check_rope("rope", x, positions, num_heads, head_dim);
  if (const auto kernel = active().rope)
    return kernel(x.data(), positions.data(), int(positions.size()), num_heads, head_dim, theta);
  rope_reference(x, positions, num_heads, head_dim, theta);
}

void rmsnorm(std::span<const float> x, std::span<const float> weight, std::span<float> y,
             int rows, int dim, float eps) {
  check_rmsnorm("rmsnorm", x, weight, y, rows, dim);
  if (const auto kernel = active().rmsnorm)
    return kernel(x.data(), weight.data(), y.data(), rows, dim, eps);
  rmsnorm_reference(x, weight, y, rows, dim, eps);
}

void softmax(std::span<float> x, int rows, int n) {
  check_softmax("softmax", x, rows, n);
  if (const auto kernel = active().softmax) return kernel(x.data(), rows, n);
  softmax_reference(x, rows, n);
}

int argmax(std::span<const float> logits) {
  check_argmax("argmax", logits);
  if (const auto kernel = active().argmax) return kernel(logits.data(), int(logits.size()));
  return argmax_reference(logits);
}

}  // namespace cblab::kernels

// kernel_table.hpp — the seam between the module world and the per-ISA object files.
//
// Each per-arch file (sse2.cpp, avx2.cpp, avx512.cpp, wasm.cpp) fills one KernelTable with
// the kernel templates instantiated for its xsimd arch. The dispatcher (kernels/dispatch.cpp)
// picks one table at run time. Plain C++ declarations, attached to the global module, so both
// the non-module arch files and the module units agree on them.
//
// The entries take raw pointers and do one *work item* each: ops.cpp checks the arguments,
// cuts the work into items and spreads them over the thread pool. A nullptr entry means "no
// SIMD version": ops.cpp then runs the scalar reference.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cblab::kernels::detail {

// Everything an attention work item reads that is shared by all items of one call.
struct AttentionProblem {
  const float* q = nullptr;  // (T, H, D)
  float* out = nullptr;      // (T, H, D)
  int num_heads = 1;         // H
  int num_kv_heads = 1;      // Hkv
  int head_dim = 0;          // D
  float scale = 1.f;
  const float* k_cache = nullptr;  // (NB, B, Hkv, D); dense K is the case NB = 1, B = S
  const float* v_cache = nullptr;  // (NB, B, Hkv, D)
  int block_size = 1;              // B
  // Decode over big slots asks for the next slice of keys while it computes this one (see
  // attention.hpp); dispatch.cppm says why that is a per-CPU choice.
  bool ask_next_slice = true;
};

// One work item: a tile of consecutive query tokens of one request, all heads or (kv_head >= 0)
// the query heads of one KV head.
// Query token i (0-based in the tile) may see key j iff j <= first_position + i and, when
// mask is set, mask[i * mask_stride + j] != 0. Keys are looked up through block_table.
// A split decode (flash-decoding) gives each partition of the keys its own item: it walks
// keys [key_begin, num_keys) only and writes its unnormalised state to `partial` instead of
// out; ops.cpp merges the partitions.
struct AttentionTile {
  int first_token = 0;      // row of q/out of the tile's first token
  int num_tokens = 0;       // tokens in the tile (>= 1)
  int first_position = 0;   // position of the first token in its request
  int num_keys = 0;         // keys [0, num_keys) exist (>= 1)
  const int32_t* block_table = nullptr;  // (ceil(num_keys / B))
  const std::uint8_t* mask = nullptr;    // (num_tokens, mask_stride) or nullptr
  int mask_stride = 0;
  int kv_head = -1;           // -1: every KV head; else only this one and its query heads
  int key_begin = 0;          // first key of this item (0, or a partition's start)
  float* partial = nullptr;   // (num_tokens, H, D + 2): O, m, l per row, or nullptr: out = O / l
};

struct KernelTable {
  const char* name;  // "avx512f", "fma3+avx2", "sse2", "wasm+relaxed", "wasm", "scalar"
  // a: (n), b: (n) -> sum_i a[i] * b[i]
  float (*dot)(const float* a, const float* b, std::size_t n);
  // Flash attention over one tile (online softmax over key tiles; GQA shares loaded K/V).
  void (*attention_tile)(const AttentionProblem& problem, const AttentionTile& tile);
  // Rows [m_begin, m_end) of y: (M, N) = x: (M, K) · w: (K, N).
  void (*matmul_rows)(const float* x, const float* w, float* y, int m_begin, int m_end, int K,
                      int N);
  // x: (T, H, D) in place; positions: (T).
  void (*rope)(float* x, const int32_t* positions, int num_tokens, int num_heads, int head_dim,
               float theta);
  // x, y: (rows, dim)  weight: (dim)
  void (*rmsnorm)(const float* x, const float* weight, float* y, int rows, int dim, float eps);
  // x: (rows, n) in place
  void (*softmax)(float* x, int rows, int n);
  // logits: (n), n >= 1
  int (*argmax)(const float* logits, int n);

  // Machine probes for the benchmark (see probes.hpp): one streaming pass summing data: (n);
  // the blocks of a paged pool read in table order; iterations x fma_chains vector FMAs of
  // float_lanes lanes each.
  float (*stream_read)(const float* data, std::size_t n);
  float (*paged_read)(const float* k, const float* v, const std::int32_t* blocks,
                      std::size_t num_blocks, std::size_t block_floats, bool prefetch_next);
  float (*fma_chains)(long long iterations, float seed);
  int fma_chains_per_iteration;
  int float_lanes;
};

#if defined(__EMSCRIPTEN__)
extern const KernelTable wasm_table;
// Relaxed SIMD makes a whole wasm module fail to load where the engine lacks it, so only the
// CLI and the tests link wasm_relaxed.cpp, not the web page. Weak: null where not linked.
[[gnu::weak]] extern const KernelTable wasm_relaxed_table;
#else
extern const KernelTable sse2_table;
extern const KernelTable avx2_table;
extern const KernelTable avx512_table;
#endif

}  // namespace cblab::kernels::detail

// variant.cpp — one variant of the kernels for tools/kernel-ab.sh. Compiled once per variant,
// with -I pointing at that variant's modules/kernels/arch and -Dcblab=cblab_vN, so every
// variant's inline templates get their own names and several link into one program. The
// entry points take plain arguments: the variants' own structs may differ.
#include "make_table.hpp"
#include <algorithm>
#include <cmath>

#define AB_CAT2(a, b) a##b
#define AB_CAT(a, b) AB_CAT2(a, b)

namespace kd = cblab::kernels::detail;

extern "C" bool kab_decode_prefetch();  // main.cpp: the engine's choice on this CPU

namespace {
const kd::KernelTable table = kd::make_table<AB_ARCH>("variant");

// Sets what this variant's AttentionProblem has of the engine's per-CPU settings.
template <class Problem>
void as_the_engine(Problem& problem) {
  if constexpr (requires { problem.ask_next_slice; }) problem.ask_next_slice = kab_decode_prefetch();
}
}

// Decode (qlen 1): one work item per request, every head. Prefill (one request of qlen tokens
// over C keys, the last qlen of them its own): items of 256 rows per KV head, as the engine
// cuts them (ops.cpp). Neither splits a long decode into partitions.
extern "C" void AB_CAT(AB_VARIANT, _attention)(const float* q, float* out, const float* k,
                                               const float* v, const int* block_table, int H,
                                               int Hkv, int D, int C, int requests, int qlen,
                                               int B) {
  kd::AttentionProblem problem{.q = q, .out = out, .num_heads = H, .num_kv_heads = Hkv,
                               .head_dim = D, .scale = 1.f / std::sqrt(float(D)),
                               .k_cache = k, .v_cache = v, .block_size = B};
  as_the_engine(problem);
  const int blocks_per_request = (C + B - 1) / B;
  if (qlen == 1) {
    for (int r = 0; r < requests; ++r)
      table.attention_tile(problem, {.first_token = r, .num_tokens = 1, .first_position = C - 1,
                                     .num_keys = C, .block_table = block_table + r * blocks_per_request});
    return;
  }
  const int tokens = std::clamp(256 / (H / Hkv), 1, 256);
  for (int kvh = 0; kvh < Hkv; ++kvh)
    for (int t0 = 0; t0 < qlen; t0 += tokens)
      table.attention_tile(problem, {.first_token = t0, .num_tokens = std::min(tokens, qlen - t0),
                                     .first_position = C - qlen + t0, .num_keys = C,
                                     .block_table = block_table, .kv_head = kvh});
}

extern "C" void AB_CAT(AB_VARIANT, _gemm)(const float* x, const float* w, float* y, int M, int K, int N) {
  table.matmul_rows(x, w, y, 0, M, K, N);
}

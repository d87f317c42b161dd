// attention.hpp — flash-style attention over one tile of query tokens, written once as a
// template on the xsimd arch (instantiated only in the per-arch files).
//
// The idea (FlashAttention, vLLM's unified attention): never build the whole score matrix.
// Walk the keys in tiles of KEY_TILE; for each tile compute the scores S = Q·Kᵀ of the
// tile, fold them into a running ("online") softmax — each query row keeps its maximum m, its
// sum of weights l and its unnormalised output O — and add P·V. When a later tile raises a
// row's maximum, the old O and l are rescaled by exp(m_old - m_new). At the end O / l is the
// softmax-weighted sum of V, exactly as if all scores had been seen at once.
//
// One work item = consecutive query tokens of one request, every head (decode) or the query
// heads of one KV head (prefill). The loop over KV heads sits inside the loop over key tiles,
// so one key tile's K/V (contiguous in a block of the pool: (B, Hkv, D)) is read from memory
// once, and the H/Hkv query heads of a KV head (grouped-query attention) use each loaded K
// and V row together. The same code is the decode
// path (one token: a few rows per KV head, memory bound: W-lane dot products reduced by a
// shuffle tree) and the prefill path (many rows, compute bound: the key tile is copied
// transposed, D x keys, so Q·Kᵀ is a register-blocked GEMM — broadcast q[r][d], multiply by
// W keys at once — with no horizontal reduction; P·V is a register-blocked GEMM too).
//
// [SECTION] score block (few rows): NR rows x KB keys of Q·Kᵀ, reduced across lanes
// [SECTION] score block (many rows): NR rows x NV*W keys of Q·Kᵀ from the transposed key tile
// [SECTION] P·V block: NR rows x CC vectors of O
// [SECTION] online softmax: W rows at once, and the exp it uses
// [SECTION] the tile
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>
#include <xsimd/xsimd.hpp>
#include "madd.hpp"
#include "kernel_table.hpp"

// In wasm, registers are allocated by V8, one function at a time, and it spills far more in one
// as big as tile() with every loop inlined into it. The score and P·V loops stay functions of
// their own there: wasm+relaxed prefill 1.5x, decode 1.25x, plain wasm 1.09-1.16x
// (tools/kernel-ab.sh). Natively clang inlines them as before.
#if defined(__wasm__)
#define CBLAB_WASM_NOINLINE __attribute__((noinline))
#else
#define CBLAB_WASM_NOINLINE
#endif

namespace cblab::kernels::simd {

// Asks for the cache line holding p. wasm has no prefetch instruction (clang drops
// __builtin_prefetch there), but a load whose value is kept starts the same fetch, and the CPU
// goes on with the loop while the line is on its way: `touched` gathers the loaded bits and
// keep_touched() stores them once, so no load is dead code.
#if defined(__wasm__)
inline unsigned touch_sink = 0;
inline void ask_line(const void* p, unsigned& touched) {
  touched |= std::bit_cast<unsigned>(*static_cast<const volatile float*>(p));
}
inline void keep_touched(unsigned touched) { touch_sink |= touched; }
#else
inline void ask_line(const void* p, unsigned&) { __builtin_prefetch(p); }
inline void keep_touched(unsigned) {}
#endif

template <class Arch>
struct Attention {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int W = int(batch::size);
  static constexpr int KEY_TILE = 64;  // keys per online-softmax step (a multiple of W and 4)
  // AVX-512 has 32 vector registers, the others 16: P·V keeps NR x CC accumulators live.
  static constexpr int PV_CHUNKS = W >= 16 ? 4 : 2;
  static constexpr int PV_ROWS = W >= 16 ? 6 : 4;  // 6 x 4 = 24 accumulators with AVX-512
  static constexpr float NEG_INF = -std::numeric_limits<float>::infinity();

  // [SECTION] score block (few rows) ----------------------------------------------------------

  // sums[i] = reduce_add(rows[i]) for i < W: W horizontal sums in one shuffle tree.
  // xsimd::haddp does this, but in xsimd 13.2 its AVX-512 version returns the sums in a
  // permuted order (lanes 2,3 <-> 4,5 and 10,11 <-> 12,13), so AVX-512 has its own tree.
  static void sum_each(const batch* rows, float* sums) {
#if defined(__AVX512F__)  // only the AVX-512 file is compiled with it
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
      // 1. Fold 256-bit halves: pair (a, b) -> 128-bit lanes [a0+a2, a1+a3, b0+b2, b1+b3].
      __m512 half[8];
      for (int i = 0; i < 8; ++i) {
        const __m512 a = rows[2 * i], b = rows[2 * i + 1];
        half[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
      }
      // 2. Fold 128-bit lanes: quad[i] lane l holds 4 partial sums of row 4i + l.
      __m512 quad[4];
      for (int i = 0; i < 4; ++i) {
        const __m512 x = half[2 * i], y = half[2 * i + 1];
        quad[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0)),
                                _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
      }
      // 3. Transpose 4x4 inside each 128-bit lane and add: lane l, element t = row 4t + l.
      const __m512 t0 = _mm512_unpacklo_ps(quad[0], quad[1]), t1 = _mm512_unpackhi_ps(quad[0], quad[1]);
      const __m512 t2 = _mm512_unpacklo_ps(quad[2], quad[3]), t3 = _mm512_unpackhi_ps(quad[2], quad[3]);
      const __m512 total = _mm512_add_ps(
          _mm512_add_ps(_mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                        _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2))),
          _mm512_add_ps(_mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                        _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))));
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, total);
      for (int row = 0; row < 16; ++row) sums[row] = lanes[(row % 4) * 4 + row / 4];
      return;
    }
#endif
    xsimd::haddp(rows).store_aligned(sums);
  }


  // s[r * lds + c] = q_r · k_c for NR rows (q: NR x D, row stride D) and KB keys (pointers).
  // Each loaded K vector serves NR query rows, each Q vector KB keys: NR*KB independent FMA
  // chains, reduced together W at a time by sum_each. NR*KB = W when possible, so a decode
  // row (NR = 1) takes W keys at once instead of wasting the reduction on empty lanes.
  template <int NR, int KB>
  static void score_block(const float* q, int D, const float* const* k, float* s, int lds) {
    constexpr int NA = ((NR * KB + W - 1) / W) * W;  // accumulators, padded to whole W groups
    batch acc[NA];
    for (int a = 0; a < NA; ++a) acc[a] = batch(0.f);
    int d = 0;
    for (; d + W <= D; d += W) {
      batch kv[KB];
      for (int c = 0; c < KB; ++c) kv[c] = batch::load_unaligned(k[c] + d);
      for (int r = 0; r < NR; ++r) {
        const batch qv = batch::load_unaligned(q + r * D + d);
        for (int c = 0; c < KB; ++c) acc[r * KB + c] = madd(qv, kv[c], acc[r * KB + c]);
      }
    }
    alignas(64) float sums[NA];
    for (int g = 0; g < NA; g += W) sum_each(&acc[g], &sums[g]);
    for (; d < D; ++d)  // head_dim % W tail
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < KB; ++c) sums[r * KB + c] += q[r * D + d] * k[c][d];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < KB; ++c) s[r * lds + c] = sums[r * KB + c];
  }

  // Keys per score block for nr rows: W, W/2 for 1 and 2 rows, else 4 (at least 4). Always a
  // power of two, so blocks tile KEY_TILE exactly and never write past a row of scores.
  static constexpr int keys_per_block(int nr) { return std::max(4, nr == 1 ? W : nr == 2 ? W / 2 : 4); }
  static constexpr int MAX_KEYS_PER_BLOCK = keys_per_block(1);

  // Scores of nr rows (1..4) against keys [c0, nk) of the tile, skipping key blocks that start
  // after last_visible (all in the causal future of every row).
  static void score_rows(int nr, const float* q, int D, const float* const* k, int nk,
                         int last_visible, float* s, int lds) {
    const auto run = [&]<int NR>() {
      constexpr int KB = keys_per_block(NR);
      for (int c0 = 0; c0 < nk && c0 <= last_visible; c0 += KB)
        score_block<NR, KB>(q, D, k + c0, s + c0, lds);
    };
    switch (nr) {
      case 4: return run.template operator()<4>();
      case 3: return run.template operator()<3>();
      case 2: return run.template operator()<2>();
      default: return run.template operator()<1>();
    }
  }

  // [SECTION] score block (many rows) ---------------------------------------------------------

  // Rows of a score block over the transposed key tile, and vectors of W keys per block:
  // NR_T x NV_T accumulators + NV_T key vectors + 1 broadcast fit the register file (32
  // vectors with AVX-512: 6 x 4 = 24 accumulators; 16 with AVX2: 6 x 2 = 12). With 4 lanes,
  // 4 x 2: V8 keeps only 15 xmm registers for wasm code and spilled half of 6 x 2 to the stack
  // on every step of d (wasm+relaxed 1.36-1.51x faster; SSE2 and plain wasm no slower).
  static constexpr int NR_T = W >= 8 ? 6 : 4;
  static constexpr int NV_T = W >= 16 ? 4 : 2;

  // A W x W block transposed in registers (rows[i] lane j <-> rows[j] lane i).
  static void transpose_block(batch* rows) {
#if defined(__AVX512F__)  // xsimd 13.2 has no AVX-512 float transpose (it goes through memory)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
      // 1. Within each 128-bit lane, 4x4 transposes of rows 4i..4i+3: u[4i + c] lane L holds
      //    column 4L + c of those four rows.
      __m512 u[16];
      for (int i = 0; i < 4; ++i) {
        const __m512 r0 = rows[4 * i], r1 = rows[4 * i + 1], r2 = rows[4 * i + 2], r3 = rows[4 * i + 3];
        const __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1);
        const __m512 t2 = _mm512_unpacklo_ps(r2, r3), t3 = _mm512_unpackhi_ps(r2, r3);
        u[4 * i + 0] = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      }
      // 2. Column 4L + c gathers lane L of u[c], u[4 + c], u[8 + c], u[12 + c].
      for (int c = 0; c < 4; ++c) {
        const __m512 lo01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 hi01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
        const __m512 lo23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 hi23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
        rows[0 + c] = _mm512_shuffle_f32x4(lo01, lo23, _MM_SHUFFLE(2, 0, 2, 0));
        rows[4 + c] = _mm512_shuffle_f32x4(lo01, lo23, _MM_SHUFFLE(3, 1, 3, 1));
        rows[8 + c] = _mm512_shuffle_f32x4(hi01, hi23, _MM_SHUFFLE(2, 0, 2, 0));
        rows[12 + c] = _mm512_shuffle_f32x4(hi01, hi23, _MM_SHUFFLE(3, 1, 3, 1));
      }
      return;
    }
#endif
    xsimd::transpose(rows, rows + W);
  }

  // kt[d * KEY_TILE + j] = k_j[d] for keys j < nk rounded up to W (k is padded with copies of
  // the last key; their scores are masked to -inf later). W x W blocks are transposed in
  // registers: about one shuffle per two floats moved, paid once per key tile and KV head and
  // shared by every query row of the item.
  static void transpose_keys(const float* const* k, int nk, int D, float* kt) {
    for (int j0 = 0; j0 < nk; j0 += W) {
      int d = 0;
      for (; d + W <= D; d += W) {
        batch block[W];
        for (int i = 0; i < W; ++i) block[i] = batch::load_unaligned(k[j0 + i] + d);
        transpose_block(block);
        for (int i = 0; i < W; ++i) block[i].store_aligned(kt + std::size_t(d + i) * KEY_TILE + j0);
      }
      for (; d < D; ++d)  // head_dim % W tail
        for (int i = 0; i < W; ++i) kt[std::size_t(d) * KEY_TILE + j0 + i] = k[j0 + i][d];
    }
  }

  // s[r * lds + j] = q_r · k_j for NR rows and the NV*W keys of kt starting at column j0.
  // For each d: NV vectors of keys are loaded and NR values of q broadcast — NR*NV
  // independent FMA chains, each summing over d in order, as the reference does.
  template <int NR, int NV>
  CBLAB_WASM_NOINLINE static void score_block_t(const float* q, int D, const float* kt, float* s,
                                                int lds) {
    batch acc[NR][NV];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NV; ++c) acc[r][c] = batch(0.f);
    for (int d = 0; d < D; ++d) {
      batch kv[NV];
      for (int c = 0; c < NV; ++c) kv[c] = batch::load_aligned(kt + std::size_t(d) * KEY_TILE + c * W);
      for (int r = 0; r < NR; ++r) {
        const batch qr(q[r * D + d]);
        for (int c = 0; c < NV; ++c) acc[r][c] = madd(qr, kv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NV; ++c) acc[r][c].store_aligned(s + r * lds + c * W);
  }

  // Runtime (rows, vectors) -> the fixed-size block, counting both down from the maximum.
  template <int NR = NR_T, int NV = NV_T>
  static void score_block_t_dispatch(int nr, int nv, const float* q, int D, const float* kt,
                                     float* s, int lds) {
    if constexpr (NR == 0 || NV == 0) {
      (void)nr, (void)nv, (void)q, (void)D, (void)kt, (void)s, (void)lds;
    } else if (nr < NR) {
      score_block_t_dispatch<NR - 1, NV>(nr, nv, q, D, kt, s, lds);
    } else if (nv < NV) {
      score_block_t_dispatch<NR, NV - 1>(nr, nv, q, D, kt, s, lds);
    } else {
      score_block_t<NR, NV>(q, D, kt, s, lds);
    }
  }

  // Scores of nr rows (1..NR_T) against the transposed tile, up to the key vector holding
  // last_visible (later vectors are wholly in the causal future of every row).
  static void score_rows_t(int nr, const float* q, int D, const float* kt, int padded,
                           int last_visible, float* s, int lds) {
    if (last_visible < 0) return;
    const int nvec = std::min(padded, last_visible + 1 + W - 1) / W;
    for (int c0 = 0; c0 < nvec; c0 += NV_T)
      score_block_t_dispatch(nr, std::min(NV_T, nvec - c0), q, D, kt + c0 * W, s + c0 * W, lds);
  }

  // [SECTION] P·V block -----------------------------------------------------------------------

  // o[r][d0 .. d0 + CC*W) += sum_j p[r * lds + j] * v_j[d0 ..] for NR rows, keys 0..nk-1.
  // The accumulators stay in registers across all keys of the tile.
  template <int NR, int CC>
  static void pv_block(const float* p, int lds, const float* const* v, int nk, int d0, float* o,
                       int D) {
    batch acc[NR][CC];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < CC; ++c) acc[r][c] = batch::load_unaligned(o + r * D + d0 + c * W);
    for (int j = 0; j < nk; ++j) {
      batch vv[CC];
      for (int c = 0; c < CC; ++c) vv[c] = batch::load_unaligned(v[j] + d0 + c * W);
      for (int r = 0; r < NR; ++r) {
        const batch pr(p[r * lds + j]);
        for (int c = 0; c < CC; ++c) acc[r][c] = madd(pr, vv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < CC; ++c) acc[r][c].store_unaligned(o + r * D + d0 + c * W);
  }

  template <int NR>
  CBLAB_WASM_NOINLINE static void pv_rows_fixed(const float* p, int lds, const float* const* v,
                                                int nk, float* o, int D) {
    int d0 = 0;
    for (; d0 + PV_CHUNKS * W <= D; d0 += PV_CHUNKS * W)
      pv_block<NR, PV_CHUNKS>(p, lds, v, nk, d0, o, D);
    for (; d0 + W <= D; d0 += W) pv_block<NR, 1>(p, lds, v, nk, d0, o, D);
    for (; d0 < D; ++d0)  // head_dim % W tail
      for (int r = 0; r < NR; ++r) {
        float sum = o[r * D + d0];
        for (int j = 0; j < nk; ++j) sum += p[r * lds + j] * v[j][d0];
        o[r * D + d0] = sum;
      }
  }

  static void pv_rows(int nr, const float* p, int lds, const float* const* v, int nk, float* o,
                      int D) {
    switch (nr) {
      case 6: if constexpr (PV_ROWS >= 6) return pv_rows_fixed<6>(p, lds, v, nk, o, D); else break;
      case 5: if constexpr (PV_ROWS >= 5) return pv_rows_fixed<5>(p, lds, v, nk, o, D); else break;
      case 4: return pv_rows_fixed<4>(p, lds, v, nk, o, D);
      case 3: return pv_rows_fixed<3>(p, lds, v, nk, o, D);
      case 2: return pv_rows_fixed<2>(p, lds, v, nk, o, D);
      default: return pv_rows_fixed<1>(p, lds, v, nk, o, D);
    }
  }

  // [SECTION] online softmax ------------------------------------------------------------------

  // exp(x) for the softmax, x <= 0 or -inf. xsimd::exp's range reduction (x = k ln 2 + r) and
  // polynomial, so the same accuracy, without its checks for the x > 0 it never gets here;
  // AVX-512's scalef then multiplies by 2^k in one instruction, the other archs build 2^k from
  // its exponent bits. Results below the normal float range (x < -86) are set to 0 by the mask
  // instead of computed: a denormal or underflowing result costs a microcode assist, which
  // made every causally masked (-inf) score of a diagonal tile slow. (Against xsimd::exp,
  // interleaved: wasm+relaxed prefill 1.07-1.09x, SSE2 1.05x, AVX2 0.99x.)
  static batch exp_softmax(batch x) {
    const auto keep = x >= batch(-86.f);
    x = xsimd::max(x, batch(-86.f));  // -inf would give NaN below
    const batch k = xsimd::nearbyint(x * batch(1.44269504088896341f));
    batch r = nmadd(k, batch(0.693359375f), x);  // ln 2 in two parts, as xsimd
    r = nmadd(k, batch(-2.12194440e-4f), r);
    batch y(1.3997796e-03f);
    y = madd(y, r, batch(8.3955629e-03f));
    y = madd(y, r, batch(4.1665401e-02f));
    y = madd(y, r, batch(1.6666277e-01f));
    y = madd(y, r, batch(5.0000000e-01f));
    y = madd(y, r * r, r) + batch(1.f);
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return _mm512_maskz_scalef_ps(keep, y, k);
#endif
    using ints = xsimd::batch<std::int32_t, Arch>;
    const batch two_k = xsimd::bitwise_cast<float>((xsimd::to_int(k) + ints(127)) << 23);  // k >= -124
    return xsimd::select(keep, y * two_k, batch(0.f));
  }

  // Folds the scores of n <= W rows (row r's at s + r * lds, [0, padded), masked entries -inf)
  // into their running (m, l): the scores become the weights p = exp(s - m_new), and alpha[r]
  // is the factor row r's O must be scaled by. The W rows go together: their maxima come out
  // of one W x W transpose, their sums out of sum_each and the W rescale factors out of one
  // vector exp — per row that would be two horizontal reductions and a scalar exp, each a
  // chain of dependent steps.
  static void online_softmax_rows(float* s, int lds, int n, int padded, float* m, float* l,
                                  float* alpha) {
    batch acc[W];
    for (int r = 0; r < W; ++r) {
      batch vmax(NEG_INF);
      if (r < n)
        for (int j = 0; j < padded; j += W) vmax = xsimd::max(vmax, batch::load_aligned(s + r * lds + j));
      acc[r] = vmax;
    }
    transpose_block(acc);  // now acc[j] lane r is lane j of row r's maxima
    batch row_max = acc[0];
    for (int j = 1; j < W; ++j) row_max = xsimd::max(row_max, acc[j]);
    alignas(64) float buf[W];
    for (int r = 0; r < W; ++r) buf[r] = r < n ? m[r] : NEG_INF;
    const batch m_old = batch::load_aligned(buf), m_new = xsimd::max(m_old, row_max);
    // A row whose keys so far are all masked keeps m = -inf: no weight yet (alpha 1, p 0).
    const auto none = m_new == batch(NEG_INF);
    const batch va = xsimd::select(none, batch(1.f), exp_softmax(m_old - m_new));  // exp(-inf) = 0
    xsimd::select(none, batch(0.f), m_new).store_aligned(buf);
    for (int r = 0; r < W; ++r) {
      batch vsum(0.f);
      if (r < n) {
        const batch vm(buf[r]);
        for (float *p = s + r * lds, *end = p + padded; p < end; p += W) {
          const batch e = exp_softmax(batch::load_aligned(p) - vm);
          e.store_aligned(p);
          vsum += e;
        }
      }
      acc[r] = vsum;
    }
    alignas(64) float sums[W], a[W], mn[W];
    sum_each(acc, sums);
    va.store_aligned(a);
    m_new.store_aligned(mn);
    for (int r = 0; r < n; ++r) {
      l[r] = l[r] * a[r] + sums[r];
      m[r] = mn[r];
      alpha[r] = a[r];
    }
  }

  static void scale_row(float* o, int D, float alpha) {
    const batch va(alpha);
    int d = 0;
    for (; d + W <= D; d += W) (batch::load_unaligned(o + d) * va).store_unaligned(o + d);
    for (; d < D; ++d) o[d] *= alpha;
  }

  // [SECTION] the tile ------------------------------------------------------------------------

  // K and V are read straight from the pool, where the rows of one KV head are Hkv*D floats
  // apart and a tile jumps between blocks, which the hardware prefetcher follows poorly. So
  // while one tile is computed, ask for the next tile's K and V rows of KV heads [kv0, kv1)
  // (contiguous within a slot) one cache line at a time. The cursor walks those keys.
  struct Prefetch {
    int key = 0, end = 0;  // keys [key, end) not yet asked for
  };

  // Asks for one array's rows (K or V) of keys [from, to), KV heads [kv0, kv1), one cache line
  // at a time.
  static void prefetch_rows(const detail::AttentionProblem& P, const detail::AttentionTile& T,
                            const float* cache, int from, int to, int kv0, int kv1) {
    const std::size_t row_floats = std::size_t(P.num_kv_heads) * P.head_dim;
    const std::size_t first = std::size_t(kv0) * P.head_dim, last = std::size_t(kv1) * P.head_dim;
    unsigned touched = 0;
    for (int key = from; key < to; ++key) {
      const float* row = cache + (std::size_t(T.block_table[key / P.block_size]) * P.block_size +
                                  key % P.block_size) * row_floats;
      for (std::size_t f = first; f < last; f += 64 / sizeof(float)) ask_line(row + f, touched);
    }
    keep_touched(touched);
  }

  // The next `count` keys of the cursor: each key's K rows, then its V rows.
  static void prefetch_keys(const detail::AttentionProblem& P, const detail::AttentionTile& T,
                            Prefetch& next, int count, int kv0, int kv1) {
    for (const int stop = std::min(next.end, next.key + count); next.key < stop; ++next.key) {
      prefetch_rows(P, T, P.k_cache, next.key, next.key + 1, kv0, kv1);
      prefetch_rows(P, T, P.v_cache, next.key, next.key + 1, kv0, kv1);
    }
  }


  // Keys per slice of the few-rows path (a multiple of W and of every score block), used when
  // a slot's rows (all KV heads) take at least SLICE_MIN_BYTES; smaller slots walk the whole
  // key tile as one slice.
  static constexpr int SLICE = 16;
  static constexpr std::size_t SLICE_MIN_BYTES = 2048;
  // In wasm the next slice is not asked for: there a line is asked for with a real load (see
  // ask_line), and 16 loads per slice and KV head in the middle of the loop cost more than the
  // hardware prefetcher, which follows each slice's rows, leaves to win (0.73x).
#if defined(__wasm__)
  static constexpr bool ASK_NEXT_SLICE = false;
#else
  static constexpr bool ASK_NEXT_SLICE = true;
#endif

  // With enough query rows per KV head (prefill) the key tile is copied transposed (kt,
  // D x KEY_TILE) for the GEMM-shaped score step, and the V rows next to each other: rows of
  // one KV head sit Hkv*D floats apart in the pool (4 KiB for 8 heads of 128), the same L1
  // sets for every key, so a tile re-read by many query rows would keep evicting itself.
  // Decode (a few rows) reads each row once: no copy, it would only add work.
  static constexpr int PACK_MIN_ROWS = 8;

  struct Scratch {
    // Every buffer starts on a cache line, so a row of 16·n floats never straddles two lines.
    // A plain vector starts wherever the heap puts it (16-byte aligned): the same code then ran
    // prefill 5-10 % faster or slower from one build to the next.
    using Floats = std::vector<float, xsimd::aligned_allocator<float, 64>>;
    Floats kt;      // (D, KEY_TILE) keys transposed
    Floats v_tile;  // (KEY_TILE, D): the V rows of one head, contiguous
    Floats q, o, m, l;  // (Hkv, rows, D) / (Hkv, rows, D) / (Hkv*rows) / (Hkv*rows)
    Floats s;           // (rows, KEY_TILE)
    std::vector<std::size_t> slot;                              // (KEY_TILE) offsets of slots
  };

  static void pack_values(const float** vp, int nk, int D, Scratch& sc) {
    sc.v_tile.resize(std::size_t(KEY_TILE) * D);
    for (int j = 0; j < nk; ++j) {
      float* vd = &sc.v_tile[std::size_t(j) * D];
      int d = 0;
      for (; d + W <= D; d += W) batch::load_unaligned(vp[j] + d).store_unaligned(vd + d);
      for (; d < D; ++d) vd[d] = vp[j][d];
      vp[j] = vd;
    }
  }

  static void tile(const detail::AttentionProblem& P, const detail::AttentionTile& T) {
    const int H = P.num_heads, Hkv = P.num_kv_heads, D = P.head_dim, group = H / Hkv;
    const int rows = T.num_tokens * group;  // query rows per KV head: (token, head in group)
    const bool packed = rows >= PACK_MIN_ROWS;
    // The KV heads of this item: all, or one. Scratch index of KV head kvh: kvh - kv0.
    const int kv0 = T.kv_head < 0 ? 0 : T.kv_head, kv1 = T.kv_head < 0 ? Hkv : T.kv_head + 1;
    const int nkv = kv1 - kv0;
    thread_local Scratch sc;
    sc.q.resize(std::size_t(nkv) * rows * D);
    sc.o.assign(std::size_t(nkv) * rows * D, 0.f);
    sc.m.assign(std::size_t(nkv) * rows, NEG_INF);
    sc.l.assign(std::size_t(nkv) * rows, 0.f);
    sc.s.resize(std::size_t(packed ? 1 : nkv) * rows * KEY_TILE);
    sc.slot.resize(KEY_TILE);
    if (packed) sc.kt.resize(std::size_t(D) * KEY_TILE);

    // Q, pre-multiplied by the scale, regrouped so each KV head's rows are contiguous:
    // qs[kvh - kv0][i * group + g] = scale * q[first_token + i][kvh * group + g]. The rows of
    // one KV head are H*D floats apart in q (4 KiB for 8 heads of 128), each its own page, which
    // the hardware prefetcher does not cross: the row 8 ahead is asked for while one is copied
    // (a 512-token prefill over 512 keys: 1.04-1.06x).
    const auto q_row = [&](int kvh, int r) {
      return P.q + (std::size_t(T.first_token + r / group) * H + kvh * group + r % group) * D;
    };
    constexpr int Q_AHEAD = 8;
    const batch vscale(P.scale);
    for (int kvh = kv0; kvh < kv1; ++kvh)
      for (int r = 0; r < rows; ++r) {
        if (r + Q_AHEAD < rows)
          for (const float *line = q_row(kvh, r + Q_AHEAD), *end = line + D; line < end; line += 64 / sizeof(float))
            __builtin_prefetch(line);
        const float* src = q_row(kvh, r);
        float* dst = &sc.q[(std::size_t(kvh - kv0) * rows + r) * D];
        int d = 0;
        for (; d + W <= D; d += W) (batch::load_unaligned(src + d) * vscale).store_unaligned(dst + d);
        for (; d < D; ++d) dst[d] = src[d] * P.scale;
      }

    // Keys beyond the last token's position are invisible to the whole tile; keys before
    // key_begin belong to another partition of a split decode (merged in ops.cpp).
    const int num_keys = std::min(T.num_keys, T.first_position + T.num_tokens);
    const float* kp[KEY_TILE + MAX_KEYS_PER_BLOCK];
    const float* vp[KEY_TILE];
    for (int j0 = T.key_begin; j0 < num_keys; j0 += KEY_TILE) {
      const int nk = std::min(KEY_TILE, num_keys - j0);
      const int padded = (nk + W - 1) / W * W;
      for (int j = 0; j < nk; ++j) {  // key position -> its slot in the pool, through the table
        const int key = j0 + j;
        sc.slot[j] = (std::size_t(T.block_table[key / P.block_size]) * P.block_size +
                      key % P.block_size) * Hkv * D;
      }
      // Rows before first_row belong to tokens before j0: the whole tile is in their causal
      // future, so they skip it (scores, softmax and P·V). A 512-token chunk over 512 keys
      // would otherwise fold and rescale 3 rows for every 2 that see a key.
      const int first_row = std::clamp((j0 - T.first_position) * group, 0, rows);
      // Causal limit, explicit mask and padding become -inf; then the online softmax of KV
      // head kvh's rows, whose scores are s (rows x KEY_TILE), W rows at a time.
      const auto fold = [&](int kvh, float* s) {
        float* o = &sc.o[std::size_t(kvh - kv0) * rows * D];
        for (int r0 = first_row; r0 < rows; r0 += W) {
          const int n = std::min(W, rows - r0);
          int i = r0 / group, g = r0 % group;  // row r is head g of token i (no division per row)
          for (int r = r0; r < r0 + n; ++r) {
            float* sr = s + r * KEY_TILE;
            const int first_hidden = std::clamp(T.first_position + i - j0 + 1, 0, nk);
            for (int j = first_hidden; j < padded; ++j) sr[j] = NEG_INF;
            if (T.mask) {
              const std::uint8_t* mr = T.mask + std::size_t(i) * T.mask_stride + j0;
              for (int j = 0; j < first_hidden; ++j)
                if (!mr[j]) sr[j] = NEG_INF;
            }
            if (++g == group) g = 0, ++i;
          }
          alignas(64) float alpha[W];
          const std::size_t row = std::size_t(kvh - kv0) * rows + r0;
          online_softmax_rows(s + r0 * KEY_TILE, KEY_TILE, n, padded, &sc.m[row], &sc.l[row], alpha);
          for (int r = 0; r < n; ++r)
            if (alpha[r] != 1.f) scale_row(o + std::size_t(r0 + r) * D, D, alpha[r]);
        }
      };
      // Keys of the tile that rows [r0, r0 + nr) can see (the rest are in their causal future).
      const auto visible = [&](int r0, int nr) {
        return std::clamp(T.first_position + (r0 + nr - 1) / group - j0 + 1, 0, nk);
      };

      if (packed) {
        // Many rows (prefill): for each KV head, S = Q·Kᵀ as a GEMM over the transposed key
        // tile, softmax, O += P·V. The next tile's K/V are asked for a few keys per row
        // block: a burst of 1024 prefetches would fill the line-fill buffers and stall the
        // FMAs behind them until the lines arrive (about 7 % of a D 128 prefill's samples).
        Prefetch next{j0 + KEY_TILE, std::min(num_keys, j0 + 2 * KEY_TILE)};
        const int row_blocks = std::max(1, 2 * ((rows - first_row + NR_T - 1) / NR_T));
        const int keys_per_block = (KEY_TILE + row_blocks - 1) / row_blocks;
        for (int kvh = kv0; kvh < kv1; ++kvh) {
          for (int j = 0; j < nk; ++j) {
            kp[j] = P.k_cache + sc.slot[j] + std::size_t(kvh) * D;
            vp[j] = P.v_cache + sc.slot[j] + std::size_t(kvh) * D;
          }
          for (int j = nk; j < nk + MAX_KEYS_PER_BLOCK; ++j) kp[j] = kp[nk - 1];  // pad the last block
          const float* q = &sc.q[std::size_t(kvh - kv0) * rows * D];
          float* o = &sc.o[std::size_t(kvh - kv0) * rows * D];
          float* s = sc.s.data();
          transpose_keys(kp, nk, D, sc.kt.data());
          pack_values(vp, nk, D, sc);
          for (int r0 = first_row; r0 < rows; r0 += NR_T) {  // skipping key vectors in the causal future
            const int nr = std::min(NR_T, rows - r0);
            score_rows_t(nr, q + std::size_t(r0) * D, D, sc.kt.data(), padded, visible(r0, nr) - 1,
                         s + r0 * KEY_TILE, KEY_TILE);
            if (kvh == kv0) prefetch_keys(P, T, next, keys_per_block, kv0, kv1);
          }
          fold(kvh, s);
          for (int r0 = first_row; r0 < rows; r0 += PV_ROWS) {
            const int nr = std::min(PV_ROWS, rows - r0);
            pv_rows(nr, s + r0 * KEY_TILE, KEY_TILE, vp, visible(r0, nr), o + std::size_t(r0) * D, D);
            if (kvh == kv0) prefetch_keys(P, T, next, keys_per_block, kv0, kv1);
          }
        }
        continue;
      }

      // Few rows (decode): memory bound, so the order K and V are read in matters. A slot
      // holds the rows of every KV head side by side (Hkv*D floats). Walking a tile one KV
      // head at a time visits each slot Hkv times, a piece each time: with 8 heads of 128,
      // 512 bytes of a 4 KiB slot per visit, and the next tile's K and V (512 KiB) do not
      // stay in the L2 until they are used. So big slots are walked in slices of SLICE keys,
      // every KV head of a slice before the next slice — each slice's slots are read whole
      // while they are in the cache, which the hardware prefetcher follows — and each KV
      // head's part of the next slice is asked for while that head is computed. Small slots
      // (2 KV heads of 64: 512 bytes) keep the whole tile as one slice, with the next tile
      // asked for at once (64 KiB of K and V), which measured faster there. Scores of every
      // KV head are kept for the tile, then the softmax, then O += P·V slice by slice.
      const bool sliced = std::size_t(Hkv) * D * sizeof(float) >= SLICE_MIN_BYTES;
      const int slice = sliced ? SLICE : KEY_TILE;
      if (!sliced) {
        Prefetch next{j0 + KEY_TILE, std::min(num_keys, j0 + 2 * KEY_TILE)};
        prefetch_keys(P, T, next, KEY_TILE, kv0, kv1);
      }
      const auto ask_next_slice = [&](const float* cache, int c0, int kvh) {
        if (sliced && ASK_NEXT_SLICE && P.ask_next_slice)
          prefetch_rows(P, T, cache, j0 + c0 + SLICE, std::min(num_keys, j0 + c0 + 2 * SLICE), kvh, kvh + 1);
      };
      float* const s_all = sc.s.data();
      const auto s_of = [&](int kvh) { return s_all + std::size_t(kvh - kv0) * rows * KEY_TILE; };
      for (int c0 = 0; c0 < nk; c0 += slice) {
        const int cn = std::min(slice, nk - c0);
        for (int kvh = kv0; kvh < kv1; ++kvh) {
          ask_next_slice(P.k_cache, c0, kvh);
          for (int j = c0; j < c0 + cn; ++j) kp[j] = P.k_cache + sc.slot[j] + std::size_t(kvh) * D;
          if (c0 + cn == nk)  // pad the last block
            for (int j = nk; j < nk + MAX_KEYS_PER_BLOCK; ++j) kp[j] = kp[nk - 1];
          const float* q = &sc.q[std::size_t(kvh - kv0) * rows * D];
          for (int r0 = first_row; r0 < rows; r0 += 4) {  // up to 4 rows x W/rows keys, reduced across lanes
            const int nr = std::min(4, rows - r0);
            score_rows(nr, q + std::size_t(r0) * D, D, kp + c0, cn, visible(r0, nr) - 1 - c0,
                       s_of(kvh) + r0 * KEY_TILE + c0, KEY_TILE);
          }
        }
      }
      for (int kvh = kv0; kvh < kv1; ++kvh) fold(kvh, s_of(kvh));
      for (int c0 = 0; c0 < nk; c0 += slice) {
        const int cn = std::min(slice, nk - c0);
        for (int kvh = kv0; kvh < kv1; ++kvh) {
          ask_next_slice(P.v_cache, c0, kvh);
          for (int j = c0; j < c0 + cn; ++j) vp[j] = P.v_cache + sc.slot[j] + std::size_t(kvh) * D;
          float* o = &sc.o[std::size_t(kvh - kv0) * rows * D];
          for (int r0 = first_row; r0 < rows; r0 += PV_ROWS) {
            const int nr = std::min(PV_ROWS, rows - r0);
            const int count = std::clamp(visible(r0, nr) - c0, 0, cn);
            pv_rows(nr, s_of(kvh) + r0 * KEY_TILE + c0, KEY_TILE, vp + c0, count, o + std::size_t(r0) * D, D);
          }
        }
      }
    }

    // A partition of a split decode hands back its unnormalised state (O, m, l) per row.
    if (T.partial) {
      for (int kvh = kv0; kvh < kv1; ++kvh)
        for (int r = 0; r < rows; ++r) {
          const std::size_t row = std::size_t(kvh - kv0) * rows + r;
          float* dst = T.partial + (std::size_t(r / group) * H + kvh * group + r % group) * (D + 2);
          std::copy_n(&sc.o[row * D], D, dst);
          dst[D] = sc.m[row];
          dst[D + 1] = sc.l[row];
        }
      return;
    }
    // out = O / l; a row that saw no key at all (l = 0) is zero.
    for (int kvh = kv0; kvh < kv1; ++kvh)
      for (int r = 0; r < rows; ++r) {
        const float l = sc.l[std::size_t(kvh - kv0) * rows + r];
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const float* src = &sc.o[(std::size_t(kvh - kv0) * rows + r) * D];
        float* dst = P.out + (std::size_t(T.first_token + r / group) * H + kvh * group + r % group) * D;
        const batch vinv(inv);
        int d = 0;
        for (; d + W <= D; d += W) (batch::load_unaligned(src + d) * vinv).store_unaligned(dst + d);
        for (; d < D; ++d) dst[d] = src[d] * inv;
      }
  }
};

template <class Arch>
void attention_tile(const detail::AttentionProblem& problem, const detail::AttentionTile& tile) {
  Attention<Arch>::tile(problem, tile);
}

}  // namespace cblab::kernels::simd

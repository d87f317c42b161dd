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
// One work item = consecutive query tokens of one request, every head. The loop over KV heads
// sits inside the loop over key tiles, so one key tile's K/V (contiguous in a block of the
// pool: (B, Hkv, D)) is read from memory once, and the H/Hkv query heads of a KV head
// (grouped-query attention) use each loaded K and V row together. The same code is the decode
// path (one token: H rows, memory bound) and the prefill path (many tokens: register-blocked
// 4-row x 4-key score blocks and 4-row x 4-vector P·V blocks, compute bound).
//
// [SECTION] score block: 4 rows x 4 keys of Q·Kᵀ
// [SECTION] P·V block: NR rows x CC vectors of O
// [SECTION] the tile
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>
#include <xsimd/xsimd.hpp>
#include "kernel_table.hpp"

namespace cblab::kernels::simd {

template <class Arch>
struct Attention {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int W = int(batch::size);
  static constexpr int KEY_TILE = 64;  // keys per online-softmax step (a multiple of W and 4)
  // AVX-512 has 32 vector registers, the others 16: P·V keeps NR x CC accumulators live.
  static constexpr int PV_CHUNKS = W >= 16 ? 4 : 2;
  static constexpr float NEG_INF = -std::numeric_limits<float>::infinity();

  // [SECTION] score block ---------------------------------------------------------------------

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


  // s[r * lds + c] = q_r · k_c for NR rows (q: NR x D, row stride D) and 4 keys (pointers).
  // Each loaded K vector serves NR query rows, each Q vector 4 keys: 16 independent FMA chains.
  // The 4*NR accumulators are reduced together by haddp (W sums in one shuffle tree).
  template <int NR>
  static void score_block(const float* q, int D, const float* const* k, float* s, int lds) {
    constexpr int NA = ((NR * 4 + W - 1) / W) * W;  // accumulators, padded for haddp
    batch acc[NA];
    for (int a = 0; a < NA; ++a) acc[a] = batch(0.f);
    int d = 0;
    for (; d + W <= D; d += W) {
      batch kv[4];
      for (int c = 0; c < 4; ++c) kv[c] = batch::load_unaligned(k[c] + d);
      for (int r = 0; r < NR; ++r) {
        const batch qv = batch::load_unaligned(q + r * D + d);
        for (int c = 0; c < 4; ++c) acc[r * 4 + c] = xsimd::fma(qv, kv[c], acc[r * 4 + c]);
      }
    }
    alignas(64) float sums[NA];
    for (int g = 0; g < NA; g += W) sum_each(&acc[g], &sums[g]);
    for (; d < D; ++d)  // head_dim % W tail
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < 4; ++c) sums[r * 4 + c] += q[r * D + d] * k[c][d];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < 4; ++c) s[r * lds + c] = sums[r * 4 + c];
  }

  // Dispatches a runtime row count (1..4) to the unrolled block.
  static void score_rows(int nr, const float* q, int D, const float* const* k, float* s, int lds) {
    switch (nr) {
      case 4: return score_block<4>(q, D, k, s, lds);
      case 3: return score_block<3>(q, D, k, s, lds);
      case 2: return score_block<2>(q, D, k, s, lds);
      default: return score_block<1>(q, D, k, s, lds);
    }
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
        for (int c = 0; c < CC; ++c) acc[r][c] = xsimd::fma(pr, vv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < CC; ++c) acc[r][c].store_unaligned(o + r * D + d0 + c * W);
  }

  template <int NR>
  static void pv_rows_fixed(const float* p, int lds, const float* const* v, int nk, float* o,
                            int D) {
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
      case 4: return pv_rows_fixed<4>(p, lds, v, nk, o, D);
      case 3: return pv_rows_fixed<3>(p, lds, v, nk, o, D);
      case 2: return pv_rows_fixed<2>(p, lds, v, nk, o, D);
      default: return pv_rows_fixed<1>(p, lds, v, nk, o, D);
    }
  }

  // [SECTION] online softmax ------------------------------------------------------------------

  // Folds one row of scores s[0 .. padded) (masked entries -inf) into the running (m, l, O):
  // s becomes the weights p = exp(s - m_new); returns the factor O must be scaled by.
  static float online_softmax_row(float* s, int padded, float& m, float& l) {
    batch vmax(NEG_INF);
    for (int j = 0; j < padded; j += W) vmax = xsimd::max(vmax, batch::load_aligned(s + j));
    const float m_new = std::max(m, xsimd::reduce_max(vmax));
    if (m_new == NEG_INF) {  // every key so far is masked: no weight anywhere yet
      for (int j = 0; j < padded; ++j) s[j] = 0.f;
      return 1.f;
    }
    const float alpha = std::exp(m - m_new);  // m = -inf (first visible tile) gives 0
    const batch vm(m_new);
    batch vsum(0.f);
    for (int j = 0; j < padded; j += W) {
      const batch p = xsimd::exp(batch::load_aligned(s + j) - vm);  // exp(-inf) = 0
      p.store_aligned(s + j);
      vsum += p;
    }
    l = l * alpha + xsimd::reduce_add(vsum);
    m = m_new;
    return alpha;
  }

  static void scale_row(float* o, int D, float alpha) {
    const batch va(alpha);
    int d = 0;
    for (; d + W <= D; d += W) (batch::load_unaligned(o + d) * va).store_unaligned(o + d);
    for (; d < D; ++d) o[d] *= alpha;
  }

  // [SECTION] the tile ------------------------------------------------------------------------

  struct Scratch {
    std::vector<float> q, o, m, l;  // (Hkv, rows, D) / (Hkv, rows, D) / (Hkv*rows) / (Hkv*rows)
    std::vector<float, xsimd::aligned_allocator<float, 64>> s;  // (rows, KEY_TILE)
    std::vector<std::size_t> slot;                              // (KEY_TILE) offsets of slots
  };

  static void tile(const detail::AttentionProblem& P, const detail::AttentionTile& T) {
    const int H = P.num_heads, Hkv = P.num_kv_heads, D = P.head_dim, group = H / Hkv;
    const int rows = T.num_tokens * group;  // query rows per KV head: (token, head in group)
    thread_local Scratch sc;
    sc.q.resize(std::size_t(Hkv) * rows * D);
    sc.o.assign(std::size_t(Hkv) * rows * D, 0.f);
    sc.m.assign(std::size_t(Hkv) * rows, NEG_INF);
    sc.l.assign(std::size_t(Hkv) * rows, 0.f);
    sc.s.resize(std::size_t(rows) * KEY_TILE);
    sc.slot.resize(KEY_TILE);

    // Q, pre-multiplied by the scale, regrouped so each KV head's rows are contiguous:
    // qs[kvh][i * group + g] = scale * q[first_token + i][kvh * group + g].
    const batch vscale(P.scale);
    for (int kvh = 0; kvh < Hkv; ++kvh)
      for (int r = 0; r < rows; ++r) {
        const float* src = P.q + (std::size_t(T.first_token + r / group) * H + kvh * group + r % group) * D;
        float* dst = &sc.q[(std::size_t(kvh) * rows + r) * D];
        int d = 0;
        for (; d + W <= D; d += W) (batch::load_unaligned(src + d) * vscale).store_unaligned(dst + d);
        for (; d < D; ++d) dst[d] = src[d] * P.scale;
      }

    // Keys beyond the last token's position are invisible to the whole tile.
    const int num_keys = std::min(T.num_keys, T.first_position + T.num_tokens);
    const float* kp[KEY_TILE + 3];
    const float* vp[KEY_TILE + 3];
    for (int j0 = 0; j0 < num_keys; j0 += KEY_TILE) {
      const int nk = std::min(KEY_TILE, num_keys - j0);
      const int padded = (nk + W - 1) / W * W;
      for (int j = 0; j < nk; ++j) {  // key position -> its slot in the pool, through the table
        const int key = j0 + j;
        sc.slot[j] = (std::size_t(T.block_table[key / P.block_size]) * P.block_size +
                      key % P.block_size) * Hkv * D;
      }
      for (int kvh = 0; kvh < Hkv; ++kvh) {
        for (int j = 0; j < nk; ++j) {
          kp[j] = P.k_cache + sc.slot[j] + std::size_t(kvh) * D;
          vp[j] = P.v_cache + sc.slot[j] + std::size_t(kvh) * D;
        }
        for (int j = nk; j < nk + 3; ++j) kp[j] = kp[nk - 1];  // pad the last 4-key block
        const float* q = &sc.q[std::size_t(kvh) * rows * D];
        float* o = &sc.o[std::size_t(kvh) * rows * D];
        float* s = sc.s.data();

        // S = Q·Kᵀ, 4 rows x 4 keys at a time, skipping blocks wholly in the causal future.
        for (int r0 = 0; r0 < rows; r0 += 4) {
          const int nr = std::min(4, rows - r0);
          const int last_visible = T.first_position + (r0 + nr - 1) / group - j0;
          for (int c0 = 0; c0 < nk && c0 <= last_visible; c0 += 4)
            score_rows(nr, q + std::size_t(r0) * D, D, &kp[c0], s + r0 * KEY_TILE + c0, KEY_TILE);
        }
        // Causal limit, explicit mask and padding become -inf; then the online softmax.
        for (int r = 0; r < rows; ++r) {
          const int i = r / group;
          float* sr = s + r * KEY_TILE;
          const int first_hidden = std::clamp(T.first_position + i - j0 + 1, 0, nk);
          for (int j = first_hidden; j < padded; ++j) sr[j] = NEG_INF;
          if (T.mask) {
            const std::uint8_t* mr = T.mask + std::size_t(i) * T.mask_stride + j0;
            for (int j = 0; j < first_hidden; ++j)
              if (!mr[j]) sr[j] = NEG_INF;
          }
          float& m = sc.m[std::size_t(kvh) * rows + r];
          float& l = sc.l[std::size_t(kvh) * rows + r];
          const float alpha = online_softmax_row(sr, padded, m, l);
          if (alpha != 1.f) scale_row(o + std::size_t(r) * D, D, alpha);
        }
        // O += P·V, 4 rows at a time, over the keys the rows can see.
        for (int r0 = 0; r0 < rows; r0 += 4) {
          const int nr = std::min(4, rows - r0);
          const int visible = std::clamp(T.first_position + (r0 + nr - 1) / group - j0 + 1, 0, nk);
          pv_rows(nr, s + r0 * KEY_TILE, KEY_TILE, vp, visible, o + std::size_t(r0) * D, D);
        }
      }
    }

    // out = O / l; a row that saw no key at all (l = 0) is zero.
    for (int kvh = 0; kvh < Hkv; ++kvh)
      for (int r = 0; r < rows; ++r) {
        const float l = sc.l[std::size_t(kvh) * rows + r];
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const float* src = &sc.o[(std::size_t(kvh) * rows + r) * D];
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

// matmul.hpp — blocked GEMM y = x·w for the projections, a template on the xsimd arch.
//
// The classic recipe (GotoBLAS / BLIS), cut down to what a reader can follow:
//  * a micro-kernel keeps an MR x (NR*W) block of y in registers and, for each k, loads NR
//    vectors of w, broadcasts MR values of x and does MR*NR FMAs: every loaded value is used
//    several times, so the FMA units, not the loads, set the pace;
//  * w is copied ("packed") KC rows x NC columns at a time into panels of NR*W columns laid
//    out k-major, so the micro-kernel reads it contiguously (w's own rows are N floats apart,
//    which for large N would alias in the L1 cache) and the panel stays in L2; each element
//    of w is packed once per call; the rows of x are packed k-major too (once per KC slice,
//    reused against all of w) when w is wide enough for that copy to pay;
//  * y[m][n] still sums x[m][k] * w[k][n] for k = 0, 1, 2, ... in order, like the reference.
// Few rows (decode: one token per request) make w's reads the whole cost; then a streaming
// loop reads each row of w once and updates the few rows of y.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>
#include <xsimd/xsimd.hpp>
#include "madd.hpp"

namespace cblab::kernels::simd {

template <class Arch>
struct Gemm {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int W = int(batch::size);
  // Registers: AVX-512 has 32, the others 16. MR*NR accumulators + NR loads + 1 broadcast:
  // 6 x 4 + 4 + 1 = 29 with AVX-512 (a panel of 64 columns, so the model widths 192 ... 4096
  // are whole panels; 8 x 3 measured 2-5 % slower, and 13 % on the LM head's N = 256, which
  // left a third of a 48-column panel), 4 x 3 + 3 + 1 = 16 with AVX2. With 4 lanes 3 x 3: wasm
  // gets 15 xmm registers from V8 (wasm+relaxed 1.45x faster than 4 x 3; SSE2 and plain wasm
  // unchanged).
  static constexpr int MR = W >= 16 ? 6 : W >= 8 ? 4 : 3;
  static constexpr int NR = W >= 16 ? 4 : 3;
  static constexpr int PANEL = NR * W;      // columns per packed panel
  static constexpr int KC = 256;            // rows of w per packed block
  static constexpr int NC = PANEL * (W >= 16 ? 6 : 16);  // columns per packed block: 384, SSE2 192
  static constexpr int PREFETCH_K = 8;      // rows of the panel prefetched ahead (2 KiB, AVX-512)
  static constexpr int STREAM_ROWS = 4;     // fewer rows than this: streaming path

  // y[0..ROWS)[0..PANEL) (+)= a · panel[0..kc)[0..PANEL)
  // a: rows of x, packed (kc, MR), a[k * MR + r] = x[r][k], or in place (PACKED false),
  // a[r * lda + k]; panel: (kc, PANEL); c: row stride ldc.
  template <int ROWS, bool PACKED>
  static void micro(const float* a, int lda, const float* panel, int kc, float* c, int ldc,
                    bool accumulate) {
    batch acc[ROWS][NR];
    for (int r = 0; r < ROWS; ++r)
      for (int j = 0; j < NR; ++j)
        acc[r][j] = accumulate ? batch::load_unaligned(c + r * ldc + j * W) : batch(0.f);
    for (int k = 0; k < kc; ++k) {
      // The panel streams from L2 (the packed block is too big for L1): ask for the row
      // PREFETCH_K steps ahead now, so it is in L1 when the loop gets there (never past the
      // panel's last row: the address must stay inside the buffer).
      const float* ahead = panel + std::min(k + PREFETCH_K, kc - 1) * PANEL;
      for (int j = 0; j < NR; ++j) __builtin_prefetch(ahead + j * W);
      batch b[NR];
      for (int j = 0; j < NR; ++j) b[j] = batch::load_aligned(panel + k * PANEL + j * W);
      for (int r = 0; r < ROWS; ++r) {
        const batch ar(PACKED ? a[k * MR + r] : a[std::size_t(r) * lda + k]);
        for (int j = 0; j < NR; ++j) acc[r][j] = madd(ar, b[j], acc[r][j]);
      }
    }
    for (int r = 0; r < ROWS; ++r)
      for (int j = 0; j < NR; ++j) acc[r][j].store_unaligned(c + r * ldc + j * W);
  }

  template <bool PACKED, int ROWS = MR>
  static void micro_rows(int rows, const float* a, int lda, const float* panel, int kc, float* c,
                         int ldc, bool accumulate) {
    if constexpr (ROWS == 0) {
      (void)rows, (void)a, (void)lda, (void)panel, (void)kc, (void)c, (void)ldc, (void)accumulate;
    } else if (rows == ROWS) {
      micro<ROWS, PACKED>(a, lda, panel, kc, c, ldc, accumulate);
    } else {
      micro_rows<PACKED, ROWS - 1>(rows, a, lda, panel, kc, c, ldc, accumulate);
    }
  }

  // x's rows are K floats apart (often a multiple of 4 KiB: the same L1 sets), so the MR rows
  // of a block are copied k-major: apack[k * MR + r] = x[m + r][k0 + k], zeros past the end.
  static void pack_rows(const float* x, int K, int m, int mr, int k0, int kc, float* apack) {
    for (int r = 0; r < MR; ++r)
      for (int k = 0; k < kc; ++k)
        apack[k * MR + r] = r < mr ? x[std::size_t(m + r) * K + k0 + k] : 0.f;
  }

  // Copies w[k0 .. k0+kc)[n0 .. n0+nc) into panels of PANEL columns, zero-padded on the right.
  // Row by row: each row of the block is read left to right in one go (nc floats in a row, so
  // the hardware prefetcher sees a stream), then dealt out to the panels.
  static void pack(const float* w, int N, int k0, int kc, int n0, int nc, float* packed) {
    for (int k = 0; k < kc; ++k) {
      const float* src = w + std::size_t(k0 + k) * N + n0;
      for (int p = 0; p < nc; p += PANEL) {
        const int width = std::min(PANEL, nc - p);
        float* d = packed + std::size_t(p) * kc + std::size_t(k) * PANEL;
        if (width == PANEL) {
          for (int j = 0; j < NR; ++j) batch::load_unaligned(src + p + j * W).store_aligned(d + j * W);
        } else {
          std::fill(std::copy(src + p, src + p + width, d), d + PANEL, 0.f);
        }
      }
    }
  }

  // Few rows: for each k, y[m][n0..] += x[m][k] * w[k][n0..], w read once, row by row.
  static void stream_rows(const float* x, const float* w, float* y, int m_begin, int m_end,
                          int K, int N) {
    constexpr int NB = 1024;  // columns of y kept hot in L1/L2 while all of k goes by
    for (int m = m_begin; m < m_end; ++m) std::fill(y + std::size_t(m) * N, y + std::size_t(m + 1) * N, 0.f);
    for (int n0 = 0; n0 < N; n0 += NB) {
      const int n1 = std::min(N, n0 + NB);
      for (int k = 0; k < K; ++k) {
        const float* wr = w + std::size_t(k) * N;
        for (int m = m_begin; m < m_end; ++m) {
          const float a = x[std::size_t(m) * K + k];
          const batch va(a);
          float* yr = y + std::size_t(m) * N;
          int n = n0;
          for (; n + W <= n1; n += W)
            madd(va, batch::load_unaligned(wr + n), batch::load_unaligned(yr + n)).store_unaligned(yr + n);
          for (; n < n1; ++n) yr[n] += a * wr[n];
        }
      }
    }
  }

  // y[m_begin..m_end)[n0..n0+nc) (+)= x's rows · one packed block of w, one MR-row micro-panel
  // of x at a time against every panel of the block. x's rows: packed (PACKED, apack k-major,
  // lda unused) or in place (a = x + k0, lda = K).
  template <bool PACKED>
  static void multiply_block(const float* a0, int lda, const float* packed, float* y, float* edge,
                             int m_begin, int m_end, int N, int k0, int kc, int n0, int nc) {
    for (int m = m_begin; m < m_end; m += MR) {
      const int mr = std::min(MR, m_end - m);
      const float* a = PACKED ? a0 + std::size_t(m - m_begin) * kc : a0 + std::size_t(m) * lda;
      for (int p = 0; p < nc; p += PANEL) {
        const float* panel = packed + std::size_t(p) * kc;
        float* c = y + std::size_t(m) * N + n0 + p;
        const int width = std::min(PANEL, nc - p);
        if (width == PANEL) {
          micro_rows<PACKED>(mr, a, lda, panel, kc, c, N, k0 > 0);
        } else {  // the right edge: through a full-width scratch block
          for (int r = 0; r < mr; ++r)
            std::copy(c + std::size_t(r) * N, c + std::size_t(r) * N + width, &edge[r * PANEL]);
          micro_rows<PACKED>(mr, a, lda, panel, kc, edge, PANEL, k0 > 0);
          for (int r = 0; r < mr; ++r)
            std::copy(&edge[r * PANEL], &edge[r * PANEL] + width, c + std::size_t(r) * N);
        }
      }
    }
  }

  static void rows(const float* x, const float* w, float* y, int m_begin, int m_end, int K, int N) {
    if (m_end <= m_begin || N == 0) return;
    if (m_end - m_begin < STREAM_ROWS || K == 0) return stream_rows(x, w, y, m_begin, m_end, K, N);
    thread_local std::vector<float, xsimd::aligned_allocator<float, 64>> packed, edge, apack;
    // Packing x's rows (pack_rows) pays when each packed micro-panel serves many panels of w.
    // With at most 4 panels (the default model's projections, the LM head at N 256) reading
    // x in place measured 10-23 % faster; with N >= 1024, 2-7 % slower.
    const bool pack_x = N > 4 * PANEL;
    const int padded_rows = (m_end - m_begin + MR - 1) / MR * MR;
    packed.resize(std::size_t(KC) * NC);
    if (pack_x) apack.resize(std::size_t(KC) * padded_rows);
    edge.resize(std::size_t(MR) * PANEL);
    // Loop order (BLIS's, minus one level): a KC-deep slice of every row of x is packed once
    // if pack_x (apack, read from L2 one MR-row micro-panel at a time); each block of w
    // (KC x NC) is packed once per call and stays in L2 while all rows of x go by it.
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      if (pack_x)
        for (int m = m_begin; m < m_end; m += MR)
          pack_rows(x, K, m, std::min(MR, m_end - m), k0, kc,
                    apack.data() + std::size_t(m - m_begin) * kc);
      for (int n0 = 0; n0 < N; n0 += NC) {
        const int nc = std::min(NC, N - n0);
        pack(w, N, k0, kc, n0, nc, packed.data());
        if (pack_x)
          multiply_block<true>(apack.data(), 0, packed.data(), y, edge.data(), m_begin, m_end, N,
                               k0, kc, n0, nc);
        else
          multiply_block<false>(x + k0, K, packed.data(), y, edge.data(), m_begin, m_end, N, k0,
                                kc, n0, nc);
      }
    }
  }
};

template <class Arch>
void matmul_rows(const float* x, const float* w, float* y, int m_begin, int m_end, int K, int N) {
  Gemm<Arch>::rows(x, w, y, m_begin, m_end, K, N);
}

}  // namespace cblab::kernels::simd

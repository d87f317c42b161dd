// madd.hpp — a*b + c on one batch, the one operation every kernel loop is built from.
//
// On x86 this is xsimd::fma: one FMA instruction with AVX2 and AVX-512, a multiply then an add
// with SSE2. simd128 has no fused multiply-add, so plain wasm also multiplies then adds, which
// costs a second instruction and a register for the product. wasm_relaxed is simd128 plus the
// relaxed SIMD proposal's f32x4.relaxed_madd: V8 turns it into one FMA on x86 (and may round
// once or twice, which is what "relaxed" allows). Only wasm_relaxed.cpp is built with it.
#pragma once
#include <xsimd/xsimd.hpp>
#if defined(__wasm_relaxed_simd__)
#include <wasm_simd128.h>
#endif

namespace cblab::kernels::simd {

template <class B>
inline B madd(const B& a, const B& b, const B& c) {
  return xsimd::fma(a, b, c);
}

// c - a*b
template <class B>
inline B nmadd(const B& a, const B& b, const B& c) {
  return xsimd::fnma(a, b, c);
}

#if defined(__wasm_relaxed_simd__)
// An xsimd arch like the ones xsimd derives for itself (fma3<avx2> from avx2): every xsimd
// kernel of simd128 applies; only madd and nmadd below differ. A distinct type also keeps its
// template instances apart from the plain wasm ones in the same program.
struct wasm_relaxed : xsimd::wasm {
  static constexpr char const* name() noexcept { return "wasm+relaxed"; }
};
}  // namespace cblab::kernels::simd

namespace xsimd::types {
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(cblab::kernels::simd::wasm_relaxed, wasm);
}

namespace cblab::kernels::simd {

inline xsimd::batch<float, wasm_relaxed> madd(const xsimd::batch<float, wasm_relaxed>& a,
                                              const xsimd::batch<float, wasm_relaxed>& b,
                                              const xsimd::batch<float, wasm_relaxed>& c) {
  return wasm_f32x4_relaxed_madd(a, b, c);
}

inline xsimd::batch<float, wasm_relaxed> nmadd(const xsimd::batch<float, wasm_relaxed>& a,
                                               const xsimd::batch<float, wasm_relaxed>& b,
                                               const xsimd::batch<float, wasm_relaxed>& c) {
  return wasm_f32x4_relaxed_nmadd(a, b, c);
}
#endif

}  // namespace cblab::kernels::simd

// dot.hpp — the dot product, written once as a template on the xsimd arch.
// Included only by the per-arch files; never by a module interface (xsimd's intrinsics are
// static inline, so instantiation must happen where the arch's -m flags are on).
#pragma once
#include <cstddef>
#include <xsimd/xsimd.hpp>
#include "madd.hpp"

namespace cblab::kernels::simd {

// a: (n), b: (n). Four independent accumulators hide the FMA latency (about 4 cycles, so
// one chain would leave the unit idle most of the time); the tail of n % width is scalar.
template <class Arch>
float dot(const float* a, const float* b, std::size_t n) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t W = batch::size;
  batch acc0(0.f), acc1(0.f), acc2(0.f), acc3(0.f);
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    acc0 = madd(batch::load_unaligned(a + i), batch::load_unaligned(b + i), acc0);
    acc1 = madd(batch::load_unaligned(a + i + W), batch::load_unaligned(b + i + W), acc1);
    acc2 = madd(batch::load_unaligned(a + i + 2 * W), batch::load_unaligned(b + i + 2 * W), acc2);
    acc3 = madd(batch::load_unaligned(a + i + 3 * W), batch::load_unaligned(b + i + 3 * W), acc3);
  }
  for (; i + W <= n; i += W)
    acc0 = madd(batch::load_unaligned(a + i), batch::load_unaligned(b + i), acc0);
  float sum = xsimd::reduce_add((acc0 + acc1) + (acc2 + acc3));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace cblab::kernels::simd

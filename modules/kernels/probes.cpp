// probes.cpp — the machine probes on the active arch (SIMD in arch/probes.hpp); the "scalar"
// arch runs the same loops on single floats.
module;
#include <span>
#include "arch/kernel_table.hpp"
module cblab.kernels;

namespace cblab::kernels {

float probe_stream_read(std::span<const float> data) {
  if (const auto kernel = detail::active().stream_read) return kernel(data.data(), data.size());
  float sum = 0.f;
  for (float x : data) sum += x;
  return sum;
}

FmaProbe probe_fma(long long iterations) {
  const detail::KernelTable& t = detail::active();
  if (t.fma_chains)
    return {.flops = 2.0 * t.float_lanes * t.fma_chains_per_iteration * double(iterations),
            .sink = t.fma_chains(iterations, 1.f)};
  constexpr int chains = 12;
  float acc[chains];
  for (int c = 0; c < chains; ++c) acc[c] = 1.f + 0.001f * c;
  for (long long it = 0; it < iterations; ++it)
    for (float& a : acc) a = a * 0.9999999f + 1e-7f;
  float sink = 0.f;
  for (float a : acc) sink += a;
  return {.flops = 2.0 * chains * double(iterations), .sink = sink};
}

}  // namespace cblab::kernels

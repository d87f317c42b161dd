// probes.cpp — the machine probes on the active arch (SIMD in arch/probes.hpp); the "scalar"
// arch runs the same loops on single floats.
module;
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <format>
#include <span>
#include <stdexcept>
#include "arch/kernel_table.hpp"
module cblab.kernels;

namespace cblab::kernels {

float probe_stream_read(std::span<const float> data) {
  if (const auto kernel = detail::active().stream_read) return kernel(data.data(), data.size());
  float sum = 0.f;
  for (float x : data) sum += x;
  return sum;
}

float probe_paged_read(std::span<const float> k_cache, std::span<const float> v_cache,
                       std::span<const std::int32_t> blocks, std::size_t block_floats, bool prefetch_next) {
  const std::size_t pool_blocks = block_floats == 0 ? 0 : std::min(k_cache.size(), v_cache.size()) / block_floats;
  for (std::size_t i = 0; i < blocks.size(); ++i)
    if (blocks[i] < 0 || std::size_t(blocks[i]) >= pool_blocks)
      throw std::invalid_argument(
          pool_blocks == 0
              ? std::format("probe_paged_read: blocks[{}] = {}, but the pool holds no block of {} floats", i,
                            blocks[i], block_floats)
              : std::format("probe_paged_read: blocks[{}] = {} is outside the pool: 0 to {} allowed ({} blocks of {} floats)",
                            i, blocks[i], pool_blocks - 1, pool_blocks, block_floats));
  if (const auto kernel = detail::active().paged_read)
    return kernel(k_cache.data(), v_cache.data(), blocks.data(), blocks.size(), block_floats, prefetch_next);
  float sum = 0.f;
  for (const std::int32_t b : blocks)
    for (const std::span<const float> cache : {k_cache, v_cache})
      for (float x : cache.subspan(std::size_t(b) * block_floats, block_floats)) sum += x;
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

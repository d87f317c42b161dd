// probes.hpp — tiny loops that measure the machine rather than compute anything useful: the
// limits the benchmark compares every kernel with.
#pragma once
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>
#include "madd.hpp"

namespace cblab::kernels::simd {

// Streams through data once: sum of all floats. 8 independent accumulators so the adds never
// wait on each other and the loads (the thing measured) set the pace.
template <class Arch>
float stream_read(const float* data, std::size_t n) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t W = batch::size;
  batch acc[8];
  for (batch& a : acc) a = batch(0.f);
  std::size_t i = 0;
  for (; i + 8 * W <= n; i += 8 * W)
    for (std::size_t c = 0; c < 8; ++c) acc[c] += batch::load_unaligned(data + i + c * W);
  batch total(0.f);
  for (const batch& a : acc) total += a;
  float sum = xsimd::reduce_add(total);
  for (; i < n; ++i) sum += data[i];
  return sum;
}

// Reads a paged KV pool the way decode attention must: block by block in block-table order,
// each block's K rows then its V rows (block_floats floats each), summing them as stream_read
// does. Blocks sit at random places in the pool, so the hardware prefetcher, which follows a
// stream within a page, starts over at every block; with prefetch_next the next block's lines
// are asked for before this one is read. Timed: how fast this machine reads this layout at all.
template <class Arch>
float paged_read(const float* k, const float* v, const std::int32_t* blocks, std::size_t num_blocks,
                 std::size_t block_floats, bool prefetch_next) {
  float sum = 0.f;
  for (std::size_t b = 0; b < num_blocks; ++b) {
    if (prefetch_next && b + 1 < num_blocks)
      for (const float* cache : {k, v}) {
        const float* next = cache + std::size_t(blocks[b + 1]) * block_floats;
        for (std::size_t f = 0; f < block_floats; f += 64 / sizeof(float)) __builtin_prefetch(next + f);
      }
    sum += stream_read<Arch>(k + std::size_t(blocks[b]) * block_floats, block_floats);
    sum += stream_read<Arch>(v + std::size_t(blocks[b]) * block_floats, block_floats);
  }
  return sum;
}

// iterations x FMA_CHAINS fused multiply-adds on W lanes: 2 * W * FMA_CHAINS * iterations
// flops. The chains are independent, so several FMAs are in flight at once: with a latency of
// 4 cycles and 2 FMA units, at least 8 chains keep the units busy; 12 leaves room.
inline constexpr int FMA_CHAINS = 12;

template <class Arch>
float fma_chains(long long iterations, float seed) {
  using batch = xsimd::batch<float, Arch>;
  batch acc[FMA_CHAINS];
  for (int c = 0; c < FMA_CHAINS; ++c) acc[c] = batch(seed + 0.001f * c);
  const batch mul(0.9999999f), add(1e-7f);  // stays near seed: no overflow, no denormals
  for (long long it = 0; it < iterations; ++it)
    for (int c = 0; c < FMA_CHAINS; ++c) acc[c] = madd(acc[c], mul, add);
  batch total(0.f);
  for (const batch& a : acc) total += a;
  return xsimd::reduce_add(total);
}


}  // namespace cblab::kernels::simd

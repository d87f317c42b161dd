// make_table.hpp — fills a KernelTable with every kernel instantiated for one arch.
// Each per-arch file is two lines: include this, define its table.
#pragma once
#include "attention.hpp"
#include "dot.hpp"
#include "elementwise.hpp"
#include "kernel_table.hpp"
#include "matmul.hpp"
#include "probes.hpp"

namespace cblab::kernels::detail {

template <class Arch>
constexpr KernelTable make_table(const char* name) {
  return KernelTable{
      .name = name,
      .dot = &simd::dot<Arch>,
      .attention_tile = &simd::attention_tile<Arch>,
      .matmul_rows = &simd::matmul_rows<Arch>,
      .rope = &simd::rope<Arch>,
      .rmsnorm = &simd::rmsnorm<Arch>,
      .softmax = &simd::softmax<Arch>,
      .argmax = &simd::argmax<Arch>,
      .stream_read = &simd::stream_read<Arch>,
      .paged_read = &simd::paged_read<Arch>,
      .fma_chains = &simd::fma_chains<Arch>,
      .fma_chains_per_iteration = simd::FMA_CHAINS,
      .float_lanes = int(xsimd::batch<float, Arch>::size),
  };
}

}  // namespace cblab::kernels::detail

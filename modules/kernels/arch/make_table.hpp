// make_table.hpp — fills a KernelTable with every kernel instantiated for one arch.
// Each per-arch file is two lines: include this, define its table.
#pragma once
#include "dot.hpp"
#include "kernel_table.hpp"

namespace cblab::kernels::detail {

template <class Arch>
constexpr KernelTable make_table(const char* name) {
  return KernelTable{
      .name = name,
      .dot = &simd::dot<Arch>,
  };
}

}  // namespace cblab::kernels::detail

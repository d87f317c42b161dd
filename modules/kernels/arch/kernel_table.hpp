// kernel_table.hpp — the seam between the module world and the per-ISA object files.
//
// Each per-arch file (sse2.cpp, avx2.cpp, avx512.cpp, wasm.cpp) fills one KernelTable with
// the kernel templates instantiated for its xsimd arch. The dispatcher (kernels/dispatch.cpp)
// picks one table at run time. Plain C++ declarations, attached to the global module, so both
// the non-module arch files and the module units agree on them.
#pragma once
#include <cstddef>

namespace cblab::kernels::detail {

struct KernelTable {
  const char* name;  // xsimd arch name: "avx512f", "fma3+avx2", "sse2", "wasm"
  // a: (n), b: (n) -> sum_i a[i] * b[i]
  float (*dot)(const float* a, const float* b, std::size_t n);
};

#if defined(__EMSCRIPTEN__)
extern const KernelTable wasm_table;
#else
extern const KernelTable sse2_table;
extern const KernelTable avx2_table;
extern const KernelTable avx512_table;
#endif

}  // namespace cblab::kernels::detail

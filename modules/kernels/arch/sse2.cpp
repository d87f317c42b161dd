// sse2.cpp — every kernel instantiated for xsimd's sse2 arch (the x86-64 baseline: no extra flags).
#include "make_table.hpp"

namespace cblab::kernels::detail {
extern const KernelTable sse2_table = make_table<xsimd::sse2>("sse2");
}

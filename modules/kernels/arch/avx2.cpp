// avx2.cpp — every kernel instantiated for xsimd's fma3<avx2> arch (compiled with -mavx2 -mfma).
#include "make_table.hpp"

namespace cblab::kernels::detail {
extern const KernelTable avx2_table = make_table<xsimd::fma3<xsimd::avx2>>("fma3+avx2");
}

// avx512.cpp — every kernel instantiated for xsimd's avx512f arch (compiled with -mavx512f and friends).
#include "make_table.hpp"

namespace cblab::kernels::detail {
extern const KernelTable avx512_table = make_table<xsimd::avx512f>("avx512f");
}

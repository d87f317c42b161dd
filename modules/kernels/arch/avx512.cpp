// avx512.cpp — every kernel instantiated for AVX-512 (compiled with -mavx512f and friends).
// The table is named "avx512f", the ISA family; it is instantiated for xsimd's avx512dq arch
// because the attention score reduction uses its haddp (a W-way horizontal add in one shuffle
// tree), which xsimd implements from DQ on. Every AVX-512 server CPU since Skylake-SP has DQ;
// the dispatcher checks for it.
#include "make_table.hpp"

namespace cblab::kernels::detail {
extern const KernelTable avx512_table = make_table<xsimd::avx512dq>("avx512f");
}

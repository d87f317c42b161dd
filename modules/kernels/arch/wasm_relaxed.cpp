// wasm_relaxed.cpp — every kernel instantiated for simd128 with relaxed SIMD's multiply-add
// (built with -mrelaxed-simd; linked only into programs that run where relaxed SIMD does).
#include "make_table.hpp"

namespace cblab::kernels::detail {
extern const KernelTable wasm_relaxed_table = make_table<simd::wasm_relaxed>("wasm+relaxed");
}

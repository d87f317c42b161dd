// wasm.cpp — every kernel instantiated for xsimd's wasm arch (the whole wasm build has -msimd128).
#include "make_table.hpp"

namespace cblab::kernels::detail {
extern const KernelTable wasm_table = make_table<xsimd::wasm>("wasm");
}

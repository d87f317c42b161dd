// cblab.kernels:dispatch — which SIMD arch the kernels run on.
//
// Natively the best arch the CPU supports is chosen at first use (avx512f > fma3+avx2 > sse2);
// the environment variable CBLAB_ARCH or set_arch() force one, so tests and benchmarks can
// compare every arch with "scalar", the reference loops. The wasm build has "wasm" (simd128)
// and "scalar"; the CLI and the tests also have "wasm+relaxed" (simd128 with relaxed SIMD's
// fused multiply-add), which the page leaves out so that it loads in every browser.
module;
#include <string_view>
#include <vector>
#include "arch/kernel_table.hpp"
export module cblab.kernels:dispatch;

export namespace cblab::kernels {

// The arch the kernels run on now.
std::string_view arch();

// Every arch this machine can run, best first; "scalar" (the references) is always last.
std::vector<std::string_view> available_archs();

// Force an arch by name. Throws std::invalid_argument naming the value and the choices.
void set_arch(std::string_view name);

}  // namespace cblab::kernels

namespace cblab::kernels::detail {
// The table of the active arch (module-internal).
const KernelTable& active();
}  // namespace cblab::kernels::detail

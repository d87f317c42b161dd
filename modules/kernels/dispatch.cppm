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

// Whether decode over big slots (all KV heads of a key take 2 KiB or more) asks for the next
// slice of keys (a software prefetch) while it computes the current one. That helps where the
// hardware prefetcher does not follow the walk on its own and hurts where it does: reading big
// slots slice by slice with it was 1.5x on Intel Cascade Lake, and on AMD Zen 4 the same walk is
// 1.2x faster without it (docs/kernels.md). Chosen at first use from the CPU's vendor (AMD and
// Hygon: no; the wasm kernels never ask); set_decode_prefetch() forces it. Same bits either way.
bool decode_prefetch();
void set_decode_prefetch(bool on);
// The reason for the current choice, for `cblab info` and the bench.
std::string_view decode_prefetch_reason();

}  // namespace cblab::kernels

namespace cblab::kernels::detail {
// The table of the active arch (module-internal).
const KernelTable& active();
}  // namespace cblab::kernels::detail

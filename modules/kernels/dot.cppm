// cblab.kernels:dot — the dot product: the smallest real kernel, and the pattern every other
// kernel follows (a scalar reference beside a SIMD version run through the dispatcher).
module;
#include <span>
export module cblab.kernels:dot;

export namespace cblab::kernels {

// a: (n), b: (n) -> sum_i a[i] * b[i], in order, one float accumulator: the oracle.
float dot_reference(std::span<const float> a, std::span<const float> b);

// The same on the active arch. Summation order differs (several SIMD accumulators), so results
// agree with the reference to float rounding, not bit for bit.
// Throws std::invalid_argument if the lengths differ.
float dot(std::span<const float> a, std::span<const float> b);

}  // namespace cblab::kernels

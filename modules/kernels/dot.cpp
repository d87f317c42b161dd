module;
#include <format>
#include <span>
#include <stdexcept>
module cblab.kernels;

namespace cblab::kernels {

float dot_reference(std::span<const float> a, std::span<const float> b) {
  float sum = 0.f;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) sum += a[i] * b[i];
  return sum;
}

float dot(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size())
    throw std::invalid_argument(std::format("dot: a has {} elements and b has {}; they must match",
                                            a.size(), b.size()));
  return detail::active().dot(a.data(), b.data(), a.size());
}

}  // namespace cblab::kernels

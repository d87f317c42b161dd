// kernel_testing.hpp — helpers shared by the kernel tests: seeded random tensors and a guard
// that restores the active arch.
#pragma once
#include <random>
#include <string>
#include <vector>
import cblab;

namespace kernel_testing {

// n floats uniform in [-1, 1), the same for the same seed on every platform (mt19937 and a
// float distribution computed from its 32-bit output).
inline std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Restores the arch in use when a test section ends.
struct ArchGuard {
  std::string saved{cblab::kernels::arch()};
  ~ArchGuard() { cblab::kernels::set_arch(saved); }
};

}  // namespace kernel_testing

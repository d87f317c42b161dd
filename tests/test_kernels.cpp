// Kernels against their scalar references, on every arch this machine can run.
#include <catch_amalgamated.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>
#include "kernel_testing.hpp"
import cblab;

namespace ck = cblab::kernels;

using kernel_testing::ArchGuard;
using kernel_testing::random_vector;

TEST_CASE("dot equals the scalar reference on every arch", "[kernels]") {
  ArchGuard guard;
  for (std::string_view arch : ck::available_archs()) {
    ck::set_arch(arch);
    for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 1000u, 4096u}) {
      const auto a = random_vector(n, 1 + n), b = random_vector(n, 2 + n);
      const float want = ck::dot_reference(a, b);
      const float got = ck::dot(a, b);
      // Tolerance: both sum n products of magnitude <= 1 in float; reordering the sum changes
      // the result by at most about n * eps * sum|a_i b_i|. We bound by that, with eps = 2^-23.
      float abs_sum = 0.f;
      for (std::size_t i = 0; i < n; ++i) abs_sum += std::fabs(a[i] * b[i]);
      const float tol = static_cast<float>(n + 1) * 1.2e-7f * abs_sum + 1e-7f;
      INFO("arch " << arch << ", n " << n << ": reference " << want << ", simd " << got);
      CHECK(std::fabs(got - want) <= tol);
    }
  }
}

TEST_CASE("the dispatcher names a runnable arch and refuses unknown ones", "[kernels]") {
  ArchGuard guard;
  const auto archs = ck::available_archs();
  REQUIRE(!archs.empty());
  CHECK(archs.back() == "scalar");
#if defined(__EMSCRIPTEN__)
  CHECK(archs.front() == "wasm");
#endif
  CHECK(std::find(archs.begin(), archs.end(), ck::arch()) != archs.end());
  CHECK_THROWS_WITH(ck::set_arch("avx9000"), Catch::Matchers::ContainsSubstring("avx9000") &&
                                                 Catch::Matchers::ContainsSubstring("choices"));
}

TEST_CASE("dot rejects spans of different lengths", "[kernels]") {
  const std::vector<float> a(3, 1.f), b(4, 1.f);
  CHECK_THROWS_WITH(ck::dot(a, b), Catch::Matchers::ContainsSubstring("3") &&
                                       Catch::Matchers::ContainsSubstring("4"));
}

TEST_CASE("the library knows its version", "[kernels]") {
  CHECK(!cblab::version.empty());
}

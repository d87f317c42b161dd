// Kernels against their scalar references, on every arch this machine can run.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>
#include "kernel_testing.hpp"
import cblab;

namespace test_kernels {  // this file's names: the test sources build as unity batches

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
  // The test program links the relaxed SIMD kernels (the web page does not).
  REQUIRE(archs.size() == 3);
  CHECK(archs[0] == "wasm+relaxed");
  CHECK(archs[1] == "wasm");
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

// [SECTION] projections and elementwise kernels against their references, on every arch.

namespace {
// max |got - want| / bound, where bound[i] is the error allowed for element i.
bool within(const std::vector<float>& got, const std::vector<float>& want,
            const std::vector<float>& bound, double& worst) {
  worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, double(std::fabs(got[i] - want[i])) / double(bound[i]));
  return worst <= 1.0;
}
}  // namespace

TEST_CASE("matmul equals the reference on every arch and shape", "[kernels]") {
  // Tolerance, per element: K * 2^-23 * sum_k |x[m][k] w[k][n]| (+1e-30). Both sum the K
  // products in the same order; the SIMD kernel fuses each multiply-add (one rounding instead
  // of two), so each of the K steps may differ by an ulp of the running sum.
  ArchGuard guard;
  const int saved_threads = ck::num_threads();
  struct Shape { int M, K, N; };
  // Edges (empty, 1x1x1), the streaming path (M < 4), panel edges (N not a multiple of the
  // panel width), several K blocks (K > 256), several N blocks, M not a multiple of 8, and
  // many MR-row micro-panels of x in one packed slice (M = 300 on one thread). On 2 threads
  // only 33 x 513 x 600 has the work (>= 16 MFLOP) to be split in two parts.
  for (Shape s : {Shape{0, 4, 4}, {1, 1, 1}, {1, 64, 64}, {3, 65, 47}, {8, 256, 48},
                  {17, 300, 100}, {64, 64, 256}, {33, 513, 600}, {4, 0, 5}, {300, 260, 70}})
    for (int threads : {1, 2}) {
      const auto x = random_vector(std::size_t(s.M) * s.K, s.M + 1),
                 w = random_vector(std::size_t(s.K) * s.N, s.N + 2);
      std::vector<float> want(std::size_t(s.M) * s.N), bound(want.size());
      ck::matmul_reference(x, w, want, s.M, s.K, s.N);
      std::vector<float> abs_x(x.size()), abs_w(w.size());
      std::transform(x.begin(), x.end(), abs_x.begin(), [](float v) { return std::fabs(v); });
      std::transform(w.begin(), w.end(), abs_w.begin(), [](float v) { return std::fabs(v); });
      ck::matmul_reference(abs_x, abs_w, bound, s.M, s.K, s.N);
      for (float& b : bound) b = float(s.K) * 1.2e-7f * b + 1e-30f;
      ck::set_num_threads(threads);
      for (std::string_view arch : ck::available_archs()) {
        ck::set_arch(arch);
        std::vector<float> got(want.size(), -7.f);
        ck::matmul(x, w, got, s.M, s.K, s.N);
        double worst = 0;
        const bool ok = within(got, want, bound, worst);
        INFO(arch << ", " << threads << " threads, M " << s.M << " K " << s.K << " N " << s.N
                  << ": worst error / tolerance " << worst << (ok ? " OK" : " NOT OK"));
        CHECK(ok);
      }
    }
  ck::set_num_threads(saved_threads);
}

TEST_CASE("rope, rmsnorm and softmax equal their references on every arch", "[kernels]") {
  // rope: 1e-6 absolute on |x| <= 1 (cos/sin are computed the same way; only the rotation's
  // rounding differs: a fused multiply-add, about 1 ulp). rmsnorm: 1e-5 relative (the sum of
  // squares in W-lane partial sums). softmax: 1e-6 absolute on weights <= 1 (xsimd's exp vs
  // std::exp, about 1 ulp each, and 1/sum multiplied instead of divided).
  ArchGuard guard;
  const float inf = std::numeric_limits<float>::infinity();
  for (int D : {2, 16, 64, 80, 128}) {
    const int T = 5, H = 3;
    const auto x = random_vector(std::size_t(T) * H * D, D);
    const std::vector<int32_t> positions = {0, 1, 17, 513, 4095};
    std::vector<float> want = x;
    ck::rope_reference(want, positions, H, D);
    const auto weight = random_vector(D, D + 1);
    std::vector<float> norm_want(x.size());
    ck::rmsnorm_reference(x, weight, norm_want, T * H, D);
    std::vector<float> soft_want = x;
    soft_want[3] = -inf;                                       // one masked entry
    std::fill(soft_want.begin() + D, soft_want.begin() + 2 * D, -inf);  // a fully masked row
    std::vector<float> soft_in = soft_want;
    ck::softmax_reference(soft_want, T * H, D);
    for (std::string_view arch : ck::available_archs()) {
      ck::set_arch(arch);
      INFO(arch << ", D " << D);
      std::vector<float> got = x;
      ck::rope(got, positions, H, D);
      double worst = 0;
      CHECK(within(got, want, std::vector<float>(x.size(), 1e-6f), worst));
      std::vector<float> norm(x.size()), norm_bound(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) norm_bound[i] = 1e-5f * std::fabs(norm_want[i]) + 1e-30f;
      ck::rmsnorm(x, weight, norm, T * H, D);
      CHECK(within(norm, norm_want, norm_bound, worst));
      std::vector<float> soft = soft_in;
      ck::softmax(soft, T * H, D);
      CHECK(within(soft, soft_want, std::vector<float>(x.size(), 1e-6f), worst));
      CHECK(soft[3] == 0.f);
      CHECK(std::all_of(soft.begin() + D, soft.begin() + 2 * D, [](float v) { return v == 0.f; }));
    }
  }
}

TEST_CASE("argmax equals the reference, first of equal maxima, on every arch", "[kernels]") {
  ArchGuard guard;
  for (int n : {1, 3, 16, 17, 1000, 32000}) {
    auto logits = random_vector(n, n);
    const int planted = (n * 7) / 10;
    logits[planted] = 5.f;
    if (n > 3) logits[n - 1] = 5.f;  // a tie later on: the first one must win
    for (std::string_view arch : ck::available_archs()) {
      ck::set_arch(arch);
      INFO(arch << ", n " << n);
      CHECK(ck::argmax(logits) == ck::argmax_reference(logits));
      CHECK(ck::argmax(logits) == planted);
    }
  }
  CHECK_THROWS_WITH(ck::argmax({}), Catch::Matchers::ContainsSubstring("logits has 0 elements"));
}

TEST_CASE("the thread count is configurable and checked", "[kernels]") {
  const int saved = ck::num_threads();
  ck::set_num_threads(2);
#if defined(__EMSCRIPTEN__)
  CHECK(ck::num_threads() == 1);  // no threads in the wasm build
#else
  CHECK(ck::num_threads() == 2);
#endif
  ck::set_num_threads(saved);
  CHECK_THROWS_WITH(ck::set_num_threads(0), Catch::Matchers::ContainsSubstring("n is 0"));
}

// The benchmark's probes compute nothing useful, but they must read what they claim to read.
// Small whole numbers make every float sum exact, in any order, on every arch.
TEST_CASE("the read probes sum exactly what they read; a block outside the pool is refused", "[kernels]") {
  ArchGuard guard;
  constexpr std::size_t block_floats = 48, pool_blocks = 10;  // 48: three AVX-512 vectors, not a multiple of 32
  std::vector<float> k(pool_blocks * block_floats), v(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = float(i % 7), v[i] = float(i % 5);
  const std::vector<std::int32_t> blocks{3, 7, 0, 9, 3};
  double want = 0;
  for (std::int32_t b : blocks)
    for (std::size_t f = 0; f < block_floats; ++f) want += k[b * block_floats + f] + v[b * block_floats + f];
  double want_stream = 0;
  for (float x : k) want_stream += x;
  for (std::string_view arch : ck::available_archs()) {
    ck::set_arch(arch);
    INFO(arch);
    CHECK(ck::probe_stream_read(k) == float(want_stream));
    CHECK(ck::probe_paged_read(k, v, blocks, block_floats, false) == float(want));
    CHECK(ck::probe_paged_read(k, v, blocks, block_floats, true) == float(want));
    CHECK(ck::probe_paged_read(k, v, {}, block_floats, true) == 0.f);
  }
  const std::vector<std::int32_t> outside{1, 10};
  CHECK_THROWS_WITH(ck::probe_paged_read(k, v, outside, block_floats, false),
                    Catch::Matchers::ContainsSubstring("blocks[1] = 10 is outside the pool: 0 to 9 allowed"));
  // The whole message, as docs/errors.md (K5) gives it; and a pool too small for one block.
  CHECK_THROWS_WITH(ck::probe_paged_read(k, v, outside, block_floats, false),
                    "probe_paged_read: blocks[1] = 10 is outside the pool: 0 to 9 allowed (10 blocks of 48 floats)");
  const std::vector<float> tiny(block_floats - 1);
  const std::vector<std::int32_t> first{0};
  CHECK_THROWS_WITH(ck::probe_paged_read(tiny, tiny, first, block_floats, false),
                    "probe_paged_read: blocks[0] = 0, but the pool holds no block of 48 floats");
  const std::vector<std::int32_t> negative{-1};
  CHECK_THROWS_WITH(ck::probe_paged_read(k, v, negative, block_floats, false),
                    Catch::Matchers::ContainsSubstring("blocks[0] = -1 is outside the pool"));
}

}  // namespace test_kernels

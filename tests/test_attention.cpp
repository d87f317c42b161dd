// The SIMD attention kernels against the scalar references, on every arch this machine runs.
//
// Tolerance: relative error max|simd - ref| / max|ref| <= 1e-5 (about 80 float ulps).
// Why: the kernels compute the same sums in another order (W-lane partial dot products, the
// online softmax rescaling by exp(m_old - m_new), the scale folded into Q, xsimd's exp instead
// of std::exp). Each step is exact to ~1 ulp; with D <= 128 terms per dot and scores of order
// 1 the outputs move by a few 1e-7 — we measured at most 7.8e-7 (printed on failure). A real
// bug — a missed key, a wrong block, a leaked mask, a wrong KV head — moves outputs by 1e-2
// or more, so 1e-5 cannot hide one.
// Peaky softmax (scale 6, scores up to about +-40) gets 1e-4: an absolute score error d moves
// a weight by the relative amount d, and d grows with |score| (|s| * 2^-24 per rounding, a
// few roundings), so we measured up to 1.04e-5 there.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>
#include "kernel_testing.hpp"
import cblab;

namespace test_attention {  // this file's names: the test sources build as unity batches

namespace ck = cblab::kernels;
using kernel_testing::ArchGuard;
using kernel_testing::random_vector;

namespace {

constexpr double kTolerance = 1e-5;
constexpr double kPeakyTolerance = 1e-4;

// max|got - want| / max|want| (0 when both are all zero).
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double max_diff = 0, max_ref = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(got[i] - want[i])));
    max_ref = std::max(max_ref, double(std::fabs(want[i])));
  }
  return max_ref == 0 ? max_diff : max_diff / max_ref;
}

// A random paged batch: requests with (new tokens, context), K/V written at random blocks.
struct PagedBatch {
  int H, Hkv, D, B;
  std::vector<int32_t> cu_seqlens_q{0}, context_lens, block_tables;
  int max_blocks = 0, num_blocks = 0;
  std::vector<float> q, k_cache, v_cache;

  PagedBatch(const std::vector<std::pair<int, int>>& requests, int H_, int Hkv_, int D_, int B_,
             unsigned seed)
      : H(H_), Hkv(Hkv_), D(D_), B(B_) {
    for (auto [q_len, C] : requests) max_blocks = std::max(max_blocks, (C + B - 1) / B);
    num_blocks = int(requests.size()) * max_blocks + 2;
    std::vector<int32_t> ids(num_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
    block_tables.assign(ids.begin(), ids.begin() + requests.size() * max_blocks);
    const std::size_t pool = std::size_t(num_blocks) * B * Hkv * D;
    k_cache = random_vector(pool, seed + 1);
    v_cache = random_vector(pool, seed + 2);
    for (auto [q_len, C] : requests) {
      cu_seqlens_q.push_back(cu_seqlens_q.back() + q_len);
      context_lens.push_back(C);
    }
    q = random_vector(std::size_t(cu_seqlens_q.back()) * H * D, seed + 3);
  }
  ck::PagedKV kv() const { return {k_cache, v_cache, num_blocks, B}; }
  ck::VarlenBatch batch() const { return {cu_seqlens_q, context_lens, block_tables, max_blocks}; }
};

// A mix of decode tokens and prefill chunks, with contexts around block boundaries.
std::vector<std::pair<int, int>> random_requests(int num_requests, int B, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::pair<int, int>> requests;
  for (int r = 0; r < num_requests; ++r) {
    const int boundary = B * (1 + int(rng() % 3));
    const int C = std::max(1, boundary + int(rng() % 3) - 1 + (r % 5 == 4 ? 70 : 0));  // B-1, B, B+1, ...
    const bool decode = rng() % 3 != 0;
    const int q_len = decode ? 1 : 1 + int(rng() % C);
    requests.push_back({q_len, C});
  }
  return requests;
}

}  // namespace

TEST_CASE("varlen paged attention equals the reference on every arch and shape", "[attention]") {
  ArchGuard guard;
  int config = 0;
  for (int D : {16, 64, 80, 128})
    for (int B : {1, 16, 32})
      for (int Hkv : {4, 2, 1}) {  // GQA ratios 1, 2, 4 with H = 4
        const int H = 4, num_requests = std::vector<int>{1, 3, 17, 64}[config % 4];
        const ck::AttentionShape shape{H, Hkv, D, 1.f / std::sqrt(float(D))};
        const PagedBatch pb(random_requests(num_requests, B, 100 + config), H, Hkv, D, B, 7 + config);
        ++config;
        std::vector<float> want(pb.q.size());
        ck::attention_varlen_paged_reference(pb.q, pb.kv(), pb.batch(), want, shape);
        for (std::string_view arch : ck::available_archs()) {
          ck::set_arch(arch);
          std::vector<float> got(pb.q.size(), -7.f);
          ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), got, shape);
          const double err = relative_error(got, want);
          INFO(arch << ": D " << D << ", B " << B << ", H/Hkv " << H / Hkv << ", requests "
                    << num_requests << ", tokens " << pb.cu_seqlens_q.back()
                    << ": relative error " << err << (err <= kTolerance ? " OK" : " NOT OK"));
          CHECK(err <= kTolerance);
        }
      }
}

TEST_CASE("varlen paged attention: empty batch, empty request, single token, peaky softmax",
          "[attention]") {
  ArchGuard guard;
  const int H = 8, Hkv = 2, D = 64, B = 16;
  // Nothing new for request 1; request 2 is a one-token prompt; request 3 a 200-token prompt
  // (four key tiles) whose softmax is made peaky by a large scale, so the online rescaling
  // by exp(m_old - m_new) is exercised hard.
  const PagedBatch pb({{3, 40}, {0, 9}, {1, 1}, {200, 200}}, H, Hkv, D, B, 3);
  for (float scale : {0.125f, 6.f}) {
    const ck::AttentionShape shape{H, Hkv, D, scale};
    std::vector<float> want(pb.q.size());
    ck::attention_varlen_paged_reference(pb.q, pb.kv(), pb.batch(), want, shape);
    for (std::string_view arch : ck::available_archs()) {
      ck::set_arch(arch);
      std::vector<float> got(pb.q.size());
      ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), got, shape);
      const double err = relative_error(got, want);
      const double tolerance = scale > 1.f ? kPeakyTolerance : kTolerance;
      INFO(arch << ", scale " << scale << ": relative error " << err);
      CHECK(err <= tolerance);
      const PagedBatch empty({}, H, Hkv, D, B, 1);
      std::vector<float> none;
      CHECK_NOTHROW(ck::attention_varlen_paged({}, empty.kv(), empty.batch(), none, shape));
    }
  }
}

TEST_CASE("paged decode equals the reference, contexts 0..200 across tiles and blocks",
          "[attention]") {
  ArchGuard guard;
  for (int C : {0, 1, 15, 16, 17, 63, 64, 65, 200}) {
    const int H = 8, Hkv = 2, D = 128, B = 16;
    const PagedBatch pb({{1, std::max(C, 1)}}, H, Hkv, D, B, 50 + C);
    const ck::AttentionShape shape{H, Hkv, D, 1.f / std::sqrt(float(D))};
    std::vector<float> want(H * D);
    ck::attention_paged_decode_reference(pb.q, pb.kv(), pb.block_tables, C, want, shape);
    for (std::string_view arch : ck::available_archs()) {
      ck::set_arch(arch);
      std::vector<float> got(H * D, -7.f);
      ck::attention_paged_decode(pb.q, pb.kv(), pb.block_tables, C, got, shape);
      const double err = relative_error(got, want);
      INFO(arch << ", context " << C << ": relative error " << err);
      CHECK(err <= kTolerance);
    }
  }
}

TEST_CASE("dense causal attention equals the reference", "[attention]") {
  ArchGuard guard;
  // D 36 is not a multiple of any vector width but 4: the transposed key tile's d tail.
  for (int S : {0, 1, 2, 17, 70, 130})
    for (int D : {16, 36, 80}) {
      const int H = 4, Hkv = 2;
      const ck::AttentionShape shape{H, Hkv, D, 1.f / std::sqrt(float(D))};
      const auto q = random_vector(std::size_t(S) * H * D, 1 + S),
                 k = random_vector(std::size_t(S) * Hkv * D, 2 + S),
                 v = random_vector(std::size_t(S) * Hkv * D, 3 + S);
      std::vector<float> want(q.size());
      ck::attention_dense_causal_reference(q, k, v, want, S, shape);
      for (std::string_view arch : ck::available_archs()) {
        ck::set_arch(arch);
        std::vector<float> got(q.size(), -7.f);
        ck::attention_dense_causal(q, k, v, got, S, shape);
        const double err = relative_error(got, want);
        INFO(arch << ", S " << S << ", D " << D << ": relative error " << err);
        CHECK(err <= kTolerance);
      }
    }
}

TEST_CASE("masked attention equals the reference, fully masked rows give zeros", "[attention]") {
  ArchGuard guard;
  for (int Tk : {0, 1, 5, 64, 100}) {
    const int T = 9, H = 4, Hkv = 1, D = 64;
    const ck::AttentionShape shape{H, Hkv, D, 0.125f};
    const auto q = random_vector(std::size_t(T) * H * D, 11),
               k = random_vector(std::size_t(Tk) * Hkv * D, 12),
               v = random_vector(std::size_t(Tk) * Hkv * D, 13);
    std::mt19937 rng(Tk);
    std::vector<std::uint8_t> mask(std::size_t(T) * Tk);
    for (auto& m : mask) m = rng() % 3 != 0;
    for (int j = 0; j < Tk; ++j) mask[std::size_t(4) * Tk + j] = 0;  // row 4 sees nothing
    std::vector<float> want(q.size());
    ck::attention_masked_reference(q, k, v, mask, want, T, Tk, shape);
    for (std::string_view arch : ck::available_archs()) {
      ck::set_arch(arch);
      std::vector<float> got(q.size(), -7.f);
      ck::attention_masked(q, k, v, mask, got, T, Tk, shape);
      const double err = relative_error(got, want);
      INFO(arch << ", Tk " << Tk << ": relative error " << err);
      CHECK(err <= kTolerance);
      CHECK(std::all_of(got.begin() + 4 * H * D, got.begin() + 5 * H * D,
                        [](float x) { return x == 0.f; }));
    }
  }
}

// A decode token over more than 1024 keys is split into partitions (flash-decoding), each its
// own work item, merged at the end by exact rescaling: the same 1e-5 as every other path (the
// merge adds one rescaling per partition, like one more key tile of the online softmax).
TEST_CASE("split decode over long contexts equals the reference", "[attention]") {
  ArchGuard guard;
  const int H = 8, Hkv = 2, D = 64, B = 16;
  const ck::AttentionShape shape{H, Hkv, D, 1.f / std::sqrt(float(D))};
  // Contexts around the partition size, uneven partitions, and a mixed batch.
  for (int C : {1023, 1024, 1025, 2048, 2500, 4097}) {
    const PagedBatch pb({{1, C}}, H, Hkv, D, B, 60 + C);
    std::vector<float> want(H * D);
    ck::attention_paged_decode_reference(pb.q, pb.kv(), pb.block_tables, C, want, shape);
    for (std::string_view arch : ck::available_archs()) {
      ck::set_arch(arch);
      std::vector<float> got(H * D, -7.f);
      ck::attention_paged_decode(pb.q, pb.kv(), pb.block_tables, C, got, shape);
      const double err = relative_error(got, want);
      INFO(arch << ", context " << C << ": relative error " << err);
      CHECK(err <= kTolerance);
    }
  }
  const PagedBatch pb({{1, 3000}, {5, 40}, {1, 17}, {1, 1500}, {70, 1100}}, H, Hkv, D, B, 5);
  std::vector<float> want(pb.q.size());
  ck::attention_varlen_paged_reference(pb.q, pb.kv(), pb.batch(), want, shape);
  for (std::string_view arch : ck::available_archs()) {
    ck::set_arch(arch);
    std::vector<float> got(pb.q.size(), -7.f);
    ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), got, shape);
    const double err = relative_error(got, want);
    INFO(arch << ", mixed batch with split decodes: relative error " << err);
    CHECK(err <= kTolerance);
  }
}

// Work items (query tiles, decode partitions) are cut the same way whatever the thread count,
// and each is computed the same way on whichever thread runs it: the bits cannot change.
TEST_CASE("attention gives the same bits on 1 and 2 threads", "[attention]") {
  ArchGuard guard;
  const int saved_threads = ck::num_threads();
  const int H = 8, Hkv = 2, D = 64, B = 16;
  auto requests = random_requests(24, B, 9);
  requests.push_back({1, 2600});    // a split decode
  requests.push_back({512, 512});   // a whole 512-token prompt: 16 query tiles
  const PagedBatch pb(requests, H, Hkv, D, B, 4);
  const ck::AttentionShape shape{H, Hkv, D, 0.125f};
  for (std::string_view arch : ck::available_archs()) {
    ck::set_arch(arch);
    std::vector<float> one(pb.q.size()), two(pb.q.size());
    ck::set_num_threads(1);
    ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), one, shape);
    ck::set_num_threads(2);
    ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), two, shape);
    INFO(arch);
    CHECK(one == two);
  }
  ck::set_num_threads(saved_threads);
}

// Asking for the next slice only changes when lines arrive, never a value: decode over big
// slots (4 KV heads of 128: 2 KiB a key, walked in slices) gives the same bits with it and
// without, on every arch.
TEST_CASE("decode gives the same bits with and without asking for the next slice", "[attention]") {
  ArchGuard guard;
  const bool saved = ck::decode_prefetch();
  const int H = 8, Hkv = 4, D = 128, B = 16;
  const PagedBatch pb({{1, 300}, {1, 1500}, {1, 17}, {5, 90}}, H, Hkv, D, B, 11);
  const ck::AttentionShape shape{H, Hkv, D, 1.f / std::sqrt(float(D))};
  std::vector<float> want(pb.q.size());
  ck::attention_varlen_paged_reference(pb.q, pb.kv(), pb.batch(), want, shape);
  for (std::string_view arch : ck::available_archs()) {
    ck::set_arch(arch);
    std::vector<float> with(pb.q.size()), without(pb.q.size());
    ck::set_decode_prefetch(true);
    ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), with, shape);
    ck::set_decode_prefetch(false);
    ck::attention_varlen_paged(pb.q, pb.kv(), pb.batch(), without, shape);
    INFO(arch << ": relative error " << relative_error(with, want));
    CHECK(with == without);
    CHECK(relative_error(with, want) <= kTolerance);
  }
  ck::set_decode_prefetch(saved);
  CHECK(ck::decode_prefetch() == saved);
}

TEST_CASE("the dispatched attention checks its arguments like the reference", "[attention]") {
  const ck::AttentionShape shape{4, 2, 16, 0.25f};
  std::vector<float> out(3);
  CHECK_THROWS_WITH(ck::attention_dense_causal(std::vector<float>(4 * 16), std::vector<float>(2 * 16),
                                               std::vector<float>(2 * 16), out, 1, shape),
                    Catch::Matchers::ContainsSubstring("attention_dense_causal: out has 3 elements, expected 64"));
}

}  // namespace test_attention

// The scalar references on cases small enough to work out by hand, plus the identities that tie
// them together (paged decode = last row of dense causal, varlen paged = each request's dense
// rows). Everything else in cblab.kernels is tested against these, so these are tested against
// arithmetic.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>
#include "kernel_testing.hpp"
import cblab;

namespace test_reference {  // this file's names: the test sources build as unity batches

namespace ck = cblab::kernels;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinAbs;

namespace {
using kernel_testing::random_vector;

// Hand-made keys for head_dim 2, scale 1 and the query (1, 0): key (s, 0) scores exactly s.
// With scores 0, ln 2, ln 5 the softmax weights are 1/8, 2/8, 5/8.
const float ln2 = std::log(2.f), ln5 = std::log(5.f);
}  // namespace

TEST_CASE("dense causal attention over 1, 2 and 3 keys, by hand", "[reference]") {
  const ck::AttentionShape shape{.num_heads = 1, .num_kv_heads = 1, .head_dim = 2, .scale = 1.f};
  const std::vector<float> q = {1, 0, 1, 0, 1, 0};          // (S=3, H=1, D=2)
  const std::vector<float> k = {0, 0, ln2, 0, ln5, 0};      // scores 0, ln 2, ln 5
  const std::vector<float> v = {8, 0, 0, 8, 8, 8};
  std::vector<float> out(6, -1.f);
  ck::attention_dense_causal_reference(q, k, v, out, 3, shape);
  // Row 0 sees key 0 only: v0. Row 1: weights 1/3, 2/3. Row 2: weights 1/8, 2/8, 5/8.
  const float want[6] = {8, 0, 8.f / 3, 16.f / 3, 1 + 5, 2 + 5};
  for (int i = 0; i < 6; ++i) CHECK_THAT(out[i], WithinAbs(want[i], 1e-5));
}

TEST_CASE("grouped-query attention maps query head h to KV head h / (H/Hkv)", "[reference]") {
  // One token, so each head's output is exactly the value row of the KV head it reads.
  for (int Hkv : {1, 2, 4}) {
    const ck::AttentionShape shape{.num_heads = 4, .num_kv_heads = Hkv, .head_dim = 2, .scale = 1.f};
    const std::vector<float> q(4 * 2, 0.5f);
    const std::vector<float> k(std::size_t(Hkv) * 2, 0.25f);
    std::vector<float> v;
    for (int kvh = 0; kvh < Hkv; ++kvh) v.insert(v.end(), {float(10 * kvh), float(10 * kvh + 1)});
    std::vector<float> out(4 * 2);
    ck::attention_dense_causal_reference(q, k, v, out, 1, shape);
    for (int h = 0; h < 4; ++h) {
      const int kvh = h / (4 / Hkv);
      INFO("Hkv " << Hkv << ", head " << h << " should read KV head " << kvh);
      CHECK(out[h * 2] == float(10 * kvh));
      CHECK(out[h * 2 + 1] == float(10 * kvh + 1));
    }
  }
}

TEST_CASE("masked attention: masked keys get zero weight, a fully masked row gives zeros",
          "[reference]") {
  const ck::AttentionShape shape{.num_heads = 1, .num_kv_heads = 1, .head_dim = 2, .scale = 1.f};
  const std::vector<float> q = {1, 0, 1, 0};                 // (T=2, H=1, D=2)
  // Key 1 scores 1000: if the mask leaked, it would take all the weight.
  const std::vector<float> k = {0, 0, 1000, 0, ln5, 0};    // (Tk=3, Hkv=1, D=2)
  const std::vector<float> v = {6, 0, 100, 100, 0, 6};
  const std::vector<std::uint8_t> mask = {1, 0, 1,   // row 0 sees keys 0 and 2: weights 1/6, 5/6
                                          0, 0, 0};  // row 1 sees nothing
  std::vector<float> out(4, -1.f);
  ck::attention_masked_reference(q, k, v, mask, out, 2, 3, shape);
  CHECK_THAT(out[0], WithinAbs(1.f, 1e-5));
  CHECK_THAT(out[1], WithinAbs(5.f, 1e-5));
  CHECK(out[2] == 0.f);
  CHECK(out[3] == 0.f);
}

TEST_CASE("masked attention with a causal mask is dense causal attention", "[reference]") {
  const ck::AttentionShape shape{.num_heads = 4, .num_kv_heads = 2, .head_dim = 8, .scale = 0.3f};
  const int S = 9;
  const auto q = random_vector(S * 4 * 8, 1), k = random_vector(S * 2 * 8, 2),
             v = random_vector(S * 2 * 8, 3);
  std::vector<std::uint8_t> mask(S * S);
  for (int i = 0; i < S; ++i)
    for (int j = 0; j < S; ++j) mask[i * S + j] = j <= i;
  std::vector<float> dense(q.size()), masked(q.size());
  ck::attention_dense_causal_reference(q, k, v, dense, S, shape);
  ck::attention_masked_reference(q, k, v, mask, masked, S, S, shape);
  CHECK(dense == masked);  // the same keys in the same order: bit for bit
}

namespace {
// A request's dense K/V scattered into a paged pool through a shuffled block table.
struct PagedPool {
  std::vector<float> k_cache, v_cache;  // (NB, B, Hkv, D)
  int num_blocks = 0, block_size = 0;
  ck::PagedKV view() const { return {k_cache, v_cache, num_blocks, block_size}; }
};

// Writes dense k, v: (C, Hkv, D) into the pool at the blocks listed in table.
void scatter(PagedPool& pool, const std::vector<float>& k, const std::vector<float>& v,
             const std::vector<int32_t>& table, int C, int row_floats) {
  for (int j = 0; j < C; ++j) {
    const std::size_t slot = std::size_t(table[j / pool.block_size]) * pool.block_size + j % pool.block_size;
    std::copy_n(&k[std::size_t(j) * row_floats], row_floats, &pool.k_cache[slot * row_floats]);
    std::copy_n(&v[std::size_t(j) * row_floats], row_floats, &pool.v_cache[slot * row_floats]);
  }
}
}  // namespace

TEST_CASE("paged decode equals the last row of dense causal attention", "[reference]") {
  const ck::AttentionShape shape{.num_heads = 4, .num_kv_heads = 2, .head_dim = 8, .scale = 0.35f};
  const int H = 4, Hkv = 2, D = 8;
  for (int B : {1, 16}) {
    for (int C : {1, 16, 17, 37}) {
      const int needed = (C + B - 1) / B;
      PagedPool pool{.num_blocks = needed + 3, .block_size = B};
      pool.k_cache.assign(std::size_t(pool.num_blocks) * B * Hkv * D, 0.f);
      pool.v_cache = pool.k_cache;
      std::vector<int32_t> table(pool.num_blocks);
      std::iota(table.begin(), table.end(), 0);
      std::shuffle(table.begin(), table.end(), std::mt19937(C * 7 + B));
      const auto q = random_vector(std::size_t(C) * H * D, 10 + C);
      const auto k = random_vector(std::size_t(C) * Hkv * D, 20 + C);
      const auto v = random_vector(std::size_t(C) * Hkv * D, 30 + C);
      scatter(pool, k, v, table, C, Hkv * D);

      std::vector<float> dense(q.size()), decode(std::size_t(H) * D);
      ck::attention_dense_causal_reference(q, k, v, dense, C, shape);
      const std::span<const float> last_q(&q[std::size_t(C - 1) * H * D], std::size_t(H) * D);
      ck::attention_paged_decode_reference(last_q, pool.view(), table, C, decode, shape);
      INFO("block size " << B << ", context " << C);
      CHECK(std::equal(decode.begin(), decode.end(), dense.end() - H * D));
    }
  }
}

TEST_CASE("varlen paged attention equals each request's dense causal rows", "[reference]") {
  const ck::AttentionShape shape{.num_heads = 4, .num_kv_heads = 1, .head_dim = 8, .scale = 0.35f};
  const int H = 4, Hkv = 1, D = 8, B = 4, max_blocks = 6;
  // (new tokens, context): a decode token, a prefill chunk over a cached prefix, a whole
  // prompt, a request with nothing new this step, and a single-token prompt.
  const std::vector<std::pair<int, int>> requests = {{1, 20}, {5, 12}, {9, 9}, {0, 7}, {1, 1}};
  const int R = int(requests.size());
  PagedPool pool{.num_blocks = R * max_blocks, .block_size = B};
  pool.k_cache.assign(std::size_t(pool.num_blocks) * B * Hkv * D, 0.f);
  pool.v_cache = pool.k_cache;
  std::vector<int32_t> all_blocks(pool.num_blocks);
  std::iota(all_blocks.begin(), all_blocks.end(), 0);
  std::shuffle(all_blocks.begin(), all_blocks.end(), std::mt19937(5));

  std::vector<int32_t> cu_seqlens_q = {0}, context_lens, block_tables = all_blocks;
  std::vector<float> q_batch, want;
  for (int r = 0; r < R; ++r) {
    const auto [q_len, C] = requests[r];
    const auto q = random_vector(std::size_t(C) * H * D, 100 + r);
    const auto k = random_vector(std::size_t(C) * Hkv * D, 200 + r);
    const auto v = random_vector(std::size_t(C) * Hkv * D, 300 + r);
    const std::vector<int32_t> table(&block_tables[r * max_blocks], &block_tables[(r + 1) * max_blocks]);
    scatter(pool, k, v, table, C, Hkv * D);
    std::vector<float> dense(q.size());
    ck::attention_dense_causal_reference(q, k, v, dense, C, shape);
    // The new tokens are the last q_len positions of the request.
    q_batch.insert(q_batch.end(), q.end() - q_len * H * D, q.end());
    want.insert(want.end(), dense.end() - q_len * H * D, dense.end());
    cu_seqlens_q.push_back(cu_seqlens_q.back() + q_len);
    context_lens.push_back(C);
  }
  const ck::VarlenBatch batch{cu_seqlens_q, context_lens, block_tables, max_blocks};
  std::vector<float> out(q_batch.size(), -1.f);
  ck::attention_varlen_paged_reference(q_batch, pool.view(), batch, out, shape);
  CHECK(out == want);  // same keys, same order: bit for bit
}

TEST_CASE("varlen paged attention accepts an empty batch", "[reference]") {
  const ck::AttentionShape shape{.num_heads = 2, .num_kv_heads = 1, .head_dim = 4, .scale = 0.5f};
  const std::vector<float> pool(1 * 4 * 1 * 4, 0.f);
  const ck::PagedKV kv{pool, pool, 1, 4};
  const std::vector<int32_t> cu = {0};
  std::vector<float> out;
  CHECK_NOTHROW(ck::attention_varlen_paged_reference({}, kv, {cu, {}, {}, 0}, out, shape));
  CHECK_NOTHROW(ck::attention_varlen_paged_reference({}, kv, {{}, {}, {}, 0}, out, shape));
}

TEST_CASE("matmul, by hand", "[reference]") {
  // x: (2, 3)  w: (3, 2)
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<float> w = {1, 0, 0, 1, 1, 1};
  std::vector<float> y(4, -1.f);
  ck::matmul_reference(x, w, y, 2, 3, 2);
  CHECK(y == std::vector<float>{1 + 3, 2 + 3, 4 + 6, 5 + 6});
}

TEST_CASE("rope rotates each pair by position * theta^(-2i/D)", "[reference]") {
  // D = 4, theta = 100: pair 0 turns by position rad, pair 1 by position / 10 rad.
  std::vector<float> x = {1, 0, 1, 0,    // position 0: unchanged
                          1, 0, 0, 1};   // position 2: (cos 2, sin 2), (-sin 0.2, cos 0.2)
  const std::vector<int32_t> positions = {0, 2};
  ck::rope_reference(x, positions, 1, 4, 100.f);
  const float want[8] = {1, 0, 1, 0, std::cos(2.f), std::sin(2.f), -std::sin(0.2f), std::cos(0.2f)};
  for (int i = 0; i < 8; ++i) CHECK_THAT(x[i], WithinAbs(want[i], 1e-6));
}

TEST_CASE("rmsnorm, by hand", "[reference]") {
  // Row (3, 4): mean of squares 12.5, so y = (3, 4) / sqrt(12.5) * weight.
  const std::vector<float> x = {3, 4}, weight = {1, 2};
  std::vector<float> y(2);
  ck::rmsnorm_reference(x, weight, y, 1, 2, 0.f);
  CHECK_THAT(y[0], WithinAbs(3 / std::sqrt(12.5f), 1e-6));
  CHECK_THAT(y[1], WithinAbs(8 / std::sqrt(12.5f), 1e-6));
}

TEST_CASE("softmax is stable and gives masked (-inf) entries zero", "[reference]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0, std::log(3.f), -inf,  // weights 1/4, 3/4, 0
                          1000, 1000, 1000,        // would overflow exp() without the max
                          -inf, -inf, -inf};       // all masked: zeros
  ck::softmax_reference(x, 3, 3);
  CHECK_THAT(x[0], WithinAbs(0.25, 1e-6));
  CHECK_THAT(x[1], WithinAbs(0.75, 1e-6));
  CHECK(x[2] == 0.f);
  for (int i = 3; i < 6; ++i) CHECK_THAT(x[i], WithinAbs(1.0 / 3, 1e-6));
  for (int i = 6; i < 9; ++i) CHECK(x[i] == 0.f);
}

TEST_CASE("argmax picks the first of equal maxima", "[reference]") {
  CHECK(ck::argmax_reference(std::vector<float>{1, 5, 2, 5}) == 1);
  CHECK(ck::argmax_reference(std::vector<float>{-3}) == 0);
  CHECK_THROWS_WITH(ck::argmax_reference({}), ContainsSubstring("logits"));
}

TEST_CASE("the references name the argument, its size and the size expected", "[reference]") {
  const ck::AttentionShape shape{.num_heads = 2, .num_kv_heads = 1, .head_dim = 4, .scale = 0.5f};
  const std::vector<float> q(2 * 2 * 4), kv(2 * 1 * 4), short_out(5);
  std::vector<float> out(5);
  CHECK_THROWS_WITH(ck::attention_dense_causal_reference(q, kv, kv, out, 2, shape),
                    ContainsSubstring("out") && ContainsSubstring("5") && ContainsSubstring("16"));
  std::vector<float> y(3);
  CHECK_THROWS_WITH(ck::matmul_reference(std::vector<float>(6), std::vector<float>(6), y, 2, 3, 2),
                    ContainsSubstring("y has 3 elements, expected 4"));
  const ck::AttentionShape bad{.num_heads = 3, .num_kv_heads = 2, .head_dim = 4};
  CHECK_THROWS_WITH(ck::attention_dense_causal_reference({}, {}, {}, {}, 0, bad),
                    ContainsSubstring("num_kv_heads"));
  // A block table pointing outside the pool.
  const std::vector<float> pool(2 * 4 * 1 * 4);
  const std::vector<int32_t> table = {0, 7};
  std::vector<float> dec(2 * 4);
  CHECK_THROWS_WITH(ck::attention_paged_decode_reference(std::vector<float>(8), {pool, pool, 2, 4},
                                                         table, 6, dec, shape),
                    ContainsSubstring("block 7"));
}

}  // namespace test_reference

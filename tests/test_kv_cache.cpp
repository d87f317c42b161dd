// The KV cache: block pool conservation and ref counts, "no room" as a value, slot mapping,
// and attention read through block tables equal to attention on dense arrays.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <span>
#include <vector>
import cblab;

namespace test_kv_cache {  // this file's names: the test sources build as unity batches

namespace ck = cblab::kernels;

namespace {
// Checks the pool's books: every block is free xor held by exactly one table, ref counts match.
void check_conservation(const cblab::KVCache& kv, int num_requests) {
  std::set<int32_t> held;
  int num_held = 0;
  for (int r = 0; r < num_requests; ++r)
    for (int32_t b : kv.block_table(r)) {
      held.insert(b);
      ++num_held;
      CHECK(kv.pool().owner(b) == r);
      CHECK(kv.pool().ref_count(b) == 1);
    }
  CHECK(static_cast<int>(held.size()) == num_held);  // no block owned twice
  CHECK(kv.pool().num_free_blocks() + num_held == kv.pool().num_blocks());
  for (int32_t b = 0; b < kv.pool().num_blocks(); ++b)
    if (!held.contains(b)) CHECK(kv.pool().ref_count(b) == 0);
}

std::vector<float> pseudo_random(std::size_t n, uint64_t seed) {
  cblab::SplitMix64 rng{seed};
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform();
  return v;
}
}  // namespace

TEST_CASE("block pool: allocation and free conserve blocks, no block owned twice", "[kv_cache]") {
  cblab::KVCache kv({.head_dim = 2, .num_blocks = 10, .block_size = 3});
  // Requests grow by uneven amounts, interleaved, and some finish: tables end up scattered.
  const int grow[][2] = {{0, 4}, {1, 2}, {2, 7}, {0, 3}, {1, 5}, {3, 1}, {2, 2}, {0, 1}};
  for (auto [r, n] : grow) {
    REQUIRE(kv.allocate_slots(r, n));
    check_conservation(kv, 4);
  }
  CHECK(kv.num_tokens(0) == 8);
  CHECK(kv.num_blocks_held(0) == 3);
  const auto freed = kv.free(2);  // 9 tokens = 3 blocks
  CHECK(freed.size() == 3);
  CHECK(kv.num_blocks_held(2) == 0);
  check_conservation(kv, 4);
  for (int r : {0, 1, 3}) kv.free(r);
  CHECK(kv.pool().num_free_blocks() == 10);
  check_conservation(kv, 4);
}

TEST_CASE("block pool: exhaustion is reported as no room and changes nothing", "[kv_cache]") {
  cblab::KVCache kv({.head_dim = 2, .num_blocks = 4, .block_size = 4});
  REQUIRE(kv.allocate_slots(0, 10));  // 3 blocks
  std::vector<int32_t> allocated;
  CHECK_FALSE(kv.allocate_slots(1, 5, &allocated));  // needs 2, 1 free
  CHECK(allocated.empty());
  CHECK(kv.num_tokens(1) == 0);
  CHECK(kv.pool().num_free_blocks() == 1);
  CHECK(kv.allocate_slots(0, 2, &allocated));  // fills block 2's slots 10, 11: no new block
  CHECK(allocated.empty());
  CHECK(kv.allocate_slots(1, 4, &allocated));  // exactly the last block
  CHECK(allocated.size() == 1);
  CHECK_FALSE(kv.allocate_slots(1, 1));
  CHECK_FALSE(kv.pool().num_free_blocks());
  check_conservation(kv, 2);
}

TEST_CASE("block pool: a shared block returns to the free list only at ref count 0", "[kv_cache]") {
  cblab::BlockPool pool(2, 16);
  const auto b = pool.allocate(7);
  REQUIRE(b.has_value());
  CHECK(pool.owner(*b) == 7);
  pool.retain(*b);
  CHECK(pool.ref_count(*b) == 2);
  CHECK_FALSE(pool.release(*b));
  CHECK(pool.num_free_blocks() == 1);
  CHECK(pool.release(*b));
  CHECK(pool.ref_count(*b) == 0);
  CHECK(pool.owner(*b) == -1);
  CHECK(pool.num_free_blocks() == 2);
  REQUIRE(pool.allocate(0));
  REQUIRE(pool.allocate(0));
  CHECK_FALSE(pool.allocate(0).has_value());
}

TEST_CASE("slot mapping follows the block table and the snapshot counts used slots", "[kv_cache]") {
  cblab::KVCache kv({.head_dim = 2, .num_blocks = 6, .block_size = 4});
  REQUIRE(kv.allocate_slots(0, 2));  // block 0
  REQUIRE(kv.allocate_slots(1, 5));  // blocks 1, 2
  REQUIRE(kv.allocate_slots(0, 3));  // block 0 full, then block 3
  CHECK(std::ranges::equal(kv.block_table(0), std::vector<int32_t>{0, 3}));
  CHECK(kv.slot(0, 0) == 0);
  CHECK(kv.slot(0, 3) == 3);
  CHECK(kv.slot(0, 4) == 12);  // block 3, offset 0
  CHECK(kv.slot(1, 4) == 8);   // block 2, offset 0
  const auto snap = kv.snapshot();
  CHECK(snap[0].used_slots == 4);
  CHECK(snap[3].used_slots == 1);
  CHECK(snap[2].used_slots == 1);
  CHECK(snap[3].owner == 0);
  CHECK(snap[4].ref_count == 0);
  INFO(cblab::format_block_pool(snap, 4));
  CHECK(cblab::format_block_pool(snap, 4).starts_with("block pool: 4/6 blocks in use"));
}

TEST_CASE("bad KV cache sizes are config errors naming the field", "[kv_cache]") {
  CHECK_THROWS_MATCHES(cblab::KVCache({.num_blocks = 0}), cblab::ConfigError,
                       Catch::Matchers::MessageMatches(
                           Catch::Matchers::ContainsSubstring("engine.num_blocks = 0")));
  CHECK_THROWS_MATCHES(cblab::KVCache({.block_size = -2}), cblab::ConfigError,
                       Catch::Matchers::MessageMatches(
                           Catch::Matchers::ContainsSubstring("engine.block_size = -2")));
}

// Attention read through scattered block tables must equal attention on contiguous arrays.
// Tolerance: both sum the same products in the same order; we allow 1e-5 absolute (values are
// averages of numbers in [-1, 1)).
TEST_CASE("paged decode and varlen attention equal dense attention", "[kv_cache]") {
  const ck::AttentionShape shape{.num_heads = 4, .num_kv_heads = 2, .head_dim = 8,
                                 .scale = 1.f / std::sqrt(8.f)};
  const int H = 4, Hkv = 2, D = 8, row = Hkv * D;
  for (auto kind : {cblab::KVCacheKind::paged, cblab::KVCacheKind::dense}) {
    cblab::KVCache kv({.kind = kind, .num_kv_heads = Hkv, .head_dim = D, .num_blocks = 12,
                       .block_size = 3});
    // Two sequences of 11 and 6 tokens, written interleaved so their blocks alternate.
    const int len[2] = {11, 6};
    std::vector<float> k[2], v[2], q[2];  // k, v: (S, Hkv, D)  q: (S, H, D)
    for (int s = 0; s < 2; ++s) {
      k[s] = pseudo_random(static_cast<std::size_t>(len[s]) * row, 10 + s);
      v[s] = pseudo_random(k[s].size(), 20 + s);
      q[s] = pseudo_random(static_cast<std::size_t>(len[s]) * H * D, 30 + s);
    }
    for (int p = 0; p < 11; ++p)
      for (int s = 0; s < 2; ++s)
        if (p < len[s]) {
          REQUIRE(kv.allocate_slots(s, 1));
          kv.write(0, s, p, std::span(k[s]).subspan(p * row, row),
                   std::span(v[s]).subspan(p * row, row));
        }
    // The oracle: dense causal attention over each whole sequence.
    std::vector<float> dense[2];
    for (int s = 0; s < 2; ++s) {
      dense[s].resize(q[s].size());
      ck::attention_dense_causal_reference(q[s], k[s], v[s], dense[s], len[s], shape);
    }
    // gather() returns exactly what was written.
    std::vector<float> gk(k[0].size()), gv(v[0].size());
    kv.gather(0, 0, 11, gk, gv);
    CHECK(gk == k[0]);
    CHECK(gv == v[0]);
    if (kind == cblab::KVCacheKind::dense) continue;

    // Paged decode: the last token of sequence 0 against its 11 cached tokens.
    std::vector<float> out(H * D);
    ck::attention_paged_decode(std::span(q[0]).subspan(10 * H * D, H * D), kv.paged_view(0),
                               kv.block_table(0), 11, out, shape);
    for (int i = 0; i < H * D; ++i) CHECK(std::fabs(out[i] - dense[0][10 * H * D + i]) <= 1e-5f);

    // Varlen: sequence 1's last token (a decode), then sequence 0's chunk [7, 11) with a cached
    // prefix of 7, in one call.
    std::vector<float> qs(static_cast<std::size_t>(5) * H * D);
    std::copy_n(q[1].begin() + 5 * H * D, H * D, qs.begin());
    std::copy_n(q[0].begin() + 7 * H * D, 4 * H * D, qs.begin() + H * D);
    const std::vector<int32_t> cu{0, 1, 5}, ctx{6, 11};
    std::vector<int32_t> tables(2 * 4, -1);
    std::ranges::copy(kv.block_table(1), tables.begin());
    std::ranges::copy(kv.block_table(0), tables.begin() + 4);
    std::vector<float> got(qs.size());
    ck::attention_varlen_paged(qs, kv.paged_view(0), {cu, ctx, tables, 4}, got, shape);
    for (int i = 0; i < H * D; ++i) CHECK(std::fabs(got[i] - dense[1][5 * H * D + i]) <= 1e-5f);
    for (int i = 0; i < 4 * H * D; ++i)
      CHECK(std::fabs(got[H * D + i] - dense[0][7 * H * D + i]) <= 1e-5f);
  }
}

}  // namespace test_kv_cache

// The ragged batch builder and the ragged causal mask, on a case small enough to check by hand:
// a prefill chunk whose first four tokens are already cached, next to a decode token.
#include <catch_amalgamated.hpp>
#include <cstdint>
#include <vector>
import cblab;

namespace test_batch {  // this file's names: the test sources build as unity batches

namespace {
// Two requests in a pool of 4-slot blocks:
//   #0 "a": prompt 10..15 (6 tokens), tokens 0..3 cached by an earlier chunk, now chunk [4, 6)
//   #1 "b": prompt 20 21 22, output 23 sampled, now decoding token 23 at position 3
struct HandCase {
  std::vector<cblab::Request> requests;
  cblab::KVCache kv{{.kind = cblab::KVCacheKind::paged, .num_layers = 1, .num_kv_heads = 1,
                     .head_dim = 2, .num_blocks = 8, .block_size = 4}};
  cblab::Schedule schedule;
  HandCase() {
    cblab::Request a{.spec = {.id = "a", .prompt_tokens = {10, 11, 12, 13, 14, 15}}};
    a.state = cblab::RequestState::prefilling;
    a.num_computed_tokens = 4;
    cblab::Request b{.spec = {.id = "b", .prompt_tokens = {20, 21, 22}}};
    b.state = cblab::RequestState::decoding;
    b.output_tokens = {23};
    b.num_computed_tokens = 3;
    requests = {a, b};
    REQUIRE(kv.allocate_slots(0, 4));  // a's first chunk: block 0
    REQUIRE(kv.allocate_slots(1, 3));  // b's prompt: block 1
    // This step: b's decode (slot 7, still in block 1), then a's chunk (needs block 2).
    REQUIRE(kv.allocate_slots(1, 1));
    REQUIRE(kv.allocate_slots(0, 2));
    schedule.decodes = {1};
    schedule.prefills = {{.request = 0, .start = 4, .len = 2}};
    schedule.num_tokens = 3;
  }
};
}  // namespace

TEST_CASE("batch metadata of a decode next to a chunk with a cached prefix", "[batch]") {
  HandCase c;
  const cblab::Batch b = cblab::build_batch(c.schedule, c.requests, c.kv);
  INFO(cblab::format_batch(b));
  CHECK(b.token_ids == std::vector<int32_t>{23, 14, 15});
  CHECK(b.positions == std::vector<int32_t>{3, 4, 5});
  CHECK(b.token_request == std::vector<int32_t>{1, 0, 0});
  CHECK(b.requests == std::vector<int32_t>{1, 0});
  CHECK(b.cu_seqlens_q == std::vector<int32_t>{0, 1, 3});
  CHECK(b.context_lens == std::vector<int32_t>{4, 6});  // cached prefix + new tokens
  CHECK(b.slot_mapping == std::vector<int32_t>{1 * 4 + 3, 2 * 4 + 0, 2 * 4 + 1});
  CHECK(b.max_blocks_per_seq == 2);
  CHECK(b.block_tables == std::vector<int32_t>{1, -1, 0, 2});
}

TEST_CASE("the ragged causal mask is bottom-right aligned per request", "[batch]") {
  HandCase c;
  const cblab::Batch b = cblab::build_batch(c.schedule, c.requests, c.kv);
  const auto mask = cblab::ragged_causal_mask(b);
  // Keys: b's 4 (positions 0..3), then a's 6 (positions 0..5). The decode token sees all of b
  // including itself; a's chunk sees a's cached prefix 0..3 and, causally, itself.
  const char* want =
      "####......\n"
      "....#####.\n"
      "....######\n";
  CHECK(cblab::format_mask(mask, 3, 10) == want);
}

TEST_CASE("a whole-prompt batch of two fresh requests has a block-diagonal mask", "[batch]") {
  std::vector<cblab::Request> requests{{.spec = {.id = "x", .prompt_tokens = {1, 2, 3}}},
                                       {.spec = {.id = "y", .prompt_tokens = {4, 5}}}};
  cblab::KVCache kv({.kind = cblab::KVCacheKind::dense, .head_dim = 2, .num_blocks = 4,
                     .block_size = 2});
  REQUIRE(kv.allocate_slots(0, 3));  // blocks 0, 1
  REQUIRE(kv.allocate_slots(1, 2));  // block 2
  const std::vector<cblab::PrefillChunk> rows{{0, 0, 3}, {1, 0, 2}};
  const cblab::Batch b = cblab::build_batch(rows, requests, kv);
  CHECK(b.slot_mapping == std::vector<int32_t>{0, 1, 2, 4, 5});
  CHECK(b.block_tables == std::vector<int32_t>{0, 1, 2, -1});
  CHECK(cblab::format_mask(cblab::ragged_causal_mask(b), 5, 5) ==
        "#....\n"
        "##...\n"
        "###..\n"
        "...#.\n"
        "...##\n");
}

}  // namespace test_batch

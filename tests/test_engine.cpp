// The Engine end to end: outputs independent of chunk size, block size, cache kind and of
// which other requests share the batch; request lifecycle; bad input leaves it unchanged.
#include <catch_amalgamated.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
import cblab;

namespace test_engine {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kModel{.d_model = 32, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
                                .mlp_dim = 32, .seed = 42};

std::vector<int32_t> text(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<cblab::RequestSpec> sample_requests() {
  return {{.id = "a", .prompt_tokens = text("The quick brown fox"), .max_new_tokens = 6},
          {.id = "b", .prompt_tokens = text("jumps"), .max_new_tokens = 9},
          {.id = "c", .prompt_tokens = text("over the lazy dog, again and again and again"),
           .max_new_tokens = 4},
          {.id = "d", .prompt_tokens = text("!"), .max_new_tokens = 7},
          {.id = "e", .prompt_tokens = text("continuous batching"), .max_new_tokens = 5,
           .arrival_step = 3}};
}

// Greedy outputs of every request, in order.
std::vector<std::vector<int32_t>> run(const cblab::EngineConfig& config,
                                      const std::vector<cblab::RequestSpec>& specs) {
  cblab::Engine engine(kModel, config);
  for (const auto& s : specs) engine.add_request(s);
  engine.run();
  std::vector<std::vector<int32_t>> out;
  for (const auto& r : engine.requests()) {
    REQUIRE(r.is_finished());
    out.push_back(r.output_tokens);
  }
  return out;
}

const cblab::EngineConfig kBase{.max_tokens_per_step = 64, .prefill_chunk_size = 16,
                                .max_running = 8, .block_size = 16, .num_blocks = 64};
}  // namespace

TEST_CASE("greedy tokens do not depend on the prefill chunk size (1, 3, 16, whole)", "[engine]") {
  const auto want = run(kBase, sample_requests());
  for (int chunk : {1, 3, 64}) {
    auto c = kBase;
    c.prefill_chunk_size = chunk;
    INFO("chunk " << chunk);
    CHECK(run(c, sample_requests()) == want);
  }
}

TEST_CASE("greedy tokens do not depend on block size or on dense vs paged", "[engine]") {
  const auto want = run(kBase, sample_requests());
  for (int block : {1, 16, 64}) {
    for (auto kind : {cblab::KVCacheKind::paged, cblab::KVCacheKind::dense}) {
      auto c = kBase;
      c.block_size = block;
      c.num_blocks = 4096 / block;
      c.kv_cache = kind;
      INFO("block " << block << " " << cblab::to_string(kind));
      CHECK(run(c, sample_requests()) == want);
    }
  }
}

TEST_CASE("batched equals alone: each request run by itself gives the same tokens", "[engine]") {
  const auto specs = sample_requests();
  const auto together = run(kBase, specs);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto alone = specs[i];
    alone.arrival_step = 0;
    CHECK(run(kBase, {alone}).front() == together[i]);
  }
}

TEST_CASE("request lifecycle: states, first token and finish steps", "[engine]") {
  cblab::Engine engine(kModel, {.max_tokens_per_step = 8, .prefill_chunk_size = 4});
  const int i = engine.add_request({.id = "x", .prompt_tokens = text("abcdefghij"),
                                    .max_new_tokens = 3});
  const auto& r = engine.requests()[i];
  CHECK(r.state == cblab::RequestState::waiting);
  engine.step();  // chunk [0, 4)
  CHECK(r.state == cblab::RequestState::prefilling);
  CHECK(r.num_computed_tokens == 4);
  engine.step();  // chunk [4, 8)
  const auto s = engine.step();  // chunk [8, 10) completes the prompt: first token sampled
  CHECK(r.state == cblab::RequestState::decoding);
  CHECK(r.first_token_step == 2);
  CHECK(s.sampled.size() == 1);
  engine.step();
  engine.step();  // third token
  CHECK(r.state == cblab::RequestState::finished);
  CHECK(r.finish_reason == cblab::FinishReason::length);
  CHECK(r.finish_step == 4);
  CHECK(r.num_output_tokens() == 3);
  CHECK_FALSE(engine.has_unfinished());
}

TEST_CASE("max_new_tokens = 0 finishes right after prefill; stop tokens end early", "[engine]") {
  cblab::Engine engine(kModel, kBase);
  engine.add_request({.id = "prefill-only", .prompt_tokens = text("hello"), .max_new_tokens = 0});
  engine.run();
  const auto& p = engine.requests()[0];
  CHECK(p.output_tokens.empty());
  CHECK(p.finish_reason == cblab::FinishReason::length);
  CHECK(p.finish_step == 0);
  CHECK(p.first_token_step == -1);

  // Stop on the second token the model would produce.
  const auto free_run = run(kBase, {{.id = "s", .prompt_tokens = text("hello"), .max_new_tokens = 8}});
  const int32_t stop = free_run[0][1];
  cblab::Engine stopped(kModel, kBase);
  stopped.add_request({.id = "s", .prompt_tokens = text("hello"), .max_new_tokens = 8,
                       .stop_tokens = {stop}});
  stopped.run();
  const auto& s = stopped.requests()[0];
  CHECK(s.finish_reason == cblab::FinishReason::stop);
  CHECK(s.output_tokens.back() == stop);
  CHECK(s.output_tokens.size() <= 2);
  CHECK(stopped.kv_cache().pool().num_free_blocks() == kBase.num_blocks);
}

TEST_CASE("the step record is a plain value with the batch and the pool", "[engine]") {
  static_assert(std::is_copy_constructible_v<cblab::StepRecord>);
  cblab::Engine engine(kModel, {.max_tokens_per_step = 8, .prefill_chunk_size = 4,
                                .block_size = 4, .num_blocks = 16});
  engine.add_request({.id = "a", .prompt_tokens = text("abcdef"), .max_new_tokens = 2});
  engine.add_request({.id = "b", .prompt_tokens = text("xyz"), .max_new_tokens = 2});
  const cblab::StepRecord s0 = engine.step();
  const cblab::StepRecord copy = s0;
  CHECK(copy.batch.token_ids == s0.batch.token_ids);
  CHECK(s0.batch.token_ids == text("abcdxyz"));
  CHECK(s0.batch.cu_seqlens_q == std::vector<int32_t>{0, 4, 7});
  CHECK(s0.batch.slot_mapping == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(s0.blocks_allocated == std::vector<int32_t>{0, 1});
  REQUIRE(s0.blocks.size() == 16);
  CHECK((s0.blocks[0].owner == 0 && s0.blocks[0].used_slots == 4));
  CHECK((s0.blocks[1].owner == 1 && s0.blocks[1].used_slots == 3));
  CHECK(s0.sampled.size() == 1);  // b's prompt is complete; a has 2 tokens to go
  CHECK(cblab::format_step(s0).starts_with(
      "[step 0] decode=0 prefill=7 (#0[0:4) #1[0:3)) budget=7/8 admitted=2 running=2 waiting=0 "
      "blocks +2 -0 free=14/16 sampled=1 finished=0"));
  const cblab::StepRecord s1 = engine.step();  // b decodes (its last token), a finishes prefill
  CHECK(s1.decodes == std::vector<int>{1});
  CHECK(s1.finished == std::vector<int>{1});
  CHECK(s1.blocks_freed == std::vector<int32_t>{1});
  CHECK(s1.blocks[1].ref_count == 0);
}

TEST_CASE("bad requests are typed errors and leave the engine unchanged", "[engine]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  cblab::Engine engine(kModel, {.block_size = 4, .num_blocks = 8});
  engine.add_request({.id = "ok", .prompt_tokens = {1, 2, 3}});
  auto rejects = [&](cblab::RequestSpec spec, const std::string& message) {
    CHECK_THROWS_MATCHES(engine.add_request(std::move(spec)), cblab::RequestError,
                         MessageMatches(ContainsSubstring(message)));
    CHECK(engine.requests().size() == 1);
    CHECK(engine.scheduler().waiting().size() == 1);
  };
  rejects({.id = "e", .prompt_tokens = {}}, "prompt_tokens = [] (empty): allowed at least one token");
  rejects({.id = "v", .prompt_tokens = {1, 256}}, "prompt_tokens[1] = 256: allowed 0..255");
  rejects({.id = "n", .prompt_tokens = {-1}}, "prompt_tokens[0] = -1");
  rejects({.id = "ok", .prompt_tokens = {1}}, "id = \"ok\": allowed an id not used before");
  rejects({.id = "", .prompt_tokens = {1}}, "id = \"\"");
  rejects({.id = "m", .prompt_tokens = {1}, .max_new_tokens = -1}, "max_new_tokens = -1");
  rejects({.id = "s", .prompt_tokens = {1}, .stop_tokens = {999}}, "stop_tokens[0] = 999");
  rejects({.id = "big", .prompt_tokens = std::vector<int32_t>(30, 1), .max_new_tokens = 4},
          "30 + 4 (needs 9 blocks of 4): allowed a request whose KV fits in engine.num_blocks "
          "(8 blocks = 32 tokens)");
  engine.run();
  CHECK(engine.requests()[0].is_finished());
}

TEST_CASE("bad engine configurations are config errors naming the field", "[engine]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  auto rejects = [](cblab::EngineConfig c, const std::string& message) {
    CHECK_THROWS_MATCHES(cblab::Engine(kModel, c), cblab::ConfigError,
                         MessageMatches(ContainsSubstring(message)));
  };
  rejects({.max_tokens_per_step = 0}, "engine.max_tokens_per_step = 0: allowed >= 1");
  rejects({.prefill_chunk_size = 0}, "engine.prefill_chunk_size = 0");
  rejects({.max_tokens_per_step = 8, .prefill_chunk_size = 9}, "engine.prefill_chunk_size = 9");
  rejects({.block_size = 0}, "engine.block_size = 0");
  rejects({.num_blocks = 0}, "engine.num_blocks = 0: allowed >= 1");
  rejects({.max_running = -3}, "engine.max_running = -3");
}

TEST_CASE("every component prints itself", "[engine]") {
  static_assert(std::is_base_of_v<std::invalid_argument, cblab::ConfigError>);
  cblab::Engine engine(kModel, {.max_tokens_per_step = 8, .prefill_chunk_size = 4,
                                .block_size = 4, .num_blocks = 8});
  engine.add_request({.id = "a", .prompt_tokens = text("abcdef"), .max_new_tokens = 2});
  engine.add_request({.id = "b", .prompt_tokens = text("xyz"), .max_new_tokens = 1});
  const auto s = engine.step();
  const std::string requests = cblab::format_requests(engine.requests());
  INFO(requests);
  CHECK(requests.starts_with("#0 a prefilling prompt=6 computed=4 output=0/2\n"
                             "#1 b finished prompt=3 computed=3 output=1/1 finish=length@0 tokens=["));
  const std::vector<int> rows{0, 1};
  CHECK(cblab::format_block_tables(engine.kv_cache(), rows) ==
        "#0: 4 tokens, blocks [0]\n#1: 0 tokens, blocks []\n");
  const std::string pool = cblab::format_block_pool(s.blocks, 4);
  INFO(pool);
  CHECK(pool.starts_with("block pool: 1/8 blocks in use, 4 slots each\n   0:#0 4/4"));
  const std::string batch = cblab::format_batch(s.batch);
  INFO(batch);
  CHECK(batch.find("slot_mapping  [0 1 2 3 4 5 6]") != std::string::npos);
  CHECK(batch.find("cu_seqlens_q  [0 4 7]") != std::string::npos);
}

}  // namespace test_engine

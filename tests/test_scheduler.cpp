// The token-budget scheduler: a hand-checked schedule, then its invariants over whole runs.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>
import cblab;

namespace test_scheduler {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kTiny{.d_model = 16, .seed = 3};

std::vector<int32_t> tokens(int n, int first = 1) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (first + 7 * i) % 256;
  return t;
}

// Requests of many lengths, added in order r0, r1, ...
void add_mixed_requests(cblab::Engine& engine, int count, int max_new_tokens) {
  for (int i = 0; i < count; ++i)
    engine.add_request({.id = "r" + std::to_string(i),
                        .prompt_tokens = tokens(3 + (i * 11) % 29, i),
                        .max_new_tokens = max_new_tokens + i % 3});
}
}  // namespace

TEST_CASE("a hand-checked schedule: decodes first, then chunks, then FCFS admission", "[scheduler]") {
  cblab::Scheduler scheduler({.max_tokens_per_step = 8, .prefill_chunk_size = 4, .max_running = 3});
  cblab::KVCache kv({.head_dim = 2, .num_blocks = 16, .block_size = 4});
  std::vector<cblab::Request> requests;
  for (int n : {6, 3, 5, 2}) {
    requests.push_back({.spec = {.id = std::to_string(n), .prompt_tokens = tokens(n),
                                 .max_new_tokens = 2}});
    scheduler.add(static_cast<int>(requests.size()) - 1, requests);
  }
  // Step 0: admit #0 (chunk 4), #1 (whole 3), #2 (1 token: the budget is spent); #3 waits
  // for max_running.
  auto s = scheduler.schedule(0, requests, kv);
  CHECK(s.decodes.empty());
  REQUIRE(s.prefills.size() == 3);
  CHECK((s.prefills[0].request == 0 && s.prefills[0].start == 0 && s.prefills[0].len == 4));
  CHECK((s.prefills[1].request == 1 && s.prefills[1].len == 3));
  CHECK((s.prefills[2].request == 2 && s.prefills[2].len == 1));
  CHECK(s.admitted == std::vector<int>{0, 1, 2});
  CHECK(s.num_tokens == 8);
  CHECK(s.blocks_allocated == std::vector<int32_t>{0, 1, 2});
  // Pretend the step ran: #1's prompt is done and it sampled a token.
  requests[0].num_computed_tokens = 4;
  requests[1].num_computed_tokens = 3;
  requests[1].output_tokens = {9};
  requests[1].state = cblab::RequestState::decoding;
  requests[2].num_computed_tokens = 1;
  // Step 1: #1 decodes first (1 token), then #0's last 2 prompt tokens, then #2's next chunk
  // of 4 (5 tokens of budget left); #3 still waits for max_running.
  s = scheduler.schedule(1, requests, kv);
  CHECK(s.decodes == std::vector<int>{1});
  REQUIRE(s.prefills.size() == 2);
  CHECK((s.prefills[0].request == 0 && s.prefills[0].start == 4 && s.prefills[0].len == 2));
  CHECK((s.prefills[1].request == 2 && s.prefills[1].start == 1 && s.prefills[1].len == 4));
  CHECK(s.admitted.empty());
  CHECK(s.num_tokens == 7);
}

TEST_CASE("scheduler invariants over a whole run", "[scheduler]") {
  const cblab::EngineConfig config{.max_tokens_per_step = 16, .prefill_chunk_size = 8,
                                   .max_running = 6, .block_size = 4, .num_blocks = 40};
  cblab::Engine engine(kTiny, config);
  add_mixed_requests(engine, 14, 5);
  std::set<int> decoding;  // requests with a sampled token, not finished, before each step
  int max_steps = 500;
  while (engine.has_unfinished() && max_steps-- > 0) {
    const auto before_free = engine.kv_cache().pool().num_free_blocks();
    const auto s = engine.step();
    INFO(cblab::format_step(s));
    // The budget is never exceeded, and the batch is what was scheduled.
    CHECK(s.budget_used <= config.max_tokens_per_step);
    CHECK(s.batch.num_tokens() == s.budget_used);
    for (const auto& c : s.prefills) CHECK(c.len <= config.prefill_chunk_size);
    // Decodes are never starved: every decoding request decodes (the budget exceeds
    // max_running here), and before any prefill token.
    CHECK(std::set<int>(s.decodes.begin(), s.decodes.end()) == decoding);
    // Running requests never exceed max_running; blocks are conserved.
    CHECK(s.num_running <= config.max_running);
    CHECK(before_free - static_cast<int>(s.blocks_allocated.size()) +
              static_cast<int>(s.blocks_freed.size()) ==
          engine.kv_cache().pool().num_free_blocks());
    for (const auto& t : s.sampled) decoding.insert(t.request);
    for (int f : s.finished) decoding.erase(f);
  }
  // Every request finishes, with all its tokens; all blocks return.
  for (const auto& r : engine.requests()) {
    CHECK(r.is_finished());
    CHECK(r.num_output_tokens() == r.spec.max_new_tokens);
  }
  CHECK(engine.kv_cache().pool().num_free_blocks() == config.num_blocks);
}

TEST_CASE("admission waits for free blocks and stays first-come first-served", "[scheduler]") {
  // Each request needs 20 + 4 - 1 = 23 KV slots = 6 blocks of 4; 13 blocks fit two at a time,
  // although max_running and the budget would allow four.
  const cblab::EngineConfig config{.max_tokens_per_step = 64, .prefill_chunk_size = 32,
                                   .max_running = 4, .block_size = 4, .num_blocks = 13};
  cblab::Engine engine(kTiny, config);
  for (int i = 0; i < 5; ++i)
    engine.add_request({.id = std::to_string(i), .prompt_tokens = tokens(20, i), .max_new_tokens = 4});
  std::vector<int> admission_order;
  bool waited_for_blocks = false;
  engine.run([&](const cblab::StepRecord& s) {
    admission_order.insert(admission_order.end(), s.admitted.begin(), s.admitted.end());
    CHECK(s.num_running <= 2);
    if (s.num_waiting > 0 && s.num_running < config.max_running) waited_for_blocks = true;
  });
  CHECK(waited_for_blocks);
  CHECK(admission_order == std::vector<int>{0, 1, 2, 3, 4});
  for (const auto& r : engine.requests()) CHECK(r.is_finished());
}

TEST_CASE("a request is not admitted before its arrival step", "[scheduler]") {
  cblab::Engine engine(kTiny, {.block_size = 4, .num_blocks = 64});
  engine.add_request({.id = "late", .prompt_tokens = tokens(4), .max_new_tokens = 2,
                      .arrival_step = 5});
  engine.add_request({.id = "early", .prompt_tokens = tokens(4), .max_new_tokens = 2});
  std::vector<std::pair<int, int>> admitted;  // (step, request)
  engine.run([&](const cblab::StepRecord& s) {
    for (int i : s.admitted) admitted.emplace_back(s.step, i);
  });
  CHECK(admitted == std::vector<std::pair<int, int>>{{0, 1}, {5, 0}});
  CHECK(engine.requests()[0].first_token_step == 5);
}

TEST_CASE("bad scheduler settings name the field, value and what is allowed", "[scheduler]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  CHECK_THROWS_MATCHES(cblab::Scheduler({.max_tokens_per_step = 0}), cblab::ConfigError,
                       MessageMatches(ContainsSubstring("engine.max_tokens_per_step = 0")));
  CHECK_THROWS_MATCHES(cblab::Scheduler({.prefill_chunk_size = -1}), cblab::ConfigError,
                       MessageMatches(ContainsSubstring("engine.prefill_chunk_size = -1")));
  CHECK_THROWS_MATCHES(
      cblab::Scheduler({.max_tokens_per_step = 16, .prefill_chunk_size = 32}), cblab::ConfigError,
      MessageMatches(ContainsSubstring("engine.prefill_chunk_size = 32: allowed "
                                       "1..engine.max_tokens_per_step (16)")));
  CHECK_THROWS_MATCHES(cblab::Scheduler({.max_running = 0}), cblab::ConfigError,
                       MessageMatches(ContainsSubstring("engine.max_running = 0")));
}

}  // namespace test_scheduler

// Policies, arrivals and metrics: fcfs vs priority admission and victims, a late important
// request does not block earlier ones, max_running, TTFT/TPOT in steps (hand-checked) and in
// ms, and the workload/result keys of issue 7.
#include <catch_amalgamated.hpp>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <vector>
import cblab;

namespace test_policy {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kModel{.d_model = 16, .seed = 5};

std::vector<int32_t> tokens(int n, int first) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (first * 13 + 5 * i) % 256;
  return t;
}

// Request ids in the order they finished (ties: index order).
std::vector<std::string> finish_order(const cblab::Engine& engine) {
  std::vector<std::pair<int, int>> by_step;
  for (int i = 0; i < static_cast<int>(engine.requests().size()); ++i)
    by_step.push_back({engine.requests()[i].finish_step, i});
  std::ranges::sort(by_step);
  std::vector<std::string> ids;
  for (auto [step, i] : by_step) ids.push_back(engine.requests()[i].spec.id);
  return ids;
}
}  // namespace

TEST_CASE("fcfs runs requests in arrival order, priority in priority order", "[policy]") {
  // One request at a time (max_running 1): the finish order is the admission order.
  auto finish = [](cblab::SchedulePolicy policy) {
    cblab::Engine engine(kModel, {.max_running = 1, .policy = policy});
    engine.add_request({.id = "low", .prompt_tokens = tokens(5, 1), .max_new_tokens = 3, .priority = 2});
    engine.add_request({.id = "high", .prompt_tokens = tokens(5, 2), .max_new_tokens = 3, .priority = 0});
    engine.add_request({.id = "mid", .prompt_tokens = tokens(5, 3), .max_new_tokens = 3, .priority = 1});
    engine.add_request({.id = "high2", .prompt_tokens = tokens(5, 4), .max_new_tokens = 3, .priority = 0});
    engine.run();
    return finish_order(engine);
  };
  CHECK(finish(cblab::SchedulePolicy::fcfs) == std::vector<std::string>{"low", "high", "mid", "high2"});
  CHECK(finish(cblab::SchedulePolicy::priority) ==
        std::vector<std::string>{"high", "high2", "mid", "low"});
}

TEST_CASE("a request that has not arrived does not block those that have", "[policy]") {
  cblab::Engine engine(kModel, {.max_running = 4, .policy = cblab::SchedulePolicy::priority});
  engine.add_request({.id = "late-vip", .prompt_tokens = tokens(4, 1), .max_new_tokens = 2,
                      .arrival_step = 5, .priority = 0});
  engine.add_request({.id = "now", .prompt_tokens = tokens(4, 2), .max_new_tokens = 2, .priority = 9});
  REQUIRE(engine.scheduler().waiting().front() == 0);  // first in priority order...
  const auto s0 = engine.step();
  CHECK(s0.admitted == std::vector<int>{1});            // ...but only "now" has arrived
  for (int i = 1; i < 5; ++i) CHECK(engine.step().admitted.empty());
  CHECK(engine.step().admitted == std::vector<int>{0});  // step 5
  engine.run();
  CHECK(engine.requests()[0].arrived_step == 5);
  CHECK(engine.requests()[0].ttft_steps() == 1);  // admitted, prefilled, sampled in step 5
}

TEST_CASE("the victim: fcfs the most recently admitted, priority the least important", "[policy]") {
  // A (unimportant) is admitted at step 0, B (important) at step 1; 6 blocks of 4 cannot hold
  // both to the end. At step 5 A needs a fourth block.
  auto first_preemption = [](cblab::SchedulePolicy policy) {
    cblab::Engine engine(kModel, {.max_tokens_per_step = 16, .prefill_chunk_size = 8,
                                  .block_size = 4, .num_blocks = 6, .policy = policy,
                                  .reserve_full_kv = false});
    engine.add_request({.id = "A", .prompt_tokens = tokens(8, 1), .max_new_tokens = 9, .priority = 5});
    engine.add_request({.id = "B", .prompt_tokens = tokens(8, 2), .max_new_tokens = 9,
                        .arrival_step = 1, .priority = 0});
    std::vector<cblab::Preemption> preempted;
    engine.run([&](const cblab::StepRecord& s) {
      preempted.insert(preempted.end(), s.preempted.begin(), s.preempted.end());
    });
    REQUIRE_FALSE(preempted.empty());
    return preempted.front();
  };
  const auto fcfs = first_preemption(cblab::SchedulePolicy::fcfs);
  CHECK(fcfs.request == 1);  // B: admitted last
  CHECK(fcfs.needed_by == 0);
  const auto priority = first_preemption(cblab::SchedulePolicy::priority);
  CHECK(priority.request == 0);  // A: priority 5 (smaller runs first), even though it came first
}

TEST_CASE("TTFT and TPOT in steps (hand-checked) and in engine milliseconds", "[policy]") {
  // Budget 4, chunk 4: "x" (10 tokens) prefills in steps 0..2 and samples its first token in
  // step 2; 3 more tokens in steps 3, 4, 5. "y" arrives at step 1 and waits for max_running.
  cblab::Engine engine(kModel, {.max_tokens_per_step = 4, .prefill_chunk_size = 4, .max_running = 1});
  engine.add_request({.id = "x", .prompt_tokens = tokens(10, 1), .max_new_tokens = 4});
  engine.add_request({.id = "y", .prompt_tokens = tokens(2, 2), .max_new_tokens = 1, .arrival_step = 1});
  engine.run();
  const auto& x = engine.requests()[0];
  const auto& y = engine.requests()[1];
  CHECK(x.first_token_step == 2);
  CHECK(x.ttft_steps() == 3);
  CHECK(x.finish_step == 5);
  CHECK(x.tpot_steps() == 1.0);
  CHECK(y.first_token_step == 6);  // admitted after x finished
  CHECK(y.ttft_steps() == 6);      // arrived at step 1: steps 1..6
  CHECK(y.tpot_steps() == -1);     // a single token has no inter-token time
  CHECK(x.ttft_ms() >= 0);
  CHECK(x.tpot_ms() >= 0);
  CHECK(y.first_token_us >= y.arrival_us);
  CHECK(y.arrival_us >= 0);
  const auto& m = engine.metrics();
  CHECK(m.num_output_tokens == 5);
  CHECK(m.num_computed_tokens == 10 + 3 + 2);
  CHECK(m.busy_us >= y.finish_us);
  CHECK(m.max_blocks_used == 1);
  CHECK(m.max_kv_utilization() == 1.0 / 256);
}

TEST_CASE("workload keys of issue 7 in, result keys and metrics out", "[policy]") {
  const auto w = cblab::parse_workload(R"({
    "engine": {"policy": "priority", "reserve_full_kv": false, "num_blocks": 6, "block_size": 4},
    "requests": [
      {"prompt": "abcdefgh", "max_new_tokens": 9, "priority": 3},
      {"prompt": "ijklmnop", "max_new_tokens": 9, "priority": 1, "temperature": 0.7,
       "top_k": 20, "top_p": 0.9, "seed": 12345678901}
    ]})");
  CHECK(w.engine.policy == cblab::SchedulePolicy::priority);
  CHECK_FALSE(w.engine.reserve_full_kv);
  CHECK(w.requests[0].priority == 3);
  CHECK(w.requests[1].sampling.temperature == 0.7f);
  CHECK(w.requests[1].sampling.top_k == 20);
  CHECK(w.requests[1].sampling.top_p == 0.9f);
  CHECK(w.requests[1].sampling.seed == 12345678901ull);
  CHECK(cblab::parse_workload("{}").engine.reserve_full_kv);  // the default

  cblab::Engine engine = cblab::make_engine(w);
  engine.run();
  const auto result = nlohmann::json::parse(cblab::result_json(engine));
  const auto& m = result["metrics"];
  CHECK(m["preemptions"].get<int>() == engine.metrics().num_preemptions);
  CHECK(m["preemptions"].get<int>() > 0);
  CHECK(m["preemptions_by_reason"]["decode_needs_block"].get<int>() +
            m["preemptions_by_reason"]["prefill_needs_block"].get<int>() ==
        m["preemptions"].get<int>());
  CHECK(m["max_kv_utilization"].get<double>() == 1.0);
  CHECK(m["output_tokens"].get<int>() == 18);
  CHECK(m["tokens_per_s"].get<double>() > 0);
  int preemptions = 0;
  for (const auto& r : result["requests"]) {
    preemptions += r["num_preemptions"].get<int>();
    CHECK(r["ttft_steps"].get<int>() >= 1);
    CHECK(r["tpot_steps"].get<double>() >= 1.0);
    CHECK(r["ttft_ms"].get<double>() >= 0);
    CHECK(r["tpot_ms"].get<double>() >= 0);
  }
  CHECK(preemptions == m["preemptions"].get<int>());

  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  CHECK_THROWS_MATCHES(cblab::parse_workload(R"({"engine": {"policy": "lifo"}})"), cblab::WorkloadError,
                       MessageMatches(ContainsSubstring(R"(engine.policy = "lifo": allowed "fcfs" or "priority")")));
  CHECK_THROWS_MATCHES(cblab::parse_workload(R"({"engine": {"reserve_full_kv": 1}})"), cblab::WorkloadError,
                       MessageMatches(ContainsSubstring("engine.reserve_full_kv = 1: allowed true or false")));
  CHECK_THROWS_MATCHES(cblab::make_engine(cblab::parse_workload(
                           R"({"requests": [{"prompt": "a", "top_p": 2}]})")),
                       cblab::WorkloadError, MessageMatches(ContainsSubstring("requests[0].top_p = 2")));
}

}  // namespace test_policy

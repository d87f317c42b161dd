// Parallel sampling (RequestSpec::n > 1): each sample is the request run alone with seed + k;
// greedy samples are identical; the prompt's full blocks are shared by reference count (ref
// count = live samples while they decode, fewer blocks than n independent requests, never
// written while shared), with prefix caching on and off, under memory pressure (a preempted
// sample resumes with exactly its unpressured tokens), with abort; pool conservation after
// every step; n in workloads and results.
#include <catch_amalgamated.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdint>
#include <format>
#include <map>
#include <set>
#include <string>
#include <vector>
import cblab;

namespace test_parallel_sampling {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kModel{.d_model = 16, .n_heads = 2, .seed = 5};
// B = 4: an 18-token prompt has (18 - 1) / 4 = 4 full blocks its samples share.
const cblab::EngineConfig kRoomy{.max_tokens_per_step = 16, .prefill_chunk_size = 8,
                                 .max_running = 8, .block_size = 4, .num_blocks = 128};

std::vector<int32_t> tokens(int n, int first) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (first * 29 + 5 * i) % 256;
  return t;
}

// After every step: a block's ref count is the number of tables holding it, held + free =
// total (conservation), the snapshot agrees with the pool, and no token of the step was written
// into a block that is shared (vLLM's rule: only full, computed blocks are ever shared).
void check_invariants(const cblab::Engine& engine, const cblab::StepRecord& s) {
  const auto& kv = engine.kv_cache();
  const auto& pool = kv.pool();
  const auto& requests = engine.requests();
  std::map<int32_t, int> holders;
  for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
    const auto& r = requests[i];
    REQUIRE(kv.num_tokens(i) == (r.is_running() ? r.num_computed_tokens : 0));
    const auto table = kv.block_table(i);
    REQUIRE(static_cast<int>(table.size()) == kv.blocks_needed(kv.num_tokens(i)));
    REQUIRE(std::set<int32_t>(table.begin(), table.end()).size() == table.size());
    for (int32_t b : table) ++holders[b];
    REQUIRE(r.num_output_tokens() <= r.spec.max_new_tokens);
  }
  int num_free = 0;
  for (int b = 0; b < pool.num_blocks(); ++b) {
    const int count = holders.contains(b) ? holders[b] : 0;
    REQUIRE(pool.ref_count(b) == count);
    REQUIRE(s.blocks[b].ref_count == count);
    num_free += count == 0;
  }
  REQUIRE(num_free == pool.num_free_blocks());
  REQUIRE(static_cast<int>(holders.size()) + num_free == pool.num_blocks());
  const int B = kv.config().block_size;
  for (int32_t slot : s.batch.slot_mapping) REQUIRE(s.blocks[slot / B].ref_count <= 1);
  if (engine.config().reserve_full_kv) REQUIRE(s.preempted.empty());
}

struct Run {
  std::vector<std::vector<int32_t>> outputs;  // per sequence (sample), by index
  cblab::EngineMetrics metrics;
  int max_ref_count = 0;
};

Run run(const cblab::EngineConfig& config, const std::vector<cblab::RequestSpec>& specs) {
  cblab::Engine engine(kModel, config);
  for (const auto& s : specs) engine.add_request(s);
  Run out;
  engine.run([&](const cblab::StepRecord& s) {
    check_invariants(engine, s);
    for (const auto& b : s.blocks) out.max_ref_count = std::max(out.max_ref_count, b.ref_count);
  });
  out.metrics = engine.metrics();
  for (const auto& r : engine.requests()) out.outputs.push_back(r.output_tokens);
  return out;
}

cblab::RequestSpec sampled(std::string id, int n, uint64_t seed, int prompt_first = 1) {
  return {.id = std::move(id), .prompt_tokens = tokens(18, prompt_first), .max_new_tokens = 10,
          .sampling = {.temperature = 1.5f, .seed = seed}, .n = n};
}
}  // namespace

TEST_CASE("each sample is the request run alone with seed + k", "[parallel_sampling]") {
  for (const bool prefix_caching : {false, true}) {
    INFO("prefix_caching " << prefix_caching);
    cblab::EngineConfig config = kRoomy;
    config.prefix_caching = prefix_caching;
    // Another request in the batch, before and after: it must not matter.
    const cblab::RequestSpec other{.id = "other", .prompt_tokens = tokens(9, 7), .max_new_tokens = 6};
    const cblab::RequestSpec late{.id = "late", .prompt_tokens = tokens(5, 3),
                                  .max_new_tokens = 4, .arrival_step = 2};
    const Run parallel = run(config, {other, sampled("p", 4, 100), late});
    REQUIRE(parallel.outputs.size() == 6);  // other, p#0..p#3, late
    CHECK(parallel.max_ref_count == 4);     // the prompt blocks, shared by the four samples
    std::set<std::vector<int32_t>> distinct;
    for (int k = 0; k < 4; ++k) {
      const Run alone = run(config, {sampled("p", 1, 100 + k)});
      INFO("sample " << k);
      CHECK(parallel.outputs[1 + k] == alone.outputs[0]);
      CHECK(parallel.outputs[1 + k].size() == 10);
      distinct.insert(parallel.outputs[1 + k]);
    }
    CHECK(distinct.size() > 1);  // their own streams: not all the same tokens
    CHECK(parallel.metrics.num_output_tokens == 6 + 4 * 10 + 4);  // every sample's tokens count
  }
}

TEST_CASE("greedy n = 4 is n = 1 four times", "[parallel_sampling]") {
  for (const bool prefix_caching : {false, true}) {
    cblab::EngineConfig config = kRoomy;
    config.prefix_caching = prefix_caching;
    cblab::RequestSpec greedy{.id = "g", .prompt_tokens = tokens(18, 2), .max_new_tokens = 12};
    const Run one = run(config, {greedy});
    greedy.n = 4;
    const Run four = run(config, {greedy});
    REQUIRE(four.outputs.size() == 4);
    for (const auto& out : four.outputs) CHECK(out == one.outputs[0]);
  }
}

TEST_CASE("the prompt's full blocks have ref count = live samples; fewer blocks than n requests",
          "[parallel_sampling]") {
  for (const bool prefix_caching : {false, true}) {
    INFO("prefix_caching " << prefix_caching);
    cblab::EngineConfig config = kRoomy;
    config.prefix_caching = prefix_caching;
    cblab::Engine engine(kModel, config);
    // Three samples; one stops at its first token (stop token = what sample 1 draws first), so
    // the count drops while the others decode.
    cblab::RequestSpec spec = sampled("p", 3, 40);
    const Run probe = run(config, {sampled("p", 1, 41)});
    spec.stop_tokens = {probe.outputs[0][0]};
    const int first = engine.add_request(spec);
    int num_decode_steps_checked = 0;
    std::vector<cblab::StepRecord> steps;
    engine.run([&](const cblab::StepRecord& s) {
      check_invariants(engine, s);
      steps.push_back(s);
      const auto& requests = engine.requests();
      int live = 0;
      bool all_decoding = true;
      for (int k = 0; k < 3; ++k) {
        live += !requests[first + k].is_finished();
        all_decoding = all_decoding && (requests[first + k].is_finished() ||
                                        requests[first + k].state == cblab::RequestState::decoding);
      }
      if (live == 0 || !all_decoding) return;
      // The samples' first four blocks are the same physical blocks, held by every live sample.
      int first_live = first;
      while (requests[first_live].is_finished()) ++first_live;
      const auto table0 = engine.kv_cache().block_table(first_live);
      for (int k = 0; k < 4; ++k) CHECK(s.blocks[table0[k]].ref_count == live);
      for (int k = 0; k < 3; ++k)
        if (!requests[first + k].is_finished()) {
          const auto table = engine.kv_cache().block_table(first + k);
          CHECK(std::equal(table0.begin(), table0.begin() + 4, table.begin()));
          CHECK(s.blocks[table[4]].ref_count == 1);  // from the last prompt token on: its own
        }
      ++num_decode_steps_checked;
    });
    CHECK(num_decode_steps_checked >= 8);
    // Samples 1 and 2 waited for sample 0's prompt, then shared its 4 full blocks.
    bool shared = false;
    for (const auto& s : steps)
      for (const auto& p : s.prompt_shares) {
        CHECK(p.donor == first);
        CHECK(p.num_blocks == 4);
        shared = true;
        CHECK(cblab::format_step(s, engine.requests())
                  .find(std::format(" shares=#{}(p#{})<-#0(p#0):4 blocks", p.request, p.request)) !=
              std::string::npos);
      }
    CHECK(shared);
    CHECK(engine.requests()[first + 1].finish_reason == cblab::FinishReason::stop);
    CHECK(engine.requests()[first + 1].num_output_tokens() == 1);
  }
  // n = 3 against three independent requests with the same prompt (prefix caching off).
  const int parallel_peak = run(kRoomy, {sampled("p", 3, 40)}).metrics.max_blocks_used;
  const int independent_peak =
      run(kRoomy, {sampled("a", 1, 40), sampled("b", 1, 41), sampled("c", 1, 42)})
          .metrics.max_blocks_used;
  INFO("peak blocks: n = 3 " << parallel_peak << ", 3 requests " << independent_peak);
  CHECK(parallel_peak == 3 * 7 - 2 * 4);  // 18 + 9 = 27 slots: 7 blocks each, 4 of them shared
  CHECK(parallel_peak < independent_peak);
}

TEST_CASE("under memory pressure a preempted sample resumes with exactly its tokens",
          "[parallel_sampling]") {
  for (const bool prefix_caching : {false, true})
    for (const auto policy : {cblab::SchedulePolicy::fcfs, cblab::SchedulePolicy::priority}) {
      INFO("prefix_caching " << prefix_caching << ", policy " << cblab::to_string(policy));
      cblab::EngineConfig config = kRoomy;
      config.prefix_caching = prefix_caching;
      config.policy = policy;
      std::vector<cblab::RequestSpec> specs = {
          sampled("p", 4, 7), {.id = "q", .prompt_tokens = tokens(11, 4), .max_new_tokens = 9,
                               .priority = 1, .sampling = {.temperature = 0.8f, .seed = 3}, .n = 2},
          {.id = "g", .prompt_tokens = tokens(18, 1), .max_new_tokens = 10, .arrival_step = 3}};
      const Run roomy = run(config, specs);
      int num_preemptions = 0;
      config.reserve_full_kv = false;
      for (const int num_blocks : {7, 8, 10, 12, 16}) {
        INFO("num_blocks " << num_blocks);
        config.num_blocks = num_blocks;
        const Run tight = run(config, specs);
        CHECK(tight.outputs == roomy.outputs);
        num_preemptions += tight.metrics.num_preemptions;
      }
      CHECK(num_preemptions > 0);
    }
}

TEST_CASE("abort of the request id aborts every sample and frees their blocks", "[parallel_sampling]") {
  for (const bool prefix_caching : {false, true}) {
    cblab::EngineConfig config = kRoomy;
    config.prefix_caching = prefix_caching;
    const cblab::RequestSpec other{.id = "other", .prompt_tokens = tokens(9, 7), .max_new_tokens = 12};
    const Run alone = run(config, {other});
    cblab::Engine engine(kModel, config);
    engine.add_request(sampled("p", 3, 9));
    engine.add_request(other);
    for (int i = 0; i < 5; ++i) check_invariants(engine, engine.step());
    CHECK(engine.requests()[2].state == cblab::RequestState::decoding);
    CHECK(engine.abort("p"));
    CHECK_FALSE(engine.abort("p"));  // already finished
    const auto s = engine.step();
    check_invariants(engine, s);
    CHECK(s.aborted == std::vector<int>{0, 1, 2});
    CHECK(cblab::format_step(s, engine.requests()).ends_with(" aborted=[0(p#0) 1(p#1) 2(p#2)]"));
    for (int k = 0; k < 3; ++k) {
      CHECK(engine.requests()[k].finish_reason == cblab::FinishReason::abort);
      CHECK(engine.kv_cache().num_blocks_held(k) == 0);
    }
    engine.run([&](const cblab::StepRecord& r) { check_invariants(engine, r); });
    CHECK(engine.requests()[3].output_tokens == alone.outputs[0]);
    CHECK(engine.kv_cache().pool().num_free_blocks() == config.num_blocks);
    CHECK(engine.metrics().num_aborted == 3);
  }
}

TEST_CASE("n is checked, read from workloads and written per sample", "[parallel_sampling]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  cblab::Engine engine(kModel, kRoomy);
  for (const int n : {0, -1, cblab::kMaxSamples + 1})
    CHECK_THROWS_MATCHES(engine.add_request({.id = "r", .prompt_tokens = {1}, .n = n}),
                         cblab::RequestError,
                         MessageMatches(ContainsSubstring(std::format("n = {}: allowed 1..64", n))));
  CHECK(engine.requests().empty());

  const std::string workload = R"({"engine": {"block_size": 4},
    "requests": [{"prompt": "Hello", "max_new_tokens": 3},
                 {"id": "many", "prompt": "Hello, samples", "max_new_tokens": 4, "n": 3,
                  "temperature": 1.0, "seed": 10}]})";
  const auto w = cblab::parse_workload(workload);
  CHECK(w.requests[0].n == 1);
  CHECK(w.requests[1].n == 3);
  CHECK_THROWS_MATCHES(cblab::parse_workload(R"({"requests": [{"prompt": "a", "n": "x"}]})"),
                       cblab::WorkloadError, MessageMatches(ContainsSubstring("requests[0].n")));
  CHECK_THROWS_MATCHES(
      cblab::make_engine(cblab::parse_workload(R"({"requests": [{"prompt": "a", "n": 0}]})")),
      cblab::WorkloadError, MessageMatches(ContainsSubstring("requests[0].n = 0")));

  cblab::Engine e = cblab::make_engine(w);
  e.run();
  const auto result = nlohmann::json::parse(cblab::result_json(e));
  const auto& requests = result["requests"];
  REQUIRE(requests.size() == 2);  // one entry per request, not per sample
  CHECK_FALSE(requests[0].contains("outputs"));  // n = 1: the format is unchanged
  CHECK(requests[0]["output_tokens"].get<std::vector<int32_t>>() == e.requests()[0].output_tokens);
  CHECK(requests[1]["id"] == "many");
  CHECK(requests[1]["n"] == 3);
  CHECK_FALSE(requests[1].contains("output_tokens"));
  REQUIRE(requests[1]["outputs"].size() == 3);
  for (int k = 0; k < 3; ++k) {
    const auto& o = requests[1]["outputs"][k];
    CHECK(o["index"] == k);
    CHECK(o["seed"] == 10 + k);
    CHECK(o["output_tokens"].get<std::vector<int32_t>>() == e.requests()[1 + k].output_tokens);
    CHECK(o["finish_reason"] == "length");
  }
  CHECK(result["metrics"]["output_tokens"] == 3 + 3 * 4);
}

}  // namespace test_parallel_sampling

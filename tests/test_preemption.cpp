// Preemption by recompute (engine.reserve_full_kv = false): a hand-checked preemption step by
// step, preempted-and-resumed requests give exactly the tokens they give without memory
// pressure, and the allocator's invariants hold after every step of randomized workloads
// (with aborts, both policies, sampled requests).
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>
import cblab;

namespace test_preemption {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kModel{.d_model = 16, .n_heads = 2, .seed = 11};

std::vector<int32_t> tokens(int n, int first) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (first * 31 + 7 * i) % 256;
  return t;
}

// The invariants a paged KV allocator and a preempting scheduler keep after every step.
void check_invariants(const cblab::Engine& engine, const cblab::StepRecord& s) {
  const auto& kv = engine.kv_cache();
  const auto& pool = kv.pool();
  int num_free = 0;
  for (int b = 0; b < pool.num_blocks(); ++b) {
    REQUIRE(pool.ref_count(b) >= 0);
    if (pool.ref_count(b) == 0) {
      ++num_free;
      REQUIRE(pool.owner(b) == -1);
    }
  }
  REQUIRE(num_free == pool.num_free_blocks());
  std::set<int32_t> held;
  const auto& requests = engine.requests();
  for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
    const auto& r = requests[i];
    for (int32_t b : kv.block_table(i)) {
      REQUIRE(held.insert(b).second);  // no block in two tables (nothing is shared)
      REQUIRE(pool.ref_count(b) == 1);
      REQUIRE(pool.owner(b) == i);
    }
    // Slots exactly for the computed tokens; none for a request that is not running.
    REQUIRE(kv.num_tokens(i) == (r.is_running() ? r.num_computed_tokens : 0));
    REQUIRE(kv.num_blocks_held(i) == kv.blocks_needed(kv.num_tokens(i)));
    REQUIRE(r.num_output_tokens() <= r.spec.max_new_tokens);
  }
  REQUIRE(static_cast<int>(held.size()) + num_free == pool.num_blocks());
  // The running set is exactly the running requests; preempted ones wait.
  for (int i : engine.scheduler().running()) REQUIRE(requests[i].is_running());
  for (int i : engine.scheduler().waiting())
    REQUIRE((requests[i].state == cblab::RequestState::waiting ||
             requests[i].state == cblab::RequestState::preempted));
  REQUIRE(s.budget_used <= s.budget);
  if (!s.preempted.empty()) REQUIRE(s.admitted.empty());  // no admission in a preempting step
  // The conservative admission keeps its promise: nobody is ever preempted.
  if (engine.config().reserve_full_kv) REQUIRE(s.preempted.empty());
  for (const auto& p : s.preempted) REQUIRE(p.num_tokens_lost >= 0);
}

struct Run {
  std::vector<std::vector<int32_t>> outputs;
  cblab::EngineMetrics metrics;
};

Run run(const cblab::EngineConfig& config, const std::vector<cblab::RequestSpec>& specs) {
  cblab::Engine engine(kModel, config);
  for (const auto& s : specs) engine.add_request(s);
  engine.run([&](const cblab::StepRecord& s) { check_invariants(engine, s); });
  Run out{.metrics = engine.metrics()};
  for (const auto& r : engine.requests()) out.outputs.push_back(r.output_tokens);
  return out;
}

const cblab::EngineConfig kRoomy{.max_tokens_per_step = 16, .prefill_chunk_size = 8,
                                 .max_running = 8, .block_size = 4, .num_blocks = 256};
}  // namespace

TEST_CASE("a hand-checked preemption: the newest request goes, comes back, recomputes", "[preemption]") {
  // 6 blocks of 4 slots. A and B: 8 prompt tokens, 9 new tokens: 16 slots each at most, so
  // each fits alone; together they cannot finish.
  cblab::EngineConfig config = kRoomy;
  config.num_blocks = 6;
  config.reserve_full_kv = false;
  cblab::Engine engine(kModel, config);
  engine.add_request({.id = "A", .prompt_tokens = tokens(8, 1), .max_new_tokens = 9});
  engine.add_request({.id = "B", .prompt_tokens = tokens(8, 2), .max_new_tokens = 9});
  std::vector<cblab::StepRecord> steps;
  engine.run([&](const cblab::StepRecord& s) {
    check_invariants(engine, s);
    steps.push_back(s);
  });
  // Step 0 admits both (2 blocks each: the prompts fit), step 1 each takes a third block
  // (position 8): the pool is full. Step 5: A's position 12 needs a fourth block: B, the most
  // recently admitted, is preempted, losing its 12 computed tokens; nobody is admitted.
  CHECK(steps[0].admitted == std::vector<int>{0, 1});
  for (int i = 0; i < 5; ++i) CHECK(steps[i].preempted.empty());
  const auto& s5 = steps[5];
  REQUIRE(s5.preempted.size() == 1);
  CHECK(s5.preempted[0].request == 1);
  CHECK(s5.preempted[0].needed_by == 0);
  CHECK(s5.preempted[0].reason == cblab::PreemptionReason::decode_needs_block);
  CHECK(s5.preempted[0].num_tokens_lost == 12);
  CHECK(s5.decodes == std::vector<int>{0});
  CHECK(s5.blocks_freed.size() == 3);
  CHECK(s5.admitted.empty());
  CHECK(s5.num_waiting == 1);
  CHECK(cblab::format_step(s5).ends_with(
      " preempted=#1(for #0, decode_needs_block, lost 12 tokens)"));
  // B (13 tokens: 4 blocks) waits while A holds 4 of 6; A finishes at step 8, B is
  // re-admitted at step 9 and recomputes prompt + 5 outputs in chunks [0, 8) and [8, 13).
  for (int i = 6; i <= 8; ++i) CHECK(steps[i].admitted.empty());
  CHECK(steps[8].finished == std::vector<int>{0});
  CHECK(steps[9].admitted == std::vector<int>{1});
  REQUIRE(steps[9].prefills.size() == 1);
  CHECK((steps[9].prefills[0].start == 0 && steps[9].prefills[0].len == 8));
  REQUIRE(steps[10].prefills.size() == 1);
  CHECK((steps[10].prefills[0].start == 8 && steps[10].prefills[0].len == 5));
  CHECK(steps[10].sampled.size() == 1);  // B's sixth token, right after the recompute
  const auto& b = engine.requests()[1];
  CHECK(b.num_preemptions == 1);
  CHECK(b.finish_step == 13);
  CHECK(engine.metrics().num_preemptions == 1);
  CHECK(engine.metrics().num_tokens_lost == 12);
  CHECK(engine.metrics().max_blocks_used == 6);
  // Exactly the tokens of a run without memory pressure.
  const auto roomy = run(kRoomy, {{.id = "A", .prompt_tokens = tokens(8, 1), .max_new_tokens = 9},
                                  {.id = "B", .prompt_tokens = tokens(8, 2), .max_new_tokens = 9}});
  CHECK(engine.requests()[0].output_tokens == roomy.outputs[0]);
  CHECK(b.output_tokens == roomy.outputs[1]);
}

TEST_CASE("under memory pressure, preempted requests produce the tokens they produce without", "[preemption]") {
  std::vector<cblab::RequestSpec> specs;
  for (int i = 0; i < 10; ++i)
    specs.push_back({.id = "r" + std::to_string(i), .prompt_tokens = tokens(3 + (i * 7) % 17, i),
                     .max_new_tokens = 6 + (i * 5) % 11, .arrival_step = i % 4,
                     .priority = i % 3,
                     // every third request samples: recompute must not draw its tokens again
                     .sampling = {.temperature = i % 3 == 0 ? 1.f : 0.f, .seed = uint64_t(i)}});
  const auto want = run(kRoomy, specs);
  for (auto policy : {cblab::SchedulePolicy::fcfs, cblab::SchedulePolicy::priority}) {
    for (int num_blocks : {8, 12, 20}) {
      cblab::EngineConfig config = kRoomy;
      config.num_blocks = num_blocks;
      config.reserve_full_kv = false;
      config.policy = policy;
      INFO(cblab::to_string(policy) << ", " << num_blocks << " blocks");
      const auto got = run(config, specs);
      CHECK(got.metrics.num_preemptions > 0);
      CHECK(got.outputs == want.outputs);
    }
  }
  // The conservative default never preempts, with the same small pool.
  cblab::EngineConfig reserve = kRoomy;
  reserve.num_blocks = 8;
  const auto reserved = run(reserve, specs);
  CHECK(reserved.metrics.num_preemptions == 0);
  CHECK(reserved.outputs == want.outputs);
}

TEST_CASE("allocator invariants after every step of randomized workloads, with aborts", "[preemption]") {
  int total_preemptions = 0, total_aborts = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    cblab::SplitMix64 rng{seed};
    auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng.next() % (hi - lo + 1)); };
    cblab::EngineConfig config{.max_tokens_per_step = pick(4, 24), .prefill_chunk_size = 1,
                               .max_running = pick(1, 6), .block_size = pick(1, 6)};
    config.prefill_chunk_size = pick(1, config.max_tokens_per_step);
    config.num_blocks = pick(30 / config.block_size + 1, 40 / config.block_size + 2);
    config.kv_cache = pick(0, 1) ? cblab::KVCacheKind::paged : cblab::KVCacheKind::dense;
    config.policy = pick(0, 1) ? cblab::SchedulePolicy::fcfs : cblab::SchedulePolicy::priority;
    config.reserve_full_kv = pick(0, 3) == 0;
    std::vector<cblab::RequestSpec> specs;
    const int n = pick(4, 10);
    for (int i = 0; i < n; ++i)
      specs.push_back({.id = std::to_string(i), .prompt_tokens = tokens(pick(1, 16), pick(0, 99)),
                       .max_new_tokens = pick(0, 12), .arrival_step = pick(0, 8),
                       .priority = pick(0, 2),
                       .sampling = {.temperature = pick(0, 2) == 0 ? 0.8f : 0.f,
                                    .top_k = pick(0, 5), .seed = rng.next()}});
    const auto want = run(kRoomy, specs);

    cblab::Engine engine(kModel, config);
    for (const auto& s : specs) engine.add_request(s);
    std::set<int> aborted;
    int steps = 0;
    while (engine.has_unfinished()) {
      if (pick(0, 19) == 0) {  // now and then, abort a random request
        const int victim = pick(0, n - 1);
        if (engine.abort(specs[victim].id)) aborted.insert(victim);
      }
      const auto s = engine.step();
      INFO("seed " << seed << ": " << cblab::format_step(s));
      check_invariants(engine, s);
      REQUIRE(++steps < 2000);  // progress
    }
    for (int i = 0; i < n; ++i) {
      INFO("seed " << seed << " request " << i);
      const auto& r = engine.requests()[i];
      CHECK(r.is_finished());
      if (!aborted.contains(i)) CHECK(r.output_tokens == want.outputs[i]);
    }
    CHECK(engine.kv_cache().pool().num_free_blocks() == config.num_blocks);
    total_preemptions += engine.metrics().num_preemptions;
    total_aborts += static_cast<int>(aborted.size());
  }
  INFO("preemptions " << total_preemptions << ", aborts " << total_aborts);
  CHECK(total_preemptions > 20);  // the workloads really were under pressure
  CHECK(total_aborts > 5);
}

}  // namespace test_preemption

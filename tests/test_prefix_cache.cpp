// Prefix caching (engine.prefix_caching): a hand-checked hit (shared blocks, the last token
// still computed), on and off give the same tokens (greedy and sampled, with preemption), a
// shared system prompt gives hits and fewer blocks, LRU eviction, and the allocator's
// invariants with sharing after every step of randomized workloads.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>
import cblab;

namespace test_prefix_cache {  // this file's names: the test sources build as unity batches

namespace {
const cblab::ModelConfig kModel{.d_model = 16, .n_heads = 2, .seed = 23};

std::vector<int32_t> tokens(int n, int first) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (first * 17 + 3 * i) % 256;
  return t;
}
std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Invariants with sharing: a block's ref count is the number of tables holding it, distinct
// held blocks + free = total, a cached block is findable under its hash, and a held cached
// block's hash is the chained hash of the tokens its holders have at that place.
void check_invariants(const cblab::Engine& engine, const cblab::StepRecord& s) {
  const auto& kv = engine.kv_cache();
  const auto& pool = kv.pool();
  std::map<int32_t, int> holders;
  const auto& requests = engine.requests();
  for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
    const auto& r = requests[i];
    const auto table = kv.block_table(i);
    REQUIRE(kv.num_tokens(i) == (r.is_running() ? r.num_computed_tokens : 0));
    REQUIRE(static_cast<int>(table.size()) == kv.blocks_needed(kv.num_tokens(i)));
    std::set<int32_t> own(table.begin(), table.end());
    REQUIRE(own.size() == table.size());  // a table never holds a block twice
    const auto hashes = kv.full_block_hashes(r.all_tokens());
    for (std::size_t k = 0; k < table.size(); ++k) {
      ++holders[table[k]];
      // A block its holder has computed in full and that is cached carries the prefix's hash.
      if (pool.is_cached(table[k]) && (k + 1) * kv.config().block_size <= std::size_t(r.num_computed_tokens))
        REQUIRE(pool.hash(table[k]) == hashes[k]);
    }
  }
  int num_free = 0;
  for (int b = 0; b < pool.num_blocks(); ++b) {
    const int count = holders.contains(b) ? holders[b] : 0;
    REQUIRE(pool.ref_count(b) == count);
    num_free += count == 0;
    if (pool.is_cached(b)) REQUIRE(pool.find_cached(pool.hash(b)) == b);
    if (s.blocks[b].ref_count != pool.ref_count(b)) FAIL("snapshot and pool disagree");
  }
  REQUIRE(num_free == pool.num_free_blocks());
  // The conservative admission keeps its promise: nobody is ever preempted.
  if (engine.config().reserve_full_kv) REQUIRE(s.preempted.empty());
  REQUIRE(static_cast<int>(holders.size()) + num_free == pool.num_blocks());
}

struct Run {
  std::vector<std::vector<int32_t>> outputs;
  cblab::EngineMetrics metrics;
  std::vector<int> cached;  // cached_prompt_tokens per request
};

Run run(const cblab::EngineConfig& config, const std::vector<cblab::RequestSpec>& specs) {
  cblab::Engine engine(kModel, config);
  for (const auto& s : specs) engine.add_request(s);
  engine.run([&](const cblab::StepRecord& s) { check_invariants(engine, s); });
  Run out{.metrics = engine.metrics()};
  for (const auto& r : engine.requests()) {
    out.outputs.push_back(r.output_tokens);
    out.cached.push_back(r.num_cached_prompt_tokens);
  }
  return out;
}

const cblab::EngineConfig kBase{.max_tokens_per_step = 32, .prefill_chunk_size = 8,
                                .max_running = 8, .block_size = 4, .num_blocks = 64};

// A 24-token system prompt shared by every request, then a question of its own; they arrive
// one step apart, so each finds the previous ones' blocks.
std::vector<cblab::RequestSpec> shared_prompt_requests() {
  const auto system = tokens(24, 1);
  std::vector<cblab::RequestSpec> specs;
  for (int i = 0; i < 6; ++i)
    specs.push_back({.id = "q" + std::to_string(i), .prompt_tokens = concat(system, tokens(3 + i, 50 + i)),
                     .max_new_tokens = 6, .arrival_step = 4 * i,
                     .sampling = {.temperature = i % 2 ? 0.9f : 0.f, .seed = uint64_t(i)}});
  return specs;
}
}  // namespace

TEST_CASE("a hand-checked hit: shared full blocks, the last prompt token still computed", "[prefix_cache]") {
  auto config = kBase;
  config.prefix_caching = true;
  config.prefill_chunk_size = 16;
  cblab::Engine engine(kModel, config);
  const auto a_prompt = tokens(10, 1);
  const std::vector<int32_t> first8(a_prompt.begin(), a_prompt.begin() + 8);
  // A: 10 tokens = blocks [4][4][2]. B, the same prompt, arrives after A has finished: it
  // shares A's two full blocks (8 tokens) and computes tokens 8 and 9 itself. C's prompt is
  // exactly 8 tokens, A's first two blocks: it takes only the first, so that it computes its
  // last token.
  engine.add_request({.id = "A", .prompt_tokens = tokens(10, 1), .max_new_tokens = 2});
  engine.add_request({.id = "B", .prompt_tokens = tokens(10, 1), .max_new_tokens = 2, .arrival_step = 3});
  engine.add_request({.id = "C", .prompt_tokens = first8,
                      .max_new_tokens = 2, .arrival_step = 3});
  const auto s0 = engine.step();
  REQUIRE(s0.prefix_hits.size() == 1);
  CHECK(s0.prefix_hits[0].num_cached_tokens == 0);  // nothing cached yet: a miss
  const std::vector<int32_t> a_blocks(engine.kv_cache().block_table(0).begin(),
                                      engine.kv_cache().block_table(0).end());
  engine.step();  // A's second token: A finishes and frees its blocks...
  CHECK(engine.requests()[0].is_finished());
  const auto s2 = engine.step();  // idle: nothing has arrived
  CHECK(s2.blocks[a_blocks[0]].is_cached);   // ...which stay cached while free
  CHECK(s2.blocks[a_blocks[0]].ref_count == 0);
  CHECK_FALSE(s2.blocks[a_blocks[2]].is_cached);  // the partial block is not
  CHECK(cblab::format_block_pool(s2.blocks, 4).find("free cached") != std::string::npos);
  const auto s3 = engine.step();
  REQUIRE(s3.prefix_hits.size() == 2);
  CHECK(s3.prefix_hits[0].num_cached_tokens == 8);
  CHECK(s3.prefix_hits[1].num_cached_tokens == 4);
  REQUIRE(s3.prefills.size() == 2);
  CHECK((s3.prefills[0].start == 8 && s3.prefills[0].len == 2));
  CHECK((s3.prefills[1].start == 4 && s3.prefills[1].len == 4));
  const auto b_table = engine.kv_cache().block_table(1);
  const auto c_table = engine.kv_cache().block_table(2);
  CHECK((b_table[0] == a_blocks[0] && b_table[1] == a_blocks[1]));
  CHECK(c_table[0] == a_blocks[0]);
  CHECK(s3.blocks[a_blocks[0]].ref_count == 2);  // shared by B and C
  CHECK(cblab::format_step(s3).find(" cache_hit=#1:8 cache_hit=#2:4") != std::string::npos);
  engine.run();
  // The same tokens as without the cache.
  auto off = kBase;
  const auto want = run(off, {{.id = "A", .prompt_tokens = tokens(10, 1), .max_new_tokens = 2},
                              {.id = "C", .prompt_tokens = first8,
                               .max_new_tokens = 2}});
  CHECK(engine.requests()[1].output_tokens == want.outputs[0]);
  CHECK(engine.requests()[2].output_tokens == want.outputs[1]);
  CHECK(engine.requests()[1].num_cached_prompt_tokens == 8);
  CHECK(engine.metrics().prefix_cache_hit_tokens == 12);
}

TEST_CASE("a shared system prompt: same tokens on and off, hits, fewer blocks", "[prefix_cache]") {
  const auto specs = shared_prompt_requests();
  const auto off = run(kBase, specs);
  auto config = kBase;
  config.prefix_caching = true;
  const auto on = run(config, specs);
  CHECK(on.outputs == off.outputs);
  CHECK(off.metrics.prefix_cache_hit_tokens == 0);
  CHECK(on.metrics.prefix_cache_hit_tokens > 0);
  CHECK(on.metrics.prefix_cache_hit_rate() > 0.5);
  for (std::size_t i = 1; i < specs.size(); ++i) CHECK(on.cached[i] == 24);  // 6 blocks of 4
  CHECK(on.cached[0] == 0);
  CHECK(on.metrics.num_computed_tokens < off.metrics.num_computed_tokens);
  INFO("max blocks used: on " << on.metrics.max_blocks_used << ", off " << off.metrics.max_blocks_used);
  CHECK(on.metrics.max_blocks_used < off.metrics.max_blocks_used);
  // With memory pressure and preemption too, and with the priority policy.
  for (auto policy : {cblab::SchedulePolicy::fcfs, cblab::SchedulePolicy::priority}) {
    auto tight = config;
    tight.num_blocks = 12;
    tight.reserve_full_kv = false;
    tight.policy = policy;
    auto concurrent = specs;
    for (auto& s : concurrent) s.arrival_step /= 4;
    CHECK(run(tight, concurrent).outputs == off.outputs);
  }
}

TEST_CASE("freed cached blocks are evicted least recently used first", "[prefix_cache]") {
  auto config = kBase;
  config.prefix_caching = true;
  config.num_blocks = 8;
  cblab::Engine engine(kModel, config);
  // X (16 tokens) computes and caches 4 full blocks, 0..3, and finishes: they are released
  // last first, so the free list ends ... 3 2 1 0. Y (28 tokens, 7 blocks) takes the 4 never
  // used blocks, then evicts 3, 2 and 1. X's prompt again finds only block 0: 4 tokens.
  engine.add_request({.id = "X", .prompt_tokens = tokens(16, 1), .max_new_tokens = 1});
  engine.run();
  CHECK(engine.kv_cache().pool().num_cached_blocks() == 4);
  engine.add_request({.id = "Y", .prompt_tokens = tokens(28, 9), .max_new_tokens = 1});
  engine.run();
  CHECK(engine.kv_cache().pool().num_evictions() == 3);
  engine.add_request({.id = "X2", .prompt_tokens = tokens(16, 1), .max_new_tokens = 1});
  engine.run();
  const auto& x2 = engine.requests()[2];
  CHECK(x2.num_cached_prompt_tokens == 4);
  CHECK(x2.output_tokens == engine.requests()[0].output_tokens);
}

TEST_CASE("prefix caching is config-checked and read from workloads", "[prefix_cache]") {
  using Catch::Matchers::ContainsSubstring;
  using Catch::Matchers::MessageMatches;
  CHECK_THROWS_MATCHES(cblab::Engine(kModel, {.kv_cache = cblab::KVCacheKind::dense, .prefix_caching = true}),
                       cblab::ConfigError, MessageMatches(ContainsSubstring("engine.prefix_caching = true: allowed only with engine.kv_cache \"paged\"")));
  CHECK(cblab::parse_workload(R"({"engine": {"prefix_caching": true}})").engine.prefix_caching);
  CHECK_FALSE(cblab::parse_workload("{}").engine.prefix_caching);
}

TEST_CASE("invariants with sharing after every step of randomized workloads", "[prefix_cache]") {
  int hits = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    cblab::SplitMix64 rng{seed + 1000};
    auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng.next() % (hi - lo + 1)); };
    cblab::EngineConfig config{.max_tokens_per_step = pick(4, 24), .max_running = pick(1, 6),
                               .block_size = pick(1, 6), .prefix_caching = true};
    config.prefill_chunk_size = pick(1, config.max_tokens_per_step);
    config.num_blocks = pick(40 / config.block_size + 1, 80 / config.block_size + 2);
    config.policy = pick(0, 1) ? cblab::SchedulePolicy::fcfs : cblab::SchedulePolicy::priority;
    config.reserve_full_kv = pick(0, 2) == 0;
    const auto prefix = tokens(pick(0, 20), pick(0, 9));  // shared by some requests
    std::vector<cblab::RequestSpec> specs;
    const int n = pick(3, 9);
    for (int i = 0; i < n; ++i)
      specs.push_back({.id = std::to_string(i),
                       .prompt_tokens = concat(pick(0, 2) ? prefix : std::vector<int32_t>{}, tokens(pick(1, 10), pick(0, 3))),
                       .max_new_tokens = pick(0, 10), .arrival_step = pick(0, 12), .priority = pick(0, 2),
                       .sampling = {.temperature = pick(0, 2) == 0 ? 0.8f : 0.f, .seed = rng.next()}});
    auto off = config;
    off.prefix_caching = false;
    off.num_blocks = 1024;
    INFO("seed " << seed);
    const auto want = run(off, specs);
    const auto got = run(config, specs);  // checks the invariants after every step
    CHECK(got.outputs == want.outputs);
    hits += got.metrics.prefix_cache_hit_tokens;
  }
  CHECK(hits > 0);
}

}  // namespace test_prefix_cache

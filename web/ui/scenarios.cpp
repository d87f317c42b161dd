// scenarios.cpp — the generated workloads (see scenarios.cppm).
module;
#include <algorithm>
#include <cstdint>
#include <format>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
module cblab.ui;
import cblab;

namespace cblab::ui {
namespace {

constexpr std::string_view kWords[] = {
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "batching", "keeps",
    "every", "slot", "busy", "while", "cache", "blocks", "tokens", "flow", "through", "pages"};

struct Rng {
  SplitMix64 mix;
  int below(int n) { return static_cast<int>(mix.next() % static_cast<std::uint64_t>(n)); }
  int between(int lo, int hi) { return lo + below(hi - lo + 1); }
};

std::string text(Rng& rng, int num_chars) {
  std::string s;
  while (static_cast<int>(s.size()) < num_chars) {
    if (!s.empty()) s += ' ';
    s += kWords[rng.below(static_cast<int>(std::size(kWords)))];
  }
  s.resize(num_chars);
  return s;
}

RequestSpec request(int index, const std::string& prompt, int max_new_tokens, int arrival_step) {
  RequestSpec r;
  r.id = std::format("r{:02}", index);
  r.prompt_tokens.assign(prompt.begin(), prompt.end());
  r.max_new_tokens = max_new_tokens;
  r.arrival_step = arrival_step;
  return r;
}

}  // namespace

std::vector<std::string_view> scenario_names() {
  return {"chat", "long", "pressure", "shared", "priority", "parallel", "big", "random"};
}

Workload make_scenario(std::string_view name, std::uint64_t seed, int count) {
  Rng rng{SplitMix64{seed}};
  Workload w;
  w.model.d_model = 64;
  w.model.n_heads = 2;
  w.model.n_kv_heads = 1;
  w.model.seed = seed;
  EngineConfig& e = w.engine;
  if (name == "chat") {
    e = {.max_tokens_per_step = 32, .prefill_chunk_size = 16, .max_running = 12,
         .block_size = 8, .num_blocks = 96};
    for (int i = 0; i < 24; ++i)
      w.requests.push_back(request(i, text(rng, rng.between(8, 30)), rng.between(8, 24), i / 3));
  } else if (name == "long") {
    e = {.max_tokens_per_step = 48, .prefill_chunk_size = 32, .max_running = 8,
         .block_size = 16, .num_blocks = 96};
    for (int i = 0; i < 3; ++i)
      w.requests.push_back(request(i, text(rng, rng.between(10, 20)), 40, 0));
    for (int i = 3; i < 7; ++i)
      w.requests.push_back(request(i, text(rng, rng.between(180, 300)), 12, 2 * (i - 3)));
  } else if (name == "pressure") {
    // 24 blocks of 8 slots hold 192 tokens; 16 requests want up to ~1500. Without the full
    // reservation they are admitted on their prompt alone and preempt each other as they grow.
    e = {.max_tokens_per_step = 64, .prefill_chunk_size = 32, .max_running = 16,
         .block_size = 8, .num_blocks = 24, .reserve_full_kv = false};
    for (int i = 0; i < 16; ++i)
      w.requests.push_back(request(i, text(rng, rng.between(30, 70)), rng.between(12, 28), 0));
  } else if (name == "shared") {
    // The system prompt is 59 tokens: 7 full blocks of 8, cached once and shared by every
    // later request. Requests 0-7 arrive one per step; 8-11 arrive at step 40, after the
    // first group has finished, and find the prompt's blocks free but still cached.
    e = {.max_tokens_per_step = 64, .prefill_chunk_size = 32, .max_running = 12,
         .block_size = 8, .num_blocks = 128, .prefix_caching = true};
    const std::string system = "You are a helpful assistant. Answer briefly and kindly. Q: ";
    for (int i = 0; i < 12; ++i)
      w.requests.push_back(request(i, system + text(rng, rng.between(8, 24)), 16, i < 8 ? i : 40));
  } else if (name == "priority") {
    // Smaller priority runs first (as in vLLM). Six background requests (priority 5) fill the
    // pool and grow; at step 6 four urgent ones (priority 0) arrive: they jump the queue, and
    // when a block is missing the victim is a background request, never an urgent one.
    e = {.max_tokens_per_step = 48, .prefill_chunk_size = 32, .max_running = 6,
         .block_size = 8, .num_blocks = 20, .policy = SchedulePolicy::priority,
         .reserve_full_kv = false};
    for (int i = 0; i < 6; ++i) {
      w.requests.push_back(request(i, text(rng, rng.between(18, 26)), rng.between(30, 40), 0));
      w.requests.back().priority = 5;
    }
    for (int i = 6; i < 10; ++i) {
      w.requests.push_back(request(i, text(rng, rng.between(12, 20)), rng.between(8, 14), 6));
      w.requests.back().priority = 0;
    }
  } else if (name == "parallel") {
    // Three prompts of 40-60 tokens ask for 4 samples each (temperature 0.8, top-p 0.9): each
    // request becomes 4 sequences. Sample 0 computes the prompt; samples 1-3 are admitted once
    // it has, sharing its full blocks (ref count 4 in the grid) and recomputing only the last,
    // partial block. Prefix caching is off: the sharing comes from the sibling's block table.
    e = {.max_tokens_per_step = 64, .prefill_chunk_size = 32, .max_running = 16,
         .block_size = 8, .num_blocks = 96};
    for (int i = 0; i < 3; ++i) {
      w.requests.push_back(request(i, text(rng, rng.between(40, 60)), 16, 2 * i));
      RequestSpec& r = w.requests.back();
      r.n = 4;
      r.sampling = {.temperature = 0.8f, .top_p = 0.9f, .seed = 100u + static_cast<unsigned>(i)};
    }
    w.requests.push_back(request(3, text(rng, 20), 24, 0));  // an ordinary request beside them
  } else if (name == "big") {
    e = {.max_tokens_per_step = 128, .prefill_chunk_size = 32, .max_running = 64,
         .block_size = 8, .num_blocks = 1024};
    for (int i = 0; i < 64; ++i)
      w.requests.push_back(request(i, text(rng, rng.between(16, 120)), rng.between(16, 48), i / 8));
  } else if (name == "random") {
    if (count < 1 || count > 256)
      throw std::invalid_argument(std::format("count = {}: allowed 1..256", count));
    e = {.max_tokens_per_step = 64, .prefill_chunk_size = 32, .max_running = 16,
         .block_size = 8, .num_blocks = 256};
    for (int i = 0; i < count; ++i)
      w.requests.push_back(
          request(i, text(rng, rng.between(4, 100)), rng.between(1, 32), rng.between(0, count)));
  } else {
    throw std::invalid_argument(std::format(
        "scenario = \"{}\": allowed chat, long, pressure, shared, priority, parallel, big, random", name));
  }
  return w;
}

}  // namespace cblab::ui

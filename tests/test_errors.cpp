// The bad-input catalogue (docs/errors.md), case by case: the exact message, and that the
// rejected call changed nothing. For the engine that means an engine with requests in flight
// (some running, some waiting, KV in use, preemption allowed): after the bad call its requests,
// pool, block tables, scheduler queues and metrics print the same, and its requests then
// finish with the same tokens as an engine that never saw the bad call.
// The CLI's cases are in tests/cli_errors.mjs, the page's in web/tests/fuzz.test.mjs.
#include <catch_amalgamated.hpp>
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <format>
#include <functional>
#include <limits>
#include <string>
#include <vector>
import cblab;
import cblab.bench;

namespace test_errors {  // this file's names: the test sources build as unity batches

using Catch::Matchers::Message;
using Catch::Matchers::MessageMatches;
using Catch::Matchers::StartsWith;

namespace {

const cblab::ModelConfig kModel{.d_model = 16, .seed = 9};
// Tight on purpose: 12 blocks of 4 slots for 4 requests of up to 17 tokens, admission without
// reserving whole lives.
const cblab::EngineConfig kEngine{.max_tokens_per_step = 8, .prefill_chunk_size = 4,
                                  .max_running = 4, .block_size = 4, .num_blocks = 12,
                                  .reserve_full_kv = false};

std::vector<int32_t> tokens(std::string_view text) { return {text.begin(), text.end()}; }

// The requests every flight starts with: greedy and sampled, one arriving late.
void add_flight_requests(cblab::Engine& e) {
  e.add_request({.id = "a", .prompt_tokens = tokens("continuous"), .max_new_tokens = 6});
  e.add_request({.id = "b", .prompt_tokens = tokens("batching!"), .max_new_tokens = 8,
                 .sampling = {.temperature = 0.8f, .top_k = 20, .top_p = 0.9f, .seed = 3}});
  e.add_request({.id = "c", .prompt_tokens = tokens("paged KV"), .max_new_tokens = 5,
                 .stop_tokens = {'!'}});
  e.add_request({.id = "late", .prompt_tokens = tokens("arrives at step 6"), .max_new_tokens = 4,
                 .arrival_step = 6});
}

// An engine in the middle of its work: `steps` steps taken, requests in every state.
cblab::Engine flight(const cblab::EngineConfig& config = kEngine, int steps = 4) {
  cblab::Engine e(kModel, config);
  add_flight_requests(e);
  for (int i = 0; i < steps; ++i) e.step();
  return e;
}

// Everything a rejected call could have changed, as text.
std::string snapshot(const cblab::Engine& e) {
  std::string s = std::format("step {} unfinished {}\n", e.num_steps(), e.has_unfinished());
  s += cblab::format_requests(e.requests());
  s += cblab::format_block_pool(e.kv_cache().snapshot(), e.kv_cache().config().block_size);
  std::vector<int> all(e.requests().size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  s += cblab::format_block_tables(e.kv_cache(), all);
  s += std::format("free {} waiting", e.kv_cache().pool().num_free_blocks());
  for (int i : e.scheduler().waiting()) s += std::format(" {}", i);
  s += " running";
  for (int i : e.scheduler().running()) s += std::format(" {}", i);
  const cblab::EngineMetrics& m = e.metrics();
  s += std::format("\nmetrics {} {} {} {} {} {}\n", m.num_computed_tokens, m.num_output_tokens,
                   m.num_preemptions, m.num_tokens_lost, m.num_aborted, m.max_blocks_used);
  for (const cblab::Request& r : e.requests())
    s += std::format("{} {} {}\n", r.spec.id, r.num_computed_tokens, r.output_tokens.size());
  return s;
}

// Every request's tokens and how it finished, after running to the end.
std::vector<std::string> finish(cblab::Engine& e) {
  e.run();
  std::vector<std::string> out;
  for (const cblab::Request& r : e.requests()) {
    std::string line = std::format("{} {} @{}:", r.spec.id, cblab::to_string(r.finish_reason),
                                   r.finish_step);
    for (int32_t t : r.output_tokens) line += std::format(" {}", t);
    out.push_back(line);
  }
  return out;
}

// The untouched flight's outcome, computed once.
const std::vector<std::string>& reference_outcome() {
  static const std::vector<std::string> outcome = [] {
    cblab::Engine e = flight();
    return finish(e);
  }();
  return outcome;
}

// The bad call throws E with exactly `message`, the flight prints the same afterwards, and it
// finishes exactly like a flight that never saw the call.
template <typename E>
void check_rejected(const std::function<void(cblab::Engine&)>& bad_call, const std::string& message,
                    const cblab::EngineConfig& config = kEngine) {
  cblab::Engine e = flight(config);
  const std::string before = snapshot(e);
  CHECK_THROWS_MATCHES(bad_call(e), E, Message(message));
  CHECK(snapshot(e) == before);
  if (&config == &kEngine) {
    CHECK(finish(e) == reference_outcome());
  } else {
    cblab::Engine untouched = flight(config);
    CHECK(finish(e) == finish(untouched));
  }
}

// A configuration the engine refuses: the constructor throws ConfigError with `message`, and
// an engine already in flight is not disturbed by the attempt.
void check_config_rejected(const cblab::ModelConfig& model, const cblab::EngineConfig& engine,
                           const std::string& message) {
  check_rejected<cblab::ConfigError>([&](cblab::Engine&) { cblab::Engine bad(model, engine); },
                                     message);
}

cblab::ModelConfig model_with(const std::function<void(cblab::ModelConfig&)>& change) {
  cblab::ModelConfig m = kModel;
  change(m);
  return m;
}
cblab::EngineConfig engine_with(const std::function<void(cblab::EngineConfig&)>& change) {
  cblab::EngineConfig c = kEngine;
  change(c);
  return c;
}

cblab::RequestSpec good_request(std::string id = "new") {
  return {.id = std::move(id), .prompt_tokens = tokens("hello"), .max_new_tokens = 3};
}
std::function<void(cblab::Engine&)> add(const std::function<void(cblab::RequestSpec&)>& change) {
  return [change](cblab::Engine& e) {
    cblab::RequestSpec spec = good_request();
    change(spec);
    e.add_request(spec);
  };
}

// A workload text that must be rejected with `message` (parse_workload, or make_engine when
// `build` is set). The Workload being assigned keeps its old value.
void check_workload_rejected(const std::string& text, const std::string& message, bool build = false) {
  cblab::Workload w = cblab::parse_workload(R"({"requests": [{"id": "keep", "prompt": "x"}]})");
  CHECK_THROWS_MATCHES(
      [&] {
        w = cblab::parse_workload(text);
        if (build) (void)cblab::make_engine(w);
      }(),
      cblab::WorkloadError, Message(message));
  if (!build) {
    REQUIRE(w.requests.size() == 1);
    CHECK(w.requests[0].id == "keep");
  }
}

}  // namespace

// [the flight itself] -------------------------------------------------------------------------

TEST_CASE("errors: the flight used below is mid-run and deterministic", "[errors]") {
  cblab::Engine e = flight();
  int running = 0, waiting = 0;
  for (const cblab::Request& r : e.requests()) (r.is_running() ? running : waiting) += !r.is_finished();
  CHECK(running > 0);
  CHECK(waiting > 0);  // "late" has not arrived yet
  CHECK(e.kv_cache().pool().num_free_blocks() < kEngine.num_blocks);
  const auto outcome = finish(e);
  CHECK(outcome == reference_outcome());
  for (const std::string& line : outcome) CHECK_FALSE(line.ends_with(":"));  // everyone generated
}

// [engine configuration] ----------------------------------------------------------------------

TEST_CASE("errors: model sizes below their minimum", "[errors]") {
  check_config_rejected(model_with([](auto& m) { m.vocab_size = 1; }), kEngine,
                        "model.vocab_size = 1: allowed >= 2");
  check_config_rejected(model_with([](auto& m) { m.d_model = 0; }), kEngine,
                        "model.d_model = 0: allowed >= 2");
  check_config_rejected(model_with([](auto& m) { m.n_layers = 0; }), kEngine,
                        "model.n_layers = 0: allowed >= 1");
  check_config_rejected(model_with([](auto& m) { m.n_heads = -1; }), kEngine,
                        "model.n_heads = -1: allowed >= 1");
  check_config_rejected(model_with([](auto& m) { m.head_dim = -2; }), kEngine,
                        "model.head_dim = -2: allowed >= 0");
  check_config_rejected(model_with([](auto& m) { m.mlp_dim = -1; }), kEngine,
                        "model.mlp_dim = -1: allowed >= 0");
}

TEST_CASE("errors: model shapes that do not fit together", "[errors]") {
  check_config_rejected(model_with([](auto& m) { m.n_heads = 4; m.n_kv_heads = 3; }), kEngine,
                        "model.n_kv_heads = 3: allowed a divisor of model.n_heads (4)");
  check_config_rejected(model_with([](auto& m) { m.n_heads = 3; }), kEngine,
                        "model.n_heads = 3: allowed a divisor of model.d_model (16) when model.head_dim is 0");
  check_config_rejected(model_with([](auto& m) { m.head_dim = 3; }), kEngine,
                        "model.head_dim = 3: allowed an even number (RoPE rotates pairs of dimensions)");
  check_config_rejected(model_with([](auto& m) { m.d_model = 6; m.n_heads = 2; }), kEngine,
                        "model.head_dim = 3: allowed an even number (RoPE rotates pairs of dimensions)");
  check_config_rejected(model_with([](auto& m) { m.rope_theta = 1.f; }), kEngine,
                        "model.rope_theta = 1: allowed > 1");
  check_config_rejected(model_with([](auto& m) { m.rope_theta = std::nanf(""); }), kEngine,
                        "model.rope_theta = nan: allowed > 1");
}

TEST_CASE("errors: KV pool sizes", "[errors]") {
  check_config_rejected(kModel, engine_with([](auto& c) { c.num_blocks = 0; }),
                        "engine.num_blocks = 0: allowed >= 1");
  check_config_rejected(kModel, engine_with([](auto& c) { c.block_size = -4; }),
                        "engine.block_size = -4: allowed >= 1");
  check_config_rejected(kModel, engine_with([](auto& c) { c.kv_cache = cblab::KVCacheKind::dense; c.block_size = 0; }),
                        "engine.block_size = 0: allowed >= 1");
}

TEST_CASE("errors: scheduler budget, chunk and running limits", "[errors]") {
  check_config_rejected(kModel, engine_with([](auto& c) { c.max_tokens_per_step = 0; }),
                        "engine.max_tokens_per_step = 0: allowed >= 1");
  check_config_rejected(kModel, engine_with([](auto& c) { c.prefill_chunk_size = 0; }),
                        "engine.prefill_chunk_size = 0: allowed >= 1");
  check_config_rejected(kModel, engine_with([](auto& c) { c.prefill_chunk_size = 9; }),
                        "engine.prefill_chunk_size = 9: allowed 1..engine.max_tokens_per_step (8)");
  check_config_rejected(kModel, engine_with([](auto& c) { c.max_running = 0; }),
                        "engine.max_running = 0: allowed >= 1");
}

TEST_CASE("errors: a config error carries field, value and allowed separately", "[errors]") {
  try {
    cblab::Engine bad(kModel, engine_with([](auto& c) { c.prefill_chunk_size = 9; }));
    FAIL("the engine accepted prefill_chunk_size 9 with a budget of 8");
  } catch (const cblab::ConfigError& e) {
    CHECK(e.field == "engine.prefill_chunk_size");
    CHECK(e.value == "9");
    CHECK(e.allowed == "1..engine.max_tokens_per_step (8)");
  }
}

// [requests] ----------------------------------------------------------------------------------

TEST_CASE("errors: request ids", "[errors]") {
  check_rejected<cblab::RequestError>(add([](auto& r) { r.id = ""; }),
                                      "id = \"\": allowed a non-empty string");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.id = "b"; }),
                                      "id = \"b\": allowed an id not used before");
}

TEST_CASE("errors: request prompt and stop tokens", "[errors]") {
  check_rejected<cblab::RequestError>(add([](auto& r) { r.prompt_tokens.clear(); }),
                                      "prompt_tokens = [] (empty): allowed at least one token");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.prompt_tokens[1] = 256; }),
                                      "prompt_tokens[1] = 256: allowed 0..255 (model.vocab_size 256)");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.prompt_tokens[0] = -7; }),
                                      "prompt_tokens[0] = -7: allowed 0..255 (model.vocab_size 256)");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.stop_tokens = {10, 1000}; }),
                                      "stop_tokens[1] = 1000: allowed 0..255 (model.vocab_size 256)");
}

TEST_CASE("errors: request lengths and arrival", "[errors]") {
  check_rejected<cblab::RequestError>(add([](auto& r) { r.max_new_tokens = -1; }),
                                      "max_new_tokens = -1: allowed >= 0");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.arrival_step = -3; }),
                                      "arrival_step = -3: allowed >= 0");
}

TEST_CASE("errors: request sampling parameters", "[errors]") {
  check_rejected<cblab::RequestError>(add([](auto& r) { r.sampling.temperature = -0.5f; }),
                                      "temperature = -0.5: allowed >= 0 (0 = greedy)");
  check_rejected<cblab::RequestError>(
      add([](auto& r) { r.sampling.temperature = std::numeric_limits<float>::infinity(); }),
      "temperature = inf: allowed >= 0 (0 = greedy)");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.sampling.temperature = std::nanf(""); }),
                                      "temperature = nan: allowed >= 0 (0 = greedy)");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.sampling.top_k = -1; }),
                                      "top_k = -1: allowed >= 0 (0 = all tokens)");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.sampling.top_p = 0.f; }),
                                      "top_p = 0: allowed 0 < top_p <= 1 (1 = all tokens)");
  check_rejected<cblab::RequestError>(add([](auto& r) { r.sampling.top_p = 1.5f; }),
                                      "top_p = 1.5: allowed 0 < top_p <= 1 (1 = all tokens)");
}

TEST_CASE("errors: a request whose KV could never fit in the pool", "[errors]") {
  // 12 blocks of 4 = 48 slots; 10 prompt tokens + 40 new need ceil(49 / 4) = 13 blocks.
  check_rejected<cblab::RequestError>(
      add([](auto& r) { r.prompt_tokens = tokens("0123456789"); r.max_new_tokens = 40; }),
      "prompt_tokens + max_new_tokens = 10 + 40 (needs 13 blocks of 4): allowed a request whose "
      "KV fits in engine.num_blocks (12 blocks = 48 tokens)");
  // The largest request that fits is accepted: 10 + 39 -> 48 slots.
  cblab::Engine e = flight();
  CHECK(e.add_request({.id = "fits", .prompt_tokens = tokens("0123456789"), .max_new_tokens = 39}) == 4);
}

TEST_CASE("errors: aborting an unknown id", "[errors]") {
  check_rejected<cblab::RequestError>([](cblab::Engine& e) { e.abort("nobody"); },
                                      "id = \"nobody\": allowed the id of a request added before");
}

TEST_CASE("errors: a rejected request does not use up its id or index", "[errors]") {
  cblab::Engine e = flight();
  CHECK_THROWS_AS(e.add_request({.id = "x", .prompt_tokens = {}}), cblab::RequestError);
  CHECK(e.add_request(good_request("x")) == 4);  // the id is free, the index is the next one
}

// [workload JSON] -----------------------------------------------------------------------------

TEST_CASE("errors: workload text that is not JSON", "[errors]") {
  check_workload_rejected(
      R"({"requests": [)",
      "(file) = [json.exception.parse_error.101] parse error at line 1, column 15: syntax error "
      "while parsing value - unexpected end of input; expected '[', '{', or a literal: allowed "
      "valid JSON");
  check_workload_rejected(
      "", "(file) = [json.exception.parse_error.101] parse error at line 1, column 1: syntax error "
          "while parsing value - unexpected end of input; expected '[', '{', or a literal: "
          "allowed valid JSON");
}

TEST_CASE("errors: workload keys that are not known", "[errors]") {
  check_workload_rejected(R"({"modle": {}})",
                          "modle = {}: allowed one of the keys {model, engine, requests}");
  check_workload_rejected(
      R"({"engine": {"blok_size": 8}})",
      "engine.blok_size = 8: allowed one of the keys {max_tokens_per_step, prefill_chunk_size, "
      "kv_cache, block_size, num_blocks, max_running, policy, reserve_full_kv, prefix_caching}");
  check_workload_rejected(
      R"({"requests": [{"prompt": "x", "max_tokens": 3}]})",
      "requests[0].max_tokens = 3: allowed one of the keys {id, prompt, prompt_tokens, "
      "max_new_tokens, stop_tokens, arrival_step, priority, temperature, top_k, top_p, seed, n}");
}

TEST_CASE("errors: workload sections of the wrong type", "[errors]") {
  check_workload_rejected("[]", " = []: allowed an object (got array)");
  check_workload_rejected(R"({"model": 5})", "model = 5: allowed an object (got number)");
  check_workload_rejected(R"({"requests": {"prompt": "x"}})",
                          R"(requests = {"prompt":"x"}: allowed an array)");
  check_workload_rejected(R"({"requests": ["hi"]})",
                          R"(requests[0] = "hi": allowed an object (got string))");
}

TEST_CASE("errors: workload values of the wrong type", "[errors]") {
  check_workload_rejected(R"({"requests": [{"prompt": "x", "max_new_tokens": "many"}]})",
                          R"(requests[0].max_new_tokens = "many": allowed an integer (got string))");
  check_workload_rejected(R"({"engine": {"block_size": 4.5}})",
                          "engine.block_size = 4.5: allowed an integer (got number)");
  check_workload_rejected(R"({"engine": {"num_blocks": 3000000000}})",
                          "engine.num_blocks = 3000000000: allowed an integer in -2147483648..2147483647");
  check_workload_rejected(R"({"model": {"rope_theta": "big"}})",
                          R"(model.rope_theta = "big": allowed a number)");
  check_workload_rejected(R"({"model": {"seed": -1}})", "model.seed = -1: allowed an integer >= 0");
  check_workload_rejected(R"({"engine": {"reserve_full_kv": 1}})",
                          "engine.reserve_full_kv = 1: allowed true or false");
  check_workload_rejected(R"({"requests": [{"prompt": "x", "temperature": null}]})",
                          "requests[0].temperature = null: allowed a number");
}

TEST_CASE("errors: workload choices", "[errors]") {
  check_workload_rejected(R"({"engine": {"policy": "lifo"}})",
                          R"(engine.policy = "lifo": allowed "fcfs" or "priority")");
  check_workload_rejected(R"({"engine": {"kv_cache": "ring"}})",
                          R"(engine.kv_cache = "ring": allowed "dense" or "paged")");
}

TEST_CASE("errors: workload requests: id and prompt", "[errors]") {
  check_workload_rejected(R"({"requests": [{"id": true, "prompt": "x"}]})",
                          "requests[0].id = true: allowed a string or an integer");
  check_workload_rejected(R"({"requests": [{"id": "a"}]})",
                          R"(requests[0] = {"id":"a"}: allowed exactly one of "prompt" (text) and "prompt_tokens")");
  check_workload_rejected(R"({"requests": [{"prompt": "x", "prompt_tokens": [1]}]})",
                          R"(requests[0] = {"prompt":"x","prompt_tokens":[1]}: allowed exactly one of "prompt" (text) and "prompt_tokens")");
  check_workload_rejected(R"({"requests": [{"prompt": 5}]})",
                          "requests[0].prompt = 5: allowed a string");
  check_workload_rejected(R"({"requests": [{"prompt_tokens": "abc"}]})",
                          R"(requests[0].prompt_tokens = "abc": allowed an array of token ids)");
  check_workload_rejected(R"({"requests": [{"prompt_tokens": [1, "2"]}]})",
                          R"(requests[0].prompt_tokens[1] = "2": allowed an integer (got string))");
  check_workload_rejected(R"({"requests": [{"prompt": "x", "stop_tokens": 10}]})",
                          "requests[0].stop_tokens = 10: allowed an array of token ids");
}

TEST_CASE("errors: long values are cut in the message", "[errors]") {
  const std::string prompt(100, 'z');
  check_workload_rejected(
      std::format(R"({{"requests": [{{"prompt": "{}", "prompt_tokens": [1]}}]}})", prompt),
      R"(requests[0] = {"prompt":")" + std::string(46, 'z') +
          R"(...: allowed exactly one of "prompt" (text) and "prompt_tokens")");
}

TEST_CASE("errors: the engine's checks at their JSON path (make_engine)", "[errors]") {
  check_workload_rejected(R"({"requests": [{"prompt": "ok"}, {"prompt_tokens": [1, 300]}]})",
                          "requests[1].prompt_tokens[1] = 300: allowed 0..255 (model.vocab_size 256)",
                          true);
  check_workload_rejected(R"({"requests": [{"id": "same", "prompt": "a"}, {"id": "same", "prompt": "b"}]})",
                          R"(requests[1].id = "same": allowed an id not used before)", true);
  check_workload_rejected(R"({"requests": [{"prompt": "x", "top_p": 2}]})",
                          "requests[0].top_p = 2: allowed 0 < top_p <= 1 (1 = all tokens)", true);
  // A configuration error keeps the engine's own field name and type.
  CHECK_THROWS_MATCHES(
      cblab::make_engine(cblab::parse_workload(R"({"engine": {"max_running": 0}})")),
      cblab::ConfigError, Message("engine.max_running = 0: allowed >= 1"));
}

TEST_CASE("errors: a workload file that cannot be read", "[errors]") {
  const std::string path = CBLAB_TEST_DATA "/no_such_workload.json";
  CHECK_THROWS_MATCHES(cblab::load_workload(path), cblab::WorkloadError,
                       Message("file = " + path + ": allowed a readable workload file"));
  CHECK_THROWS_MATCHES(cblab::load_workload(CBLAB_TEST_DATA), cblab::WorkloadError,
                       MessageMatches(StartsWith("(file) = [json.exception.parse_error")));
}

// [kernels] -----------------------------------------------------------------------------------

TEST_CASE("errors: kernel arch and thread count", "[errors]") {
  const std::string arch(cblab::kernels::arch());
  const int threads = cblab::kernels::num_threads();
  std::string choices;
  for (auto a : cblab::kernels::available_archs()) choices += (choices.empty() ? "" : ", ") + std::string(a);
  CHECK_THROWS_MATCHES(cblab::kernels::set_arch("avx9000"), std::invalid_argument,
                       Message("set_arch: arch 'avx9000' is not runnable on this machine; choices: " + choices));
  CHECK(cblab::kernels::arch() == arch);
  CHECK_THROWS_MATCHES(cblab::kernels::set_num_threads(0), std::invalid_argument,
                       Message("set_num_threads: n is 0, must be between 1 and 256"));
  CHECK_THROWS_MATCHES(cblab::kernels::set_num_threads(257), std::invalid_argument,
                       Message("set_num_threads: n is 257, must be between 1 and 256"));
  CHECK(cblab::kernels::num_threads() == threads);
  const std::vector<float> a(3, 1.f), b(4, 1.f);
  CHECK_THROWS_MATCHES(cblab::kernels::dot(a, b), std::invalid_argument,
                       Message("dot: a has 3 elements and b has 4; they must match"));
  // The engine still runs as before on the unchanged arch.
  cblab::Engine e = flight();
  CHECK(finish(e) == reference_outcome());
}

TEST_CASE("errors: bench options, refused before anything is measured", "[errors]") {
  const std::string arch(cblab::kernels::arch());
  const int threads = cblab::kernels::num_threads();
  CHECK_THROWS_MATCHES(cblab::bench::run({.kinds = {"gemm", "train"}}), std::invalid_argument,
                       Message("bench: kind 'train' is not one of decode, prefill, gemm"));
  // run() switches to each asked-for arch to check it: a good one before a bad one must not
  // leave the process on the good one. Nor a bad thread count after a good one.
  CHECK_THROWS_MATCHES(cblab::bench::run({.archs = {"scalar", "avx9000"}}), std::invalid_argument,
                       MessageMatches(StartsWith("set_arch: arch 'avx9000' is not runnable")));
  CHECK_THROWS_MATCHES(cblab::bench::run({.threads = {2, 0}}), std::invalid_argument,
                       Message("set_num_threads: n is 0, must be between 1 and 256"));
  CHECK(cblab::kernels::arch() == arch);
  CHECK(cblab::kernels::num_threads() == threads);
}

// [numbers beyond their type] -----------------------------------------------------------------
// An integer or float the field cannot hold is refused as the file wrote it, never wrapped or
// turned into inf.

TEST_CASE("errors: JSON integers outside an int, even above 2^63", "[errors]") {
  // nlohmann reads 18446744073709551615 as an unsigned 64-bit value; a cast to int64 would
  // make it -1 (a priority the file does not contain).
  check_workload_rejected(R"({"requests": [{"prompt": "x", "priority": 18446744073709551615}]})",
                          "requests[0].priority = 18446744073709551615: allowed an integer in "
                          "-2147483648..2147483647");
  check_workload_rejected(R"({"requests": [{"prompt": "x", "max_new_tokens": 18446744073709551615}]})",
                          "requests[0].max_new_tokens = 18446744073709551615: allowed an integer "
                          "in -2147483648..2147483647");
  check_workload_rejected(R"({"requests": [{"prompt_tokens": [1, -9223372036854775808]}]})",
                          "requests[0].prompt_tokens[1] = -9223372036854775808: allowed an "
                          "integer in -2147483648..2147483647");
  check_workload_rejected(R"({"requests": [{"prompt": "x", "arrival_step": 2147483648}]})",
                          "requests[0].arrival_step = 2147483648: allowed an integer in "
                          "-2147483648..2147483647");
  // The ends of the range are read exactly, and an integer id keeps its digits.
  const cblab::Workload w = cblab::parse_workload(
      R"({"requests": [{"id": 18446744073709551615, "prompt": "x", "priority": -2147483648,
                        "max_new_tokens": 2147483647}]})");
  CHECK(w.requests[0].id == "18446744073709551615");
  CHECK(w.requests[0].priority == INT_MIN);
  CHECK(w.requests[0].max_new_tokens == INT_MAX);
}

TEST_CASE("errors: JSON numbers that do not fit a float", "[errors]") {
  check_workload_rejected(R"({"requests": [{"prompt": "x", "temperature": 1e39}]})",
                          "requests[0].temperature = 1e+39: allowed a finite number that fits a "
                          "float (|x| <= 3.4028235e+38)");
  check_workload_rejected(R"({"model": {"rope_theta": -1e300}})",
                          "model.rope_theta = -1e+300: allowed a finite number that fits a float "
                          "(|x| <= 3.4028235e+38)");
  check_workload_rejected(R"({"requests": [{"prompt": "x", "top_p": 18446744073709551615}]})",
                          "requests[0].top_p = 1.8446744e+19: allowed 0 < top_p <= 1 (1 = all tokens)",
                          true);  // fits a float: the engine's own range check refuses it
  // The largest float is read exactly.
  const cblab::Workload w = cblab::parse_workload(R"({"model": {"rope_theta": 3.4028234663852886e38}})");
  CHECK(w.model.rope_theta == std::numeric_limits<float>::max());
}

// [resource caps] ------------------------------------------------------------------------------
// Sizes are computed in 64-bit before anything is allocated; the caps are in modules/engine/
// errors.cppm (smaller in wasm), so the expected messages are built from them.

TEST_CASE("errors: a request of 2^31 - 1 new tokens does not wrap the fit check", "[errors]") {
  // 5 + 2147483646 KV tokens need ceil(2147483651 / 4) = 536870913 blocks of 4.
  check_rejected<cblab::RequestError>(
      add([](auto& r) { r.max_new_tokens = INT_MAX; }),
      "prompt_tokens + max_new_tokens = 5 + 2147483647 (needs 536870913 blocks of 4): allowed a "
      "request whose KV fits in engine.num_blocks (12 blocks = 48 tokens)");
  check_rejected<cblab::RequestError>(
      add([](auto& r) { r.prompt_tokens.assign(40, 'x'); r.max_new_tokens = INT_MAX - 20; }),
      "prompt_tokens + max_new_tokens = 40 + 2147483627 (needs 536870917 blocks of 4): allowed a "
      "request whose KV fits in engine.num_blocks (12 blocks = 48 tokens)");
  // The same in a pool of 2^21 slots (dense: nothing is allocated up front).
  const cblab::EngineConfig big = engine_with([](auto& c) {
    c.kv_cache = cblab::KVCacheKind::dense;
    c.block_size = 128;
    c.num_blocks = 1 << 14;
  });
  check_rejected<cblab::RequestError>(
      add([](auto& r) { r.max_new_tokens = INT_MAX; }),
      "prompt_tokens + max_new_tokens = 5 + 2147483647 (needs 16777217 blocks of 128): allowed a "
      "request whose KV fits in engine.num_blocks (16384 blocks = 2097152 tokens)", big);
}

TEST_CASE("errors: a request beyond the token cap", "[errors]") {
  // A dense pool of 2^21 slots (256 MiB of KV would be allocated only as tokens arrive).
  const cblab::EngineConfig big = engine_with([](auto& c) {
    c.kv_cache = cblab::KVCacheKind::dense;
    c.block_size = 32;
    c.num_blocks = 1 << 16;
  });
  check_rejected<cblab::RequestError>(
      add([](auto& r) { r.max_new_tokens = 2000000; }),
      std::format("prompt_tokens + max_new_tokens = 5 + 2000000 = 2000005 tokens: allowed at most "
                  "{} tokens per request (cap)", cblab::kMaxRequestTokens),
      big);
  cblab::Engine e = flight(big);
  CHECK(e.add_request({.id = "at the cap", .prompt_tokens = tokens("hello"),
                       .max_new_tokens = static_cast<int>(cblab::kMaxRequestTokens) - 5}) == 4);
}

TEST_CASE("errors: a KV pool beyond the cap", "[errors]") {
  // kModel: 1 layer, 1 KV head, head_dim 16: a slot holds 2 x 4 x 16 = 128 bytes of K and V.
  const std::string cap = "KV pool cap " + cblab::bytes_text(cblab::kMaxKVBytes);
  // 65536 x 65536 slots: 2^32 slots, which a 32-bit size_t (wasm) would wrap to 0.
  check_config_rejected(
      kModel, engine_with([](auto& c) { c.num_blocks = 65536; c.block_size = 65536; }),
      std::format("engine.num_blocks = 65536 (65536 blocks x 65536 slots x 128 bytes per slot = "
                  "549755813888 bytes = 524288 MiB): allowed at most {} blocks of 65536 slots ({}, "
                  "and at most 65536 blocks)", cblab::kMaxKVBytes / (65536 * 128), cap));
  // One block alone is beyond the cap: block_size is the field to change.
  check_config_rejected(
      kModel, engine_with([](auto& c) { c.num_blocks = 1; c.block_size = 1 << 24; }),
      std::format("engine.block_size = 16777216 (1 blocks x 16777216 slots x 128 bytes per slot = "
                  "2147483648 bytes = 2048 MiB): allowed at most {} slots per block with this model ({})",
                  cblab::kMaxKVBytes / 128, cap));
  // Few bytes but more blocks than a step's record should snapshot.
  check_config_rejected(
      kModel, engine_with([](auto& c) { c.num_blocks = 100000; c.block_size = 1; }),
      std::format("engine.num_blocks = 100000 (100000 blocks x 1 slots x 128 bytes per slot = "
                  "12800000 bytes = 13 MiB): allowed at most 65536 blocks of 1 slots ({}, and at "
                  "most 65536 blocks)", cap));
  // Factors near 2^31: the product saturates instead of wrapping.
  check_config_rejected(
      model_with([](auto& m) { m.head_dim = 1024; }),
      engine_with([](auto& c) { c.num_blocks = INT_MAX; c.block_size = INT_MAX; }),
      std::format("engine.block_size = 2147483647 (2147483647 blocks x 2147483647 slots x 8192 bytes "
                  "per slot = more than 2^63 bytes): allowed at most {} slots per block with this "
                  "model ({})", cblab::kMaxKVBytes / 8192, cap));
  // Exactly at the cap is accepted (dense: allocated as tokens arrive).
  const int64_t blocks_at_cap = cblab::kMaxKVBytes / (128 * 128);
  cblab::Engine at_cap(kModel, engine_with([&](auto& c) {
    c.kv_cache = cblab::KVCacheKind::dense;
    c.block_size = 128;
    c.num_blocks = static_cast<int>(std::min<int64_t>(blocks_at_cap, cblab::kMaxNumBlocks));
  }));
  CHECK(at_cap.kv_cache().pool().num_blocks() == std::min<int64_t>(blocks_at_cap, cblab::kMaxNumBlocks));
}

TEST_CASE("errors: model weights beyond the cap", "[errors]") {
  const std::string cap = "at most " + cblab::bytes_text(cblab::kMaxWeightBytes) + " of weights (cap)";
  // (2 x 2^24 + 1) x 16 + 16 x (2 x 16 + 2 x 16 + 2) floats = 536871984 floats x 4 bytes.
  check_config_rejected(model_with([](auto& m) { m.vocab_size = 1 << 24; }), kEngine,
                        "model = vocab_size 16777216, d_model 16, n_layers 1, n_heads 1, n_kv_heads "
                        "1, head_dim 16, mlp_dim 0: 2147487936 bytes = 2049 MiB of weights: allowed " + cap);
  check_config_rejected(model_with([](auto& m) { m.vocab_size = INT_MAX; m.d_model = 1 << 30; }), kEngine,
                        "model = vocab_size 2147483647, d_model 1073741824, n_layers 1, n_heads 1, "
                        "n_kv_heads 1, head_dim 1073741824, mlp_dim 0: more than 2^63 bytes of "
                        "weights: allowed " + cap);
}

}  // namespace test_errors

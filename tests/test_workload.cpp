// Workload and result files: defaults, JSON paths in errors, and whole runs from files.
#include <catch_amalgamated.hpp>
#include <nlohmann/json.hpp>
#include <string>
import cblab;

namespace test_workload {  // this file's names: the test sources build as unity batches

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::MessageMatches;

TEST_CASE("a workload file is read with its defaults", "[workload]") {
  const auto w = cblab::load_workload(CBLAB_TEST_DATA "/small_workload.json");
  CHECK(w.model.d_model == 32);
  CHECK(w.model.n_layers == 1);  // default
  CHECK(w.model.vocab_size == 256);  // default
  CHECK(w.model.seed == 5);
  CHECK(w.engine.kv_cache == cblab::KVCacheKind::paged);
  CHECK(w.engine.block_size == 4);
  REQUIRE(w.requests.size() == 3);
  CHECK(w.requests[0].id == "greeting");
  CHECK(w.requests[0].prompt_tokens.size() == 12);
  CHECK(w.requests[0].prompt_tokens[0] == 'H');
  CHECK(w.requests[1].id == "7");
  CHECK(w.requests[1].stop_tokens == std::vector<int32_t>{0});
  CHECK(w.requests[2].id == "r2");  // default id: r<index>
  CHECK(w.requests[2].arrival_step == 2);

  const auto empty = cblab::parse_workload("{}");
  CHECK(empty.requests.empty());
  CHECK(empty.engine.max_tokens_per_step == 64);
  CHECK(empty.engine.prefill_chunk_size == 32);
  CHECK(cblab::parse_workload(R"({"requests":[{"prompt":"x"}]})").requests[0].max_new_tokens == 16);
}

TEST_CASE("running a workload writes a result with every request", "[workload]") {
  auto engine = cblab::make_engine(cblab::load_workload(CBLAB_TEST_DATA "/small_workload.json"));
  engine.run();
  const auto result = nlohmann::json::parse(cblab::result_json(engine));
  CHECK(result["num_steps"] == engine.num_steps());
  REQUIRE(result["requests"].size() == 3);
  const auto& g = result["requests"][0];
  CHECK(g["id"] == "greeting");
  CHECK(g["output_tokens"].size() == 5);
  CHECK(g["finish_reason"] == "length");
  CHECK(g["first_token_step"] == 1);  // 12 prompt tokens in chunks of 8
  CHECK(g["output_text"].is_string());
  const auto& late = result["requests"][2];
  CHECK(late["output_tokens"].empty());
  CHECK(late["first_token_step"] == -1);
  CHECK(late["finish_step"].get<int>() >= 2);
}

TEST_CASE("the lab workload runs to completion", "[workload]") {
  auto engine = cblab::make_engine(cblab::load_workload(CBLAB_TEST_DATA "/lab_workload.json"));
  REQUIRE(engine.requests().size() == 32);
  int max_budget = 0;
  engine.run([&](const cblab::StepRecord& s) { max_budget = std::max(max_budget, s.budget_used); });
  CHECK(max_budget == 64);
  for (const auto& r : engine.requests()) CHECK(r.num_output_tokens() == 32);
}

TEST_CASE("bad workloads name the JSON path, the value and what is allowed", "[workload]") {
  auto rejects = [](const std::string& json, const std::string& message) {
    INFO(json);
    CHECK_THROWS_MATCHES(cblab::make_engine(cblab::parse_workload(json)), cblab::InputError,
                         MessageMatches(ContainsSubstring(message)));
  };
  rejects("{", "valid JSON");
  rejects("[]", "an object");
  rejects(R"({"modle": {}})", "modle = {}: allowed one of the keys {model, engine, requests}");
  rejects(R"({"engine": {"block_size": "16"}})", "engine.block_size = \"16\": allowed an integer");
  rejects(R"({"engine": {"kv_cache": "flat"}})", "engine.kv_cache = \"flat\": allowed \"dense\" or \"paged\"");
  rejects(R"({"model": {"d_model": 1.5}})", "model.d_model = 1.5");
  rejects(R"({"requests": [{"prompt": "a"}, {"prompt": "b", "max_new_tokens": "x"}]})",
          "requests[1].max_new_tokens = \"x\"");
  rejects(R"({"requests": [{"prompt_tokens": [1, "2"]}]})", "requests[0].prompt_tokens[1] = \"2\"");
  rejects(R"({"requests": [{"max_new_tokens": 3}]})", "exactly one of \"prompt\"");
  rejects(R"({"requests": [{"prompt": ""}]})", "requests[0].prompt_tokens = [] (empty)");
  rejects(R"({"model": {"vocab_size": 100}, "requests": [{"prompt": "ok"}]})",
          "requests[0].prompt_tokens[0] = 111: allowed 0..99");
  rejects(R"({"requests": [{"id": "x", "prompt": "a"}, {"id": "x", "prompt": "b"}]})",
          "requests[1].id = \"x\"");
  rejects(R"({"engine": {"num_blocks": 0}})", "engine.num_blocks = 0");
  rejects(R"({"model": {"n_heads": 3, "n_kv_heads": 2}})", "model.n_kv_heads = 2");
  CHECK_THROWS_AS(cblab::load_workload("/nonexistent/workload.json"), cblab::WorkloadError);
}

}  // namespace test_workload

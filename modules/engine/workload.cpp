// workload.cpp — reading workloads and writing results with nlohmann-json. Every value is read
// through one typed helper that knows its JSON path, so a wrong type names where it is.
module;
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdint>
#include <format>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>
module cblab.engine;

namespace cblab {

using nlohmann::json;

namespace {

std::string type_name(const json& j) { return j.type_name(); }

std::string shown(const json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// An object whose keys must all be among `allowed` (a typo is an error, not a silent default).
void check_object(const json& j, const std::string& path,
                  std::initializer_list<std::string_view> allowed) {
  if (!j.is_object())
    throw WorkloadError(path, shown(j), std::format("an object (got {})", type_name(j)));
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) list += std::format("{}{}", list.empty() ? "" : ", ", a);
      throw WorkloadError(path.empty() ? key : path + "." + key, shown(value),
                          std::format("one of the keys {{{}}}", list));
    }
  }
}

// nlohmann keeps an integer above 2^63 - 1 as unsigned: the range is checked on the value the
// file holds, never after a cast that could wrap it.
int read_int(const json& j, const std::string& path) {
  if (!j.is_number_integer())
    throw WorkloadError(path, shown(j), std::format("an integer (got {})", type_name(j)));
  constexpr int lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
  const bool fits = j.is_number_unsigned() ? j.get<uint64_t>() <= uint64_t{hi}
                                           : j.get<int64_t>() >= lo && j.get<int64_t>() <= hi;
  if (!fits) throw WorkloadError(path, shown(j), std::format("an integer in {}..{}", lo, hi));
  return j.get<int>();
}

// obj[key] into out if present; otherwise out keeps its default.
void read(const json& obj, const std::string& path, const char* key, int& out) {
  if (obj.contains(key)) out = read_int(obj[key], path + "." + key);
}
void read(const json& obj, const std::string& path, const char* key, float& out) {
  if (!obj.contains(key)) return;
  const json& j = obj[key];
  if (!j.is_number()) throw WorkloadError(path + "." + key, shown(j), "a number");
  const double x = j.get<double>();  // a float field: 1e39 would become inf
  constexpr float max = std::numeric_limits<float>::max();
  if (!std::isfinite(x) || std::fabs(x) > max)
    throw WorkloadError(path + "." + key, shown(j),
                        std::format("a finite number that fits a float (|x| <= {})", max));
  out = static_cast<float>(x);
}
void read(const json& obj, const std::string& path, const char* key, uint64_t& out) {
  if (!obj.contains(key)) return;
  const json& j = obj[key];
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0))
    throw WorkloadError(path + "." + key, shown(j), "an integer >= 0");
  out = j.get<uint64_t>();
}
void read(const json& obj, const std::string& path, const char* key, bool& out) {
  if (!obj.contains(key)) return;
  if (!obj[key].is_boolean()) throw WorkloadError(path + "." + key, shown(obj[key]), "true or false");
  out = obj[key].get<bool>();
}
std::vector<int32_t> read_tokens(const json& j, const std::string& path) {
  if (!j.is_array()) throw WorkloadError(path, shown(j), "an array of token ids");
  std::vector<int32_t> tokens;
  for (std::size_t i = 0; i < j.size(); ++i)
    tokens.push_back(read_int(j[i], std::format("{}[{}]", path, i)));
  return tokens;
}

ModelConfig read_model(const json& j) {
  ModelConfig m;
  if (j.is_null()) return m;
  check_object(j, "model", {"vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads",
                            "head_dim", "mlp_dim", "rope_theta", "seed"});
  read(j, "model", "vocab_size", m.vocab_size);
  read(j, "model", "d_model", m.d_model);
  read(j, "model", "n_layers", m.n_layers);
  read(j, "model", "n_heads", m.n_heads);
  read(j, "model", "n_kv_heads", m.n_kv_heads);
  read(j, "model", "head_dim", m.head_dim);
  read(j, "model", "mlp_dim", m.mlp_dim);
  read(j, "model", "rope_theta", m.rope_theta);
  read(j, "model", "seed", m.seed);
  return m;
}

EngineConfig read_engine(const json& j) {
  EngineConfig e;
  if (j.is_null()) return e;
  check_object(j, "engine", {"max_tokens_per_step", "prefill_chunk_size", "kv_cache",
                             "block_size", "num_blocks", "max_running", "policy",
                             "reserve_full_kv", "prefix_caching"});
  read(j, "engine", "max_tokens_per_step", e.max_tokens_per_step);
  read(j, "engine", "prefill_chunk_size", e.prefill_chunk_size);
  read(j, "engine", "block_size", e.block_size);
  read(j, "engine", "num_blocks", e.num_blocks);
  read(j, "engine", "max_running", e.max_running);
  read(j, "engine", "reserve_full_kv", e.reserve_full_kv);
  read(j, "engine", "prefix_caching", e.prefix_caching);
  if (j.contains("policy")) {
    const json& p = j["policy"];
    if (p == "fcfs") e.policy = SchedulePolicy::fcfs;
    else if (p == "priority") e.policy = SchedulePolicy::priority;
    else throw WorkloadError("engine.policy", shown(p), "\"fcfs\" or \"priority\"");
  }
  if (j.contains("kv_cache")) {
    const json& k = j["kv_cache"];
    if (k == "dense") e.kv_cache = KVCacheKind::dense;
    else if (k == "paged") e.kv_cache = KVCacheKind::paged;
    else throw WorkloadError("engine.kv_cache", shown(k), "\"dense\" or \"paged\"");
  }
  return e;
}

RequestSpec read_request(const json& j, std::size_t index) {
  const std::string path = std::format("requests[{}]", index);
  check_object(j, path, {"id", "prompt", "prompt_tokens", "max_new_tokens", "stop_tokens",
                         "arrival_step", "priority", "temperature", "top_k", "top_p", "seed",
                         "n"});
  RequestSpec r;
  r.id = std::format("r{}", index);
  if (j.contains("id")) {
    if (j["id"].is_string()) r.id = j["id"].get<std::string>();
    else if (j["id"].is_number_integer()) r.id = j["id"].dump();  // its digits, even above 2^63
    else throw WorkloadError(path + ".id", shown(j["id"]), "a string or an integer");
  }
  if (j.contains("prompt") == j.contains("prompt_tokens"))
    throw WorkloadError(path, shown(j), "exactly one of \"prompt\" (text) and \"prompt_tokens\"");
  if (j.contains("prompt")) {
    if (!j["prompt"].is_string()) throw WorkloadError(path + ".prompt", shown(j["prompt"]), "a string");
    for (unsigned char c : j["prompt"].get<std::string>()) r.prompt_tokens.push_back(c);
  } else {
    r.prompt_tokens = read_tokens(j["prompt_tokens"], path + ".prompt_tokens");
  }
  read(j, path, "max_new_tokens", r.max_new_tokens);
  read(j, path, "arrival_step", r.arrival_step);
  read(j, path, "priority", r.priority);
  read(j, path, "temperature", r.sampling.temperature);
  read(j, path, "top_k", r.sampling.top_k);
  read(j, path, "top_p", r.sampling.top_p);
  read(j, path, "seed", r.sampling.seed);
  read(j, path, "n", r.n);
  if (j.contains("stop_tokens")) r.stop_tokens = read_tokens(j["stop_tokens"], path + ".stop_tokens");
  return r;
}

// Output bytes as readable text: printable ASCII as is, anything else as \xNN.
std::string bytes_as_text(const std::vector<int32_t>& tokens) {
  std::string s;
  for (int32_t t : tokens) {
    if (t >= 0x20 && t < 0x7f) s += static_cast<char>(t);
    else s += std::format("\\x{:02x}", t);
  }
  return s;
}

}  // namespace

Workload parse_workload(std::string_view json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw WorkloadError("(file)", e.what(), "valid JSON");
  }
  check_object(root, "", {"model", "engine", "requests"});
  Workload w;
  w.model = read_model(root.value("model", json()));
  w.engine = read_engine(root.value("engine", json()));
  const json requests = root.value("requests", json::array());
  if (!requests.is_array()) throw WorkloadError("requests", shown(requests), "an array");
  for (std::size_t i = 0; i < requests.size(); ++i) w.requests.push_back(read_request(requests[i], i));
  return w;
}

Workload load_workload(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError("file", path, "a readable workload file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_workload(text.str());
}

Engine make_engine(const Workload& workload) {
  Engine engine(workload.model, workload.engine);
  for (std::size_t i = 0; i < workload.requests.size(); ++i) {
    try {
      engine.add_request(workload.requests[i]);
    } catch (const RequestError& e) {
      throw WorkloadError(std::format("requests[{}].{}", i, e.field), e.value, e.allowed);
    }
  }
  return engine;
}

namespace {
// What one sequence produced: a request's entry when n = 1, one of its "outputs" when n > 1.
json sequence_json(const Request& r, bool bytes) {
  json o = {{"output_tokens", r.output_tokens},
            {"finish_reason", std::string(to_string(r.finish_reason))},
            {"first_token_step", r.first_token_step},
            {"finish_step", r.finish_step},
            {"num_preemptions", r.num_preemptions},
            {"cached_prompt_tokens", r.num_cached_prompt_tokens},
            {"ttft_steps", r.ttft_steps()},
            {"tpot_steps", r.tpot_steps()},
            {"ttft_ms", r.ttft_ms()},
            {"tpot_ms", r.tpot_ms()}};
  if (bytes) o["output_text"] = bytes_as_text(r.output_tokens);
  return o;
}
}  // namespace

std::string result_json(const Engine& engine, int indent) {
  json requests = json::array();
  const bool bytes = engine.model().config().vocab_size <= 256;
  const auto& all = engine.requests();
  for (std::size_t i = 0; i < all.size(); i += all[i].spec.n) {  // one entry per request
    const Request& r = all[i];
    json o = {{"id", r.spec.id}, {"prompt_tokens", r.spec.prompt_tokens}};
    if (r.spec.n == 1) {
      o.update(sequence_json(r, bytes));
    } else {  // parallel sampling: one output per sample, in sample order
      o["n"] = r.spec.n;
      json outputs = json::array();
      for (int k = 0; k < r.spec.n; ++k) {
        json sample = {{"index", k}, {"seed", all[i + k].spec.sampling.seed}};
        sample.update(sequence_json(all[i + k], bytes));
        outputs.push_back(std::move(sample));
      }
      o["outputs"] = std::move(outputs);
    }
    requests.push_back(std::move(o));
  }
  const EngineMetrics& m = engine.metrics();
  const json metrics = {
      {"preemptions", m.num_preemptions},
      {"preemptions_by_reason", {{std::string(to_string(PreemptionReason::decode_needs_block)),
                                  m.num_preemptions_decode},
                                 {std::string(to_string(PreemptionReason::prefill_needs_block)),
                                  m.num_preemptions_prefill}}},
      {"preempted_tokens_lost", m.num_tokens_lost},
      {"aborted", m.num_aborted},
      {"prefix_cache_hit_rate", m.prefix_cache_hit_rate()},
      {"prefix_cache_hit_tokens", m.prefix_cache_hit_tokens},
      {"prefix_cache_query_tokens", m.prefix_cache_query_tokens},
      {"prefix_cache_evictions", engine.kv_cache().pool().num_evictions()},
      {"max_kv_utilization", m.max_kv_utilization()},
      {"max_blocks_used", m.max_blocks_used},
      {"computed_tokens", m.num_computed_tokens},
      {"output_tokens", m.num_output_tokens},
      {"busy_ms", m.busy_us / 1e3},
      {"tokens_per_s", m.tokens_per_s()},
      {"computed_tokens_per_s", m.computed_tokens_per_s()}};
  return json{{"num_steps", engine.num_steps()}, {"requests", requests}, {"metrics", metrics}}
      .dump(indent);
}

}  // namespace cblab

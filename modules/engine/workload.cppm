// cblab.engine:workload — workload files in, result files out (JSON; format in
// docs/workload_format.md).
//
// A workload is a model, an engine configuration and a list of requests; every key has a
// documented default. A malformed file, a value of the wrong type or an unknown key throws a
// WorkloadError whose field is the JSON path ("requests[2].max_new_tokens"). Semantic checks
// (budget > 0, heads divide, ...) are the engine's, with the same field names.
// Not here: streaming results, tokenizers (a text prompt is its UTF-8 bytes).
module;
#include <string>
#include <string_view>
#include <vector>
export module cblab.engine:workload;
import :request;
import :model;
import :llm_engine;

export namespace cblab {

struct Workload {
  ModelConfig model;
  EngineConfig engine;
  std::vector<RequestSpec> requests;
};

Workload parse_workload(std::string_view json_text);
Workload load_workload(const std::string& path);  // WorkloadError "file" if unreadable

// An engine with every request of the workload added. A request the engine rejects becomes a
// WorkloadError at its JSON path (requests[i].<field>).
Engine make_engine(const Workload& workload);

// The result file of a run: per request its tokens, finish reason and steps; num_steps.
std::string result_json(const Engine& engine, int indent = 2);

}  // namespace cblab

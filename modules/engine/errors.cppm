// cblab.engine:errors — the typed errors of the engine: bad input a user can act on.
//
// Every error names the field, the value it had and what is allowed, e.g.
//   engine.prefill_chunk_size = 128: allowed 1..engine.max_tokens_per_step (64)
// They are thrown before any state changes, so a rejected call leaves the engine as it was.
// Broken internal invariants are not errors: they are asserts with their reason.
// Running out of KV blocks is not an error either: it is control flow ("no room").
module;
#include <format>
#include <stdexcept>
#include <string>
export module cblab.engine:errors;

export namespace cblab {

// Base of every input error: the three facts a user needs.
struct InputError : std::invalid_argument {
  std::string field;    // e.g. "engine.block_size" or the JSON path "requests[2].prompt"
  std::string value;    // the offending value, printed
  std::string allowed;  // what would have been accepted
  InputError(std::string field_, std::string value_, std::string allowed_)
      : std::invalid_argument(std::format("{} = {}: allowed {}", field_, value_, allowed_)),
        field(std::move(field_)), value(std::move(value_)), allowed(std::move(allowed_)) {}
};

// A bad model or engine configuration (ModelConfig, EngineConfig).
struct ConfigError : InputError {
  using InputError::InputError;
};

// A bad request given to Engine::add_request.
struct RequestError : InputError {
  using InputError::InputError;
};

// A workload file that is not valid JSON or has a key of the wrong type; field is the JSON path.
struct WorkloadError : InputError {
  using InputError::InputError;
};

}  // namespace cblab

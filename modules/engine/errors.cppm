// cblab.engine:errors — the typed errors of the engine: bad input a user can act on.
//
// Every error names the field, the value it had and what is allowed, e.g.
//   engine.prefill_chunk_size = 128: allowed 1..engine.max_tokens_per_step (64)
// They are thrown before any state changes, so a rejected call leaves the engine as it was.
// Broken internal invariants are not errors: they are asserts with their reason.
// Running out of KV blocks is not an error either: it is control flow ("no room").
// The resource caps live here too: asking for more than a cap is an input error like any
// other, checked before anything is allocated (docs/errors.md, "Resource caps").
module;
#include <cstdint>
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

// [resource caps] -----------------------------------------------------------------------------
// Far above anything a lesson needs, low enough that the process survives: a wasm page has at
// most 2 GiB of memory and, while it swaps configurations, holds two engines at once.
#ifdef __EMSCRIPTEN__
inline constexpr int64_t kMaxKVBytes = int64_t{256} << 20;      // K and V of the whole pool
inline constexpr int64_t kMaxWeightBytes = int64_t{256} << 20;  // every weight of the model
#else
inline constexpr int64_t kMaxKVBytes = int64_t{1} << 30;
inline constexpr int64_t kMaxWeightBytes = int64_t{1} << 30;
#endif
// Every step's record holds a snapshot of each block (the page keeps thousands of records).
inline constexpr int kMaxNumBlocks = 1 << 16;
// prompt_tokens + max_new_tokens of one request.
inline constexpr int64_t kMaxRequestTokens = int64_t{1} << 20;

// a * b and a + b for size checks (of values >= 0): 64-bit, saturated at INT64_MAX instead
// of wrapping.
constexpr int64_t mul_saturated(int64_t a, int64_t b) {
  int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? INT64_MAX : product;
}
constexpr int64_t add_saturated(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}
// A byte count as a message shows it: "1073741824 bytes = 1024 MiB" (MiB rounded up).
inline std::string bytes_text(int64_t bytes) {
  if (bytes == INT64_MAX) return "more than 2^63 bytes";
  return std::format("{} bytes = {} MiB", bytes, (bytes + (1 << 20) - 1) >> 20);
}

}  // namespace cblab

// cblab.engine:request — one generation request and its lifecycle.
//
//   waiting --admitted--> prefilling --prompt done--> decoding --stop/length--> finished
//                                     \--max_new_tokens = 0--------------------/
//
// A request knows its tokens and how many of them already have K/V in the cache
// (num_computed_tokens); everything else is derived from those. It does not know where its
// K/V live (that is the KV cache's block table) nor when it runs (that is the scheduler).
// Not yet: preemption, priorities, abort, sampling parameters (issue 7). A state `preempted`
// would sit between decoding and waiting, keeping its tokens and dropping its blocks.
module;
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
export module cblab.engine:request;

export namespace cblab {

enum class RequestState { waiting, prefilling, decoding, finished };
enum class FinishReason { none, length, stop };

std::string_view to_string(RequestState s);
std::string_view to_string(FinishReason r);

// What a caller asks for. Token ids index the model's vocabulary (bytes by default).
struct RequestSpec {
  std::string id;                      // unique name, e.g. "r0"
  std::vector<int32_t> prompt_tokens;  // (P) at least one token
  int max_new_tokens = 16;             // 0 = prefill only, no output
  std::vector<int32_t> stop_tokens;    // generation stops after sampling one of these
  int arrival_step = 0;                // not admitted before this step
};

struct Request {
  RequestSpec spec;
  RequestState state = RequestState::waiting;
  FinishReason finish_reason = FinishReason::none;
  std::vector<int32_t> output_tokens;  // sampled so far; the stop token is kept
  int num_computed_tokens = 0;         // tokens whose K/V are in the cache
  int first_token_step = -1;           // step that sampled the first output token
  int finish_step = -1;                // step in which the request finished

  int num_prompt_tokens() const { return static_cast<int>(spec.prompt_tokens.size()); }
  int num_output_tokens() const { return static_cast<int>(output_tokens.size()); }
  int num_tokens() const { return num_prompt_tokens() + num_output_tokens(); }
  int num_prompt_tokens_left() const { return num_prompt_tokens() - num_computed_tokens; }
  bool is_finished() const { return state == RequestState::finished; }
  // Token at position p of the whole sequence (prompt, then output).
  int32_t token_at(int p) const {
    return p < num_prompt_tokens() ? spec.prompt_tokens[p] : output_tokens[p - num_prompt_tokens()];
  }
  // The most K/V positions this request can ever hold: its prompt and every output token but
  // the last (the last sampled token is never fed back). The scheduler reserves this much.
  int max_kv_tokens() const {
    return num_prompt_tokens() + (spec.max_new_tokens > 0 ? spec.max_new_tokens - 1 : 0);
  }
};

}  // namespace cblab

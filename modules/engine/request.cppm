// cblab.engine:request — one generation request and its lifecycle.
//
//   waiting --admitted--> prefilling --prompt done--> decoding --stop/length--> finished
//      ^                      |   \--max_new_tokens = 0------------------------/    ^
//      |                      |                                                     |
//   preempted <--no KV block--+---------------- decoding                    abort (any state)
//      \--re-admitted: prefills prompt + output again (recompute), then decodes on
//
// A request knows its tokens and how many of them already have K/V in the cache
// (num_computed_tokens); everything else is derived from those. It does not know where its
// K/V live (that is the KV cache's block table) nor when it runs (that is the scheduler).
// Preemption (by recompute) keeps the tokens and drops the K/V: num_computed_tokens goes back
// to 0 and the request waits again at the head of the queue.
// With prefix caching, admission may find its first blocks cached: num_computed_tokens then
// starts past them.
// Parallel sampling (RequestSpec::n > 1): the engine fans a request out into n Requests, one
// per sample (a "sequence" in vLLM's words), at consecutive indices; they share the request's
// id and differ in sample_index and seed. See :scheduler for how they share prompt blocks.
// Not here: swapping K/V to host memory, beam search.
module;
#include <cstdint>
#include <format>
#include <string>
#include <string_view>
#include <vector>
export module cblab.engine:request;

export namespace cblab {

enum class RequestState { waiting, prefilling, decoding, preempted, finished };
enum class FinishReason { none, length, stop, abort };

std::string_view to_string(RequestState s);
std::string_view to_string(FinishReason r);

// How the next token is drawn from the logits (see :sampling). The defaults are greedy.
struct SamplingParams {
  float temperature = 0.f;  // 0 = greedy (argmax); otherwise softmax(logits / temperature)
  int top_k = 0;            // keep only the k most likely tokens; 0 = all
  float top_p = 1.f;        // keep the fewest most likely tokens whose probability >= top_p
  uint64_t seed = 0;        // the same seed draws the same tokens, natively and in wasm
  bool is_greedy() const { return temperature == 0.f; }
};

// Most samples one request may ask for (RequestSpec::n): a lab limit, not a principle.
constexpr int kMaxSamples = 64;

// What a caller asks for. Token ids index the model's vocabulary (bytes by default).
struct RequestSpec {
  std::string id;                      // unique name, e.g. "r0"
  std::vector<int32_t> prompt_tokens;  // (P) at least one token
  int max_new_tokens = 16;             // 0 = prefill only, no output
  std::vector<int32_t> stop_tokens;    // generation stops after sampling one of these
  int arrival_step = 0;                // not admitted before this step
  int priority = 0;                    // policy "priority": smaller runs first (as in vLLM)
  SamplingParams sampling;             // greedy unless temperature > 0
  int n = 1;                           // samples drawn from the prompt (parallel sampling):
                                       // sample k draws with seed + k, as in vLLM
};

struct Request {
  RequestSpec spec;
  RequestState state = RequestState::waiting;
  FinishReason finish_reason = FinishReason::none;
  std::vector<int32_t> output_tokens;  // sampled so far; the stop token is kept
  int num_computed_tokens = 0;         // tokens whose K/V are in the cache
  int first_token_step = -1;           // step that sampled the first output token
  int finish_step = -1;                // step in which the request finished
  int num_preemptions = 0;             // times its K/V were dropped to make room
  int arrived_step = -1;               // first step it could run: max(arrival_step, step added)
  int num_cached_prompt_tokens = 0;    // prompt tokens found in the prefix cache at admission
  int first_sample = 0;                // parallel sampling: index of sample 0 of its request;
  int sample_index = 0;                // this is sample k (its samples: first_sample + 0..n-1)
  // Engine time (wall time spent inside Engine::step, microseconds) when the request arrived,
  // sampled its first token and finished; -1 = not yet.
  int64_t arrival_us = -1, first_token_us = -1, finish_us = -1;

  // How the CLI and the trace name it: the id, and "id#k" for sample k when n > 1 ("r0#1").
  std::string name() const {
    return spec.n > 1 ? std::format("{}#{}", spec.id, sample_index) : spec.id;
  }
  int num_prompt_tokens() const { return static_cast<int>(spec.prompt_tokens.size()); }
  int num_output_tokens() const { return static_cast<int>(output_tokens.size()); }
  int num_tokens() const { return num_prompt_tokens() + num_output_tokens(); }
  int num_prompt_tokens_left() const { return num_prompt_tokens() - num_computed_tokens; }
  // Tokens still to run through the model before the next token can be sampled: the rest of
  // the prompt, or after a preemption the prompt and every output token (recompute).
  int num_tokens_to_prefill() const { return num_tokens() - num_computed_tokens; }
  bool is_finished() const { return state == RequestState::finished; }
  bool is_running() const {
    return state == RequestState::prefilling || state == RequestState::decoding;
  }
  // Serving metrics, in steps (-1 when not defined yet). Time to first token counts the steps
  // from its arrival to the one that sampled it, both included; time per output token is the
  // mean gap between output tokens after the first.
  int ttft_steps() const {
    return first_token_step < 0 || arrived_step < 0 ? -1 : first_token_step - arrived_step + 1;
  }
  double tpot_steps() const {
    if (finish_step < 0 || num_output_tokens() < 2) return -1;
    return double(finish_step - first_token_step) / (num_output_tokens() - 1);
  }
  double ttft_ms() const {
    return first_token_us < 0 || arrival_us < 0 ? -1 : (first_token_us - arrival_us) / 1e3;
  }
  double tpot_ms() const {
    if (finish_us < 0 || num_output_tokens() < 2) return -1;
    return (finish_us - first_token_us) / 1e3 / (num_output_tokens() - 1);
  }
  // The whole sequence: prompt, then output. (N)
  std::vector<int32_t> all_tokens() const {
    std::vector<int32_t> t = spec.prompt_tokens;
    t.insert(t.end(), output_tokens.begin(), output_tokens.end());
    return t;
  }
  // Token at position p of the whole sequence (prompt, then output).
  int32_t token_at(int p) const {
    return p < num_prompt_tokens() ? spec.prompt_tokens[p] : output_tokens[p - num_prompt_tokens()];
  }
  // The most K/V positions this request can ever hold: its prompt and every output token but
  // the last (the last sampled token is never fed back). The scheduler reserves this much.
  // 64-bit: max_new_tokens may be 2^31 - 1 when the engine checks whether it fits.
  int64_t max_kv_tokens() const {
    return int64_t{num_prompt_tokens()} + (spec.max_new_tokens > 0 ? spec.max_new_tokens - 1 : 0);
  }
};

}  // namespace cblab

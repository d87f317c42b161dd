// cblab.engine:sampling — from one row of logits to one token.
//
//   logits --(temperature == 0)--> argmax                                  (greedy)
//   logits --/ temperature--> softmax --top_k--> --top_p--> draw u in [0, 1) --> token
//
// The order is vLLM's: scale by the temperature, keep the top_k most likely tokens, then the
// fewest of those whose probability reaches top_p, renormalize, and draw. Candidates are
// ordered by logit, ties by the smaller token id (the token argmax would pick), so top_k = 1
// and a tiny top_p both give exactly the greedy token.
//
// The draw is counter-based: output token k of a request with seed s uses
//   u = splitmix64_output(s + (k + 1) * 0x9E3779B97F4A7C15) / 2^64
// i.e. the k-th value of the splitmix64 stream seeded with s (SplitMix64 in :model), so a
// request's tokens depend on its seed and their index alone: not on which other requests share
// the batch, not on preemption (recomputed tokens are not sampled again), not on the platform
// (integer arithmetic only; the probabilities are doubles from std::exp, whose last bit may
// differ between libms, which moves a token only if u lands within ~1e-15 of a boundary).
// Not here: repetition/presence penalties, min_p, beam search, logprobs.
//
// Shape letters: V vocab, K candidates kept.
module;
#include <cstdint>
#include <span>
export module cblab.engine:sampling;
import :request;

export namespace cblab {

// The uniform draw in [0, 1) (53 bits) for output token `output_index` of a request seeded
// with `seed`.
double sampling_uniform(uint64_t seed, int output_index);

// The token drawn from logits (V) with `params`, for output token `output_index`.
int32_t sample(std::span<const float> logits, const SamplingParams& params, int output_index);

}  // namespace cblab

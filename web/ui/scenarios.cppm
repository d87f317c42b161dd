// cblab.ui:scenarios — one-click workloads that each show one idea, generated from a seed
// (splitmix64, so the page and a test draw the same requests):
//   chat      a burst of short prompts arriving over a few steps: decodes and prefills mix
//   long      a few long prompts that must be chunked, beside short ones that keep decoding
//   pressure  more requests than the KV pool holds, admitted on what they need now
//             (reserve_full_kv off): running requests run out of blocks and preempt others,
//             which wait again and recompute what they lost
//   shared    one system prompt in front of every request, prefix caching on: later requests
//             share its cached blocks; a late group arrives after the first has finished and
//             takes the free-but-cached blocks back
//   priority  policy "priority": a low-priority background batch, then urgent requests that
//             are admitted first and, when blocks run out, preempt the background ones
//   parallel  requests asking for n = 4 samples: the samples share their prompt's full blocks
//             (reference count > 1) and recompute only the last, partial one (vLLM's rule)
//   big       64 requests over 1024 blocks: the page's performance case
//   random    `count` requests of random lengths and arrivals
module;
#include <cstdint>
#include <string_view>
#include <vector>
export module cblab.ui:scenarios;
import cblab;

export namespace cblab::ui {

std::vector<std::string_view> scenario_names();
// Throws std::invalid_argument naming the scenario and the choices.
Workload make_scenario(std::string_view name, std::uint64_t seed = 1, int count = 16);

}  // namespace cblab::ui

// cblab.ui:scenarios — one-click workloads that each show one idea, generated from a seed
// (splitmix64, so the page and a test draw the same requests):
//   chat      a burst of short prompts arriving over a few steps: decodes and prefills mix
//   long      a few long prompts that must be chunked, beside short ones that keep decoding
//   pressure  more requests than the KV pool holds: admission waits for blocks to free
//   shared    one system prompt in front of every request (prefix caching comes in issue 7)
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

// cblab.engine:print — every component as text (std::format), for the CLI, tests and anyone
// stepping through the engine in a debugger or a terminal.
//
//   format_step         the per-step log line: "[step 3] decode=2 prefill=6 ..."
//   format_request(s)   state, progress and tokens of requests
//   format_block_pool   the pool as a grid: owner and used slots of every block
//   format_block_tables each request's logical -> physical blocks
//   format_batch        the ragged batch metadata, one array per line
//   format_mask         a (rows, cols) mask as a grid of '#' (may attend) and '.'
// Not here: colors, JSON (see :workload), drawing (the web page).
module;
#include <cstdint>
#include <span>
#include <string>
#include <vector>
export module cblab.engine:print;
import :request;
import :kv_cache;
import :batch;
import :llm_engine;

export namespace cblab {

// With the engine's requests, a sample of a request with n > 1 is shown by index and name:
// "#2(r0#1)" (request r0, sample 1); without them, or for n = 1, by index alone: "#2".
std::string format_step(const StepRecord& record, std::span<const Request> requests = {});
std::string format_request(const Request& request, int index);
std::string format_requests(const std::vector<Request>& requests);
std::string format_block_pool(std::span<const BlockSnapshot> blocks, int block_size);
std::string format_block_tables(const KVCache& kv, std::span<const int> requests);
std::string format_batch(const Batch& batch);
std::string format_mask(std::span<const uint8_t> mask, int rows, int cols);

}  // namespace cblab

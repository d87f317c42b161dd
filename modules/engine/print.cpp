// print.cpp — the text views of requests, the pool, batches, masks and step records.
module;
#include <algorithm>
#include <cstdint>
#include <format>
#include <span>
#include <string>
#include <vector>
module cblab.engine;

namespace cblab {

namespace {
template <class T>
std::string join(std::span<const T> values) {
  std::string s;
  for (std::size_t i = 0; i < values.size(); ++i) s += std::format("{}{}", i ? " " : "", values[i]);
  return s;
}
}  // namespace

// [step log line] -----------------------------------------------------------------------------

std::string format_step(const StepRecord& s, std::span<const Request> requests) {
  auto label = [&](int i) {
    const bool is_sample = i >= 0 && i < static_cast<int>(requests.size()) && requests[i].spec.n > 1;
    return is_sample ? std::format("#{}({})", i, requests[i].name()) : std::format("#{}", i);
  };
  std::string chunks;
  for (const PrefillChunk& c : s.prefills)
    chunks += std::format("{}{}[{}:{})", chunks.empty() ? "" : " ", label(c.request), c.start,
                          c.start + c.len);
  const int num_free = static_cast<int>(
      std::ranges::count_if(s.blocks, [](const BlockSnapshot& b) { return b.ref_count == 0; }));
  std::string line = std::format(
      "[step {}] decode={} prefill={} ({}) budget={}/{} admitted={} running={} waiting={} "
      "blocks +{} -{} free={}/{} sampled={} finished={} compute={}us",
      s.step, s.num_decode_tokens(), s.num_prefill_tokens(), chunks, s.budget_used, s.budget,
      s.admitted.size(), s.num_running, s.num_waiting, s.blocks_allocated.size(),
      s.blocks_freed.size(), num_free, s.blocks.size(), s.sampled.size(), s.finished.size(),
      s.compute_us);
  // Only when they happen, so the common line stays short.
  for (const Preemption& p : s.preempted)
    line += std::format(" preempted={}(for {}, {}, lost {} tokens)", label(p.request),
                        label(p.needed_by), to_string(p.reason), p.num_tokens_lost);
  for (const PrefixHit& h : s.prefix_hits)
    if (h.num_cached_tokens > 0)
      line += std::format(" cache_hit={}:{}", label(h.request), h.num_cached_tokens);
  for (const PromptShare& p : s.prompt_shares)
    line += std::format(" shares={}<-{}:{} blocks", label(p.request), label(p.donor), p.num_blocks);
  const auto num_shared = std::ranges::count_if(s.blocks, [](const BlockSnapshot& b) { return b.ref_count > 1; });
  if (num_shared > 0) line += std::format(" shared_blocks={}", num_shared);
  if (!s.aborted.empty()) {
    std::string names;
    for (int i : s.aborted) names += std::format("{}{}", names.empty() ? "" : " ", label(i).substr(1));
    line += std::format(" aborted=[{}]", names);
  }
  return line;
}

// [requests] ----------------------------------------------------------------------------------

std::string format_request(const Request& r, int index) {
  std::string s = std::format("#{} {} {} prompt={} computed={} output={}/{}", index, r.name(),
                              to_string(r.state), r.num_prompt_tokens(), r.num_computed_tokens,
                              r.num_output_tokens(), r.spec.max_new_tokens);
  if (r.num_preemptions > 0) s += std::format(" preemptions={}", r.num_preemptions);
  if (r.is_finished()) s += std::format(" finish={}@{}", to_string(r.finish_reason), r.finish_step);
  if (!r.output_tokens.empty())
    s += std::format(" tokens=[{}]", join(std::span<const int32_t>(r.output_tokens)));
  return s;
}

std::string format_requests(const std::vector<Request>& requests) {
  std::string s;
  for (std::size_t i = 0; i < requests.size(); ++i)
    s += format_request(requests[i], static_cast<int>(i)) + "\n";
  return s;
}

// [KV cache] ----------------------------------------------------------------------------------

std::string format_block_pool(std::span<const BlockSnapshot> blocks, int block_size) {
  // One cell per block, 8 per line: "#owner used/B (xref)" or "free".
  const auto used = std::ranges::count_if(blocks, [](const BlockSnapshot& b) { return b.ref_count > 0; });
  std::string s = std::format("block pool: {}/{} blocks in use, {} slots each\n", used,
                              blocks.size(), block_size);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const BlockSnapshot& x = blocks[b];
    const std::string cell = x.ref_count == 0
                                 ? std::string(x.is_cached ? "free cached" : "free")
                                 : std::format("#{} {}/{}{}", x.owner, x.used_slots, block_size,
                                               x.ref_count > 1 ? std::format(" x{}", x.ref_count) : "");
    s += std::format("{:>4}:{:<14}", b, cell);
    if (b % 8 == 7 || b + 1 == blocks.size()) s += "\n";
  }
  return s;
}

std::string format_block_tables(const KVCache& kv, std::span<const int> requests) {
  std::string s;
  for (int i : requests)
    s += std::format("#{}: {} tokens, blocks [{}]\n", i, kv.num_tokens(i), join(kv.block_table(i)));
  return s;
}

// [batch] -------------------------------------------------------------------------------------

std::string format_batch(const Batch& b) {
  std::string s = std::format("batch: {} tokens in {} rows\n", b.num_tokens(), b.num_seqs());
  auto line = [&](const char* name, const std::vector<int32_t>& v) {
    s += std::format("  {:<14}[{}]\n", name, join(std::span<const int32_t>(v)));
  };
  line("token_ids", b.token_ids);
  line("positions", b.positions);
  line("token_request", b.token_request);
  line("requests", b.requests);
  line("cu_seqlens_q", b.cu_seqlens_q);
  line("context_lens", b.context_lens);
  line("slot_mapping", b.slot_mapping);
  for (int r = 0; r < b.num_seqs(); ++r)
    s += std::format("  block_table[{}] [{}]\n", r,
                     join(std::span<const int32_t>(b.block_tables)
                              .subspan(static_cast<std::size_t>(r) * b.max_blocks_per_seq,
                                       b.max_blocks_per_seq)));
  return s;
}

std::string format_mask(std::span<const uint8_t> mask, int rows, int cols) {
  std::string s;
  for (int t = 0; t < rows; ++t) {
    for (int k = 0; k < cols; ++k) s += mask[static_cast<std::size_t>(t) * cols + k] ? '#' : '.';
    s += '\n';
  }
  return s;
}

}  // namespace cblab

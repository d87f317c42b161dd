// batch.cpp — the ragged batch builder and the ragged causal mask.
module;
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>
module cblab.engine;
import cblab.kernels;

namespace cblab {

Batch build_batch(std::span<const PrefillChunk> rows, const std::vector<Request>& requests,
                  const KVCache& kv) {
  Batch b;
  b.cu_seqlens_q.push_back(0);
  for (const PrefillChunk& row : rows) {
    const Request& r = requests[row.request];
    for (int p = row.start; p < row.start + row.len; ++p) {
      b.token_ids.push_back(r.token_at(p));
      b.positions.push_back(p);
      b.token_request.push_back(row.request);
      b.slot_mapping.push_back(kv.slot(row.request, p));
    }
    b.requests.push_back(row.request);
    b.cu_seqlens_q.push_back(b.num_tokens());
    b.context_lens.push_back(row.start + row.len);  // the prefix [0, start) is cached
    b.max_blocks_per_seq = std::max(b.max_blocks_per_seq, kv.blocks_needed(row.start + row.len));
  }
  b.block_tables.assign(static_cast<std::size_t>(b.num_seqs()) * b.max_blocks_per_seq, -1);
  for (int row = 0; row < b.num_seqs(); ++row) {
    const auto table = kv.block_table(b.requests[row]);
    const int n = std::min<int>(static_cast<int>(table.size()), b.max_blocks_per_seq);
    std::copy_n(table.begin(), n, b.block_tables.begin() + row * b.max_blocks_per_seq);
  }
  return b;
}

Batch build_batch(const Schedule& schedule, const std::vector<Request>& requests,
                  const KVCache& kv) {
  // A decode is a one-token row: the request's newest token, at the next uncached position.
  std::vector<PrefillChunk> rows;
  for (int i : schedule.decodes) rows.push_back({i, requests[i].num_computed_tokens, 1});
  rows.insert(rows.end(), schedule.prefills.begin(), schedule.prefills.end());
  return build_batch(rows, requests, kv);
}

std::vector<uint8_t> ragged_causal_mask(const Batch& batch) {
  const int T = batch.num_tokens();
  const int Tk = std::accumulate(batch.context_lens.begin(), batch.context_lens.end(), 0);
  std::vector<uint8_t> mask(static_cast<std::size_t>(T) * Tk, 0);  // (T, Tk)
  int key_offset = 0;  // where row r's keys start among the Tk
  for (int r = 0; r < batch.num_seqs(); ++r) {
    for (int t = batch.cu_seqlens_q[r]; t < batch.cu_seqlens_q[r + 1]; ++t) {
      const int p = batch.positions[t];
      assert(p < batch.context_lens[r] && "a new token lies inside its row's context");
      for (int k = 0; k <= p; ++k) mask[static_cast<std::size_t>(t) * Tk + key_offset + k] = 1;
    }
    key_offset += batch.context_lens[r];
  }
  return mask;
}

}  // namespace cblab

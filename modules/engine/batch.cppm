// cblab.engine:batch — a step's scheduled work flattened into one ragged batch.
//
// Continuous batching runs requests of different lengths in one forward pass without padding:
// their new tokens are concatenated (T of them), and side arrays say which request each token
// belongs to, where its K/V go and what it may attend to. Decodes come first (one token
// each), then prefill chunks, in the scheduler's order. This is the metadata vLLM hands to its
// attention backend (nano-vllm's Context: cu_seqlens_q, slot_mapping, block_tables).
//
// Shape letters: T new tokens in the batch, R requests (batch rows), C_r context length of row
// r (its cached prefix + its new tokens), Tk = sum of C_r, MB max_blocks_per_seq.
// Not here: padding for CUDA graphs, cascade/prefix-shared attention.
module;
#include <cstdint>
#include <span>
#include <vector>
export module cblab.engine:batch;
import cblab.kernels;
import :request;
import :kv_cache;
import :scheduler;

export namespace cblab {

struct Batch {
  std::vector<int32_t> token_ids;      // (T) input token of each new token
  std::vector<int32_t> positions;      // (T) its position in its request's sequence
  std::vector<int32_t> token_request;  // (T) request index of each token
  std::vector<int32_t> requests;       // (R) request index of each batch row
  std::vector<int32_t> cu_seqlens_q;   // (R + 1) row r owns tokens [cu[r], cu[r+1])
  std::vector<int32_t> context_lens;   // (R) C_r = cached prefix + new tokens
  std::vector<int32_t> slot_mapping;   // (T) pool slot where each token's K/V are written
  std::vector<int32_t> block_tables;   // (R, MB) row-major, padded with -1
  int max_blocks_per_seq = 0;          // MB

  int num_tokens() const { return static_cast<int>(token_ids.size()); }  // T
  int num_seqs() const { return static_cast<int>(requests.size()); }     // R
  int query_len(int row) const { return cu_seqlens_q[row + 1] - cu_seqlens_q[row]; }
  // The view the varlen paged attention kernel takes (spans into this batch).
  kernels::VarlenBatch varlen() const {
    return {cu_seqlens_q, context_lens, block_tables, max_blocks_per_seq};
  }
};

// Flattens the schedule (decodes, then prefill chunks). Every scheduled token must already
// have its KV slot (Scheduler::schedule allocates them).
Batch build_batch(const Schedule& schedule, const std::vector<Request>& requests,
                  const KVCache& kv);

// The same batch from explicit (request, start, len) rows, for tests and teaching: row i feeds
// tokens [start, start + len) of requests[rows[i].request]. Slots must be allocated.
Batch build_batch(std::span<const PrefillChunk> rows, const std::vector<Request>& requests,
                  const KVCache& kv);

// The ragged causal mask: mask[t][k] = 1 when new token t may attend to key k. Keys are every
// row's context laid end to end (row 0's C_0 keys, then row 1's, ...). Bottom-right aligned:
// the token at position p of row r sees keys 0..p of row r — its whole cached prefix and,
// causally, its own chunk — and nothing of other rows.
// mask: (T, Tk)
std::vector<uint8_t> ragged_causal_mask(const Batch& batch);

}  // namespace cblab

// cblab.engine:kv_cache — where keys and values live between steps.
//
// Two parts, like vLLM's KV cache manager and its GPU tensors:
//   BlockPool  the bookkeeping: NB blocks of B slots, a free list and a reference count per
//              block. Allocation says "no room" (nullopt / false); it never throws for that.
//   KVCache    one block table per request (logical block i of a request -> physical block id),
//              the slot of every token (block_id * B + offset), and the K/V storage itself:
//              "paged" keeps one pool per layer laid out (NB, B, Hkv, D) and read through block
//              tables; "dense" keeps one append-only (C, Hkv, D) array per request and layer —
//              the baseline the paged cache is tested against. Both kinds use the same block
//              accounting, so a workload is scheduled identically with either.
// Prefix caching (KVCacheConfig::prefix_caching, paged only): a FULL block whose K/V are
// computed is registered under a hash chained over (parent block's hash, its token ids), so a
// block's hash names the whole prefix up to its end. A new request looks up the hashes of its
// own full blocks, takes the longest run of cached ones into its table (ref count + 1: blocks
// shared by several tables), and computes from there — always at least its last token, whose
// logits it needs. Only full blocks are shared, and a request only ever writes into its last,
// partial block, so a shared block is never written (vLLM's rule: no copy-on-write needed).
// A released cached block keeps its hash on the free list and can still be hit; allocation
// takes the least recently released block first and evicts its hash (LRU). Blocks of a
// request are released last block first, so the end of a prefix is evicted before its start.
// Parallel sampling shares blocks the same way, without a hash lookup: a sample takes the full
// prompt blocks of a running sibling into its table (share_blocks) and computes the rest of the
// prompt, at least its last token, into blocks of its own. Again only full blocks are shared
// and nobody writes into them: no copy-on-write.
// Not here: swapping to host memory, copy-on-write of partial blocks.
//
// Shape letters: NB blocks in the pool, B block_size, Hkv key/value heads, D head_dim,
// C context length of one request (tokens with K/V), L layers.
module;
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>
export module cblab.engine:kv_cache;
import cblab.kernels;

export namespace cblab {

enum class KVCacheKind { dense, paged };
std::string_view to_string(KVCacheKind k);

// What one block holds, as a UI draws it. owner = -1 for a free block.
struct BlockSnapshot {
  int owner = -1;       // request index of the block's first owner
  int used_slots = 0;   // 0..B slots holding a token's K/V
  int ref_count = 0;    // requests sharing the block; 0 = on the free list
  bool is_cached = false;  // a full block in the prefix cache: reusable even when free
};

// The longest cached prefix of a token sequence (prefix caching).
struct PrefixMatch {
  int num_blocks = 0;       // leading full blocks found in the cache
  int num_free_blocks = 0;  // of those, blocks on the free list (taking them uses free room)
  std::vector<uint64_t> hashes;  // (num_blocks) their chained hashes
};

class BlockPool {
 public:
  BlockPool(int num_blocks, int block_size);

  // Takes the least recently released block off the free list for `owner` (ref count 1),
  // evicting its cached hash if it had one; nullopt when none is free.
  std::optional<int32_t> allocate(int owner);
  // One more request shares the block.
  void retain(int32_t block);
  // One request lets go; at ref count 0 the block returns to the free list. True if freed.
  bool release(int32_t block);

  // [prefix cache]
  std::optional<int32_t> find_cached(uint64_t hash) const;
  // A cache hit: the block gains a user; a free cached block leaves the free list for `owner`.
  void take_cached(int32_t block, int owner);
  // Registers a full, computed block under `hash` (nothing if that hash is already cached).
  void set_hash(int32_t block, uint64_t hash);
  bool is_cached(int32_t block) const { return has_hash_[block] != 0; }
  uint64_t hash(int32_t block) const { return hashes_[block]; }
  int num_cached_blocks() const { return static_cast<int>(cached_.size()); }
  int num_evictions() const { return num_evictions_; }

  int num_blocks() const { return static_cast<int>(ref_counts_.size()); }
  int block_size() const { return block_size_; }
  int num_free_blocks() const { return static_cast<int>(free_list_.size()); }
  int ref_count(int32_t block) const { return ref_counts_[block]; }
  int owner(int32_t block) const { return owners_[block]; }

 private:
  int block_size_;
  std::deque<int32_t> free_list_;  // allocate from the front, release to the back
  std::vector<int> ref_counts_;    // (NB)
  std::vector<int> owners_;        // (NB) -1 when free
  std::vector<uint64_t> hashes_;   // (NB) valid where has_hash_
  std::vector<uint8_t> has_hash_;  // (NB)
  std::unordered_map<uint64_t, int32_t> cached_;  // hash -> block
  int num_evictions_ = 0;
};

struct KVCacheConfig {
  KVCacheKind kind = KVCacheKind::paged;
  int num_layers = 1;    // L
  int num_kv_heads = 1;  // Hkv
  int head_dim = 64;     // D
  int num_blocks = 256;  // NB
  int block_size = 16;   // B
  bool prefix_caching = false;  // paged only: share cached full blocks between requests
};

class KVCache {
 public:
  explicit KVCache(const KVCacheConfig& config);

  // [bookkeeping]
  // Blocks needed to hold num_tokens tokens: ceil(num_tokens / B). In 64-bit for the fit
  // check of a request (2^31 - 1 new tokens must not wrap); the int form for held tokens.
  int64_t blocks_needed(int64_t num_tokens) const;
  int blocks_needed(int num_tokens) const {
    return static_cast<int>(blocks_needed(int64_t{num_tokens}));
  }
  // Gives `request` slots for num_new_tokens more tokens, taking blocks from the pool as its
  // table needs them. Returns false, changing nothing, when the pool has too few free blocks.
  // Ids of the blocks taken are appended to *allocated when it is not null.
  bool allocate_slots(int request, int num_new_tokens, std::vector<int32_t>* allocated = nullptr);
  // Returns every block of `request` to the pool; the ids freed (ref count reached 0).
  std::vector<int32_t> free(int request);

  int num_tokens(int request) const;       // tokens given slots so far
  int num_blocks_held(int request) const;  // length of its block table
  std::span<const int32_t> block_table(int request) const;
  // Where token `position` of `request` lives in the pool: block_table[p / B] * B + p % B.
  int32_t slot(int request, int position) const;
  std::vector<BlockSnapshot> snapshot() const;  // (NB)

  // [prefix cache] (config.prefix_caching; otherwise every match is empty)
  // Chained hashes of the full blocks of tokens: h_i = H(h_{i-1}, tokens[i*B, (i+1)*B)).
  std::vector<uint64_t> full_block_hashes(std::span<const int32_t> tokens) const;
  // The longest cached prefix of tokens, leaving at least the last token to compute.
  PrefixMatch match_prefix(std::span<const int32_t> tokens) const;
  // Puts the matched blocks at the start of `request`'s empty table; returns the number of
  // tokens they hold (now computed).
  int take_prefix(int request, const PrefixMatch& match);
  // After a forward pass: registers every full block of `request` whose K/V are all computed.
  void cache_full_blocks(int request, std::span<const int32_t> tokens, int num_computed_tokens);
  // [parallel sampling]
  // Puts the first num_blocks blocks of `donor`'s table at the start of `request`'s empty
  // table (ref count + 1 each: now shared) and returns the number of tokens they hold (now
  // computed). The donor must hold their K/V. Kind dense has no blocks to point at: it copies
  // the donor's first K/V rows instead (the block accounting is the same for both kinds).
  int share_blocks(int request, int donor, int num_blocks);
  const BlockPool& pool() const { return pool_; }
  const KVCacheConfig& config() const { return config_; }

  // [storage]
  // Writes one token's K/V row. k_row, v_row: (Hkv, D)
  void write(int layer, int request, int position, std::span<const float> k_row,
             std::span<const float> v_row);
  // Copies the first context_len tokens of `request` into contiguous k, v: (C, Hkv, D).
  void gather(int layer, int request, int context_len, std::span<float> k,
              std::span<float> v) const;
  // The paged pool of one layer as the kernels read it (kind paged only).
  kernels::PagedKV paged_view(int layer) const;

 private:
  struct PerRequest {
    std::vector<int32_t> block_table;          // logical block -> physical block id
    std::vector<uint64_t> block_hashes;        // chained hashes of its leading full blocks
    int num_tokens = 0;
    std::vector<std::vector<float>> dense_k, dense_v;  // (L) x (C, Hkv, D), kind dense only
  };
  PerRequest& entry(int request);
  const PerRequest* find(int request) const;
  int row_size() const { return config_.num_kv_heads * config_.head_dim; }

  KVCacheConfig config_;
  BlockPool pool_;
  std::vector<PerRequest> requests_;           // indexed by request index
  // (L) x (NB, B, Hkv, D), kind paged only; each layer's pool starts on a cache line
  std::vector<kernels::Floats> k_pool_, v_pool_;
};

}  // namespace cblab

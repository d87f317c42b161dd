// kv_cache.cpp — the block pool, block tables, slot mapping and the two K/V storages.
module;
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <format>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
module cblab.engine;
import cblab.kernels;

namespace cblab {

std::string_view to_string(KVCacheKind k) { return k == KVCacheKind::dense ? "dense" : "paged"; }

// [BlockPool] ---------------------------------------------------------------------------------

BlockPool::BlockPool(int num_blocks, int block_size)
    : block_size_(block_size), ref_counts_(num_blocks, 0), owners_(num_blocks, -1),
      hashes_(num_blocks, 0), has_hash_(num_blocks, 0) {
  for (int32_t b = 0; b < num_blocks; ++b) free_list_.push_back(b);
}

std::optional<int32_t> BlockPool::allocate(int owner) {
  if (free_list_.empty()) return std::nullopt;
  const int32_t b = free_list_.front();
  free_list_.pop_front();
  assert(ref_counts_[b] == 0 && "a block on the free list must have no users");
  if (has_hash_[b]) {  // evict: its old contents are about to be overwritten
    cached_.erase(hashes_[b]);
    has_hash_[b] = 0;
    ++num_evictions_;
  }
  ref_counts_[b] = 1;
  owners_[b] = owner;
  return b;
}

void BlockPool::retain(int32_t block) {
  assert(ref_counts_[block] > 0 && "only a block in use can be shared");
  ++ref_counts_[block];
}

bool BlockPool::release(int32_t block) {
  assert(ref_counts_[block] > 0 && "released a block nobody holds (double free)");
  if (--ref_counts_[block] > 0) return false;
  owners_[block] = -1;
  free_list_.push_back(block);
  return true;
}

std::optional<int32_t> BlockPool::find_cached(uint64_t hash) const {
  const auto it = cached_.find(hash);
  if (it == cached_.end()) return std::nullopt;
  return it->second;
}

void BlockPool::take_cached(int32_t block, int owner) {
  assert(has_hash_[block] && "only a cached block can be a hit");
  if (ref_counts_[block] == 0) {
    free_list_.erase(std::ranges::find(free_list_, block));
    owners_[block] = owner;
  }
  ++ref_counts_[block];
}

void BlockPool::set_hash(int32_t block, uint64_t hash) {
  assert(ref_counts_[block] > 0 && "only a block in use holds fresh K/V");
  if (has_hash_[block] || cached_.contains(hash)) return;  // already cached (here or elsewhere)
  hashes_[block] = hash;
  has_hash_[block] = 1;
  cached_.emplace(hash, block);
}

// [KVCache: bookkeeping] ----------------------------------------------------------------------

namespace {
// The pool's sizes, checked before the block pool or any storage is allocated.
const KVCacheConfig& checked(const KVCacheConfig& config) {
  if (config.num_blocks < 1)
    throw ConfigError("engine.num_blocks", std::to_string(config.num_blocks), ">= 1");
  if (config.block_size < 1)
    throw ConfigError("engine.block_size", std::to_string(config.block_size), ">= 1");
  if (config.num_layers < 1 || config.num_kv_heads < 1 || config.head_dim < 1)
    throw ConfigError("kv_cache (layers, kv heads, head_dim)",
                      std::format("({}, {}, {})", config.num_layers, config.num_kv_heads,
                                  config.head_dim),
                      "each >= 1");
  // The pool's bytes, in 64-bit before anything is allocated (wasm's size_t is 32-bit).
  const int64_t slot_bytes = mul_saturated(mul_saturated(2 * sizeof(float), config.num_layers),
                                           mul_saturated(config.num_kv_heads, config.head_dim));
  const int64_t block_bytes = mul_saturated(slot_bytes, config.block_size);
  const int64_t pool_bytes = mul_saturated(block_bytes, config.num_blocks);
  if (pool_bytes > kMaxKVBytes || config.num_blocks > kMaxNumBlocks) {
    const std::string need = std::format("{} blocks x {} slots x {} bytes per slot = {}",
                                         config.num_blocks, config.block_size, slot_bytes,
                                         bytes_text(pool_bytes));
    const std::string cap = std::format("KV pool cap {}", bytes_text(kMaxKVBytes));
    if (block_bytes > kMaxKVBytes)
      throw ConfigError("engine.block_size", std::format("{} ({})", config.block_size, need),
                        std::format("at most {} slots per block with this model ({})",
                                    kMaxKVBytes / slot_bytes, cap));
    throw ConfigError("engine.num_blocks", std::format("{} ({})", config.num_blocks, need),
                      std::format("at most {} blocks of {} slots ({}, and at most {} blocks)",
                                  std::min<int64_t>(kMaxKVBytes / block_bytes, kMaxNumBlocks),
                                  config.block_size, cap, kMaxNumBlocks));
  }
  return config;
}
}  // namespace

KVCache::KVCache(const KVCacheConfig& config)
    : config_(checked(config)), pool_(std::max(config.num_blocks, 0), std::max(config.block_size, 1)) {
  if (config.prefix_caching && config.kind != KVCacheKind::paged)
    throw ConfigError("engine.prefix_caching", "true",
                      "only with engine.kv_cache \"paged\" (a dense cache cannot share blocks)");
  if (config.kind == KVCacheKind::paged) {
    const auto pool_floats = static_cast<std::size_t>(config.num_blocks) * config.block_size *
                             row_size();
    k_pool_.assign(config.num_layers, kernels::Floats(pool_floats, 0.f));
    v_pool_.assign(config.num_layers, kernels::Floats(pool_floats, 0.f));
  }
}

int64_t KVCache::blocks_needed(int64_t num_tokens) const {
  return (num_tokens + config_.block_size - 1) / config_.block_size;  // 64-bit: never wraps
}

KVCache::PerRequest& KVCache::entry(int request) {
  assert(request >= 0 && "request indices are >= 0");
  if (request >= static_cast<int>(requests_.size())) requests_.resize(request + 1);
  return requests_[request];
}

const KVCache::PerRequest* KVCache::find(int request) const {
  if (request < 0 || request >= static_cast<int>(requests_.size())) return nullptr;
  return &requests_[request];
}

bool KVCache::allocate_slots(int request, int num_new_tokens, std::vector<int32_t>* allocated) {
  PerRequest& r = entry(request);
  const int new_blocks = blocks_needed(r.num_tokens + num_new_tokens) -
                         static_cast<int>(r.block_table.size());
  if (new_blocks > pool_.num_free_blocks()) return false;  // no room: nothing changes
  for (int i = 0; i < new_blocks; ++i) {
    const int32_t b = *pool_.allocate(request);
    r.block_table.push_back(b);
    if (allocated) allocated->push_back(b);
  }
  r.num_tokens += num_new_tokens;
  return true;
}

std::vector<int32_t> KVCache::free(int request) {
  std::vector<int32_t> freed;
  PerRequest& r = entry(request);
  // With prefix caching, last block first: the free list is LRU, so a prefix's tail is evicted
  // before its head (which more requests are likely to share).
  if (config_.prefix_caching) std::ranges::reverse(r.block_table);
  for (int32_t b : r.block_table)
    if (pool_.release(b)) freed.push_back(b);
  r = PerRequest{};
  return freed;
}

int KVCache::num_tokens(int request) const {
  const PerRequest* r = find(request);
  return r ? r->num_tokens : 0;
}

int KVCache::num_blocks_held(int request) const {
  const PerRequest* r = find(request);
  return r ? static_cast<int>(r->block_table.size()) : 0;
}

std::span<const int32_t> KVCache::block_table(int request) const {
  const PerRequest* r = find(request);
  return r ? std::span<const int32_t>(r->block_table) : std::span<const int32_t>{};
}

int32_t KVCache::slot(int request, int position) const {
  const PerRequest* r = find(request);
  assert(r && position >= 0 && position < r->num_tokens && "slot of a token never allocated");
  const int B = config_.block_size;
  return r->block_table[position / B] * B + position % B;
}

std::vector<BlockSnapshot> KVCache::snapshot() const {
  std::vector<BlockSnapshot> blocks(pool_.num_blocks());
  for (int32_t b = 0; b < pool_.num_blocks(); ++b)
    blocks[b] = {pool_.owner(b), 0, pool_.ref_count(b), pool_.is_cached(b)};
  for (const PerRequest& r : requests_)
    for (std::size_t i = 0; i < r.block_table.size(); ++i) {
      const int used = std::min(config_.block_size,
                                r.num_tokens - static_cast<int>(i) * config_.block_size);
      BlockSnapshot& s = blocks[r.block_table[i]];
      s.used_slots = std::max(s.used_slots, used);
    }
  return blocks;
}

// [KVCache: prefix cache] ---------------------------------------------------------------------

namespace {
// splitmix64's finalizer (Steele, Lea, Flood 2014): a strong 64-bit mix, the same everywhere.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
constexpr uint64_t kRootHash = 0xCB1AB0000000000Dull;  // parent of a sequence's first block
}  // namespace

std::vector<uint64_t> KVCache::full_block_hashes(std::span<const int32_t> tokens) const {
  const int B = config_.block_size;
  std::vector<uint64_t> hashes;
  uint64_t h = kRootHash;
  for (std::size_t start = 0; start + B <= tokens.size(); start += B) {
    for (int j = 0; j < B; ++j)
      h = mix(h + 0x9E3779B97F4A7C15ull + static_cast<uint32_t>(tokens[start + j]));
    hashes.push_back(h);  // the hash of everything up to this block's end
  }
  return hashes;
}

PrefixMatch KVCache::match_prefix(std::span<const int32_t> tokens) const {
  PrefixMatch m;
  if (!config_.prefix_caching || tokens.empty()) return m;
  // The last token is never taken from the cache: its logits are needed.
  for (uint64_t h : full_block_hashes(tokens.first(tokens.size() - 1))) {
    const auto block = pool_.find_cached(h);
    if (!block) break;
    ++m.num_blocks;
    m.num_free_blocks += pool_.ref_count(*block) == 0;
    m.hashes.push_back(h);
  }
  return m;
}

int KVCache::take_prefix(int request, const PrefixMatch& match) {
  PerRequest& r = entry(request);
  assert(r.block_table.empty() && "a prefix is taken at admission, into an empty table");
  for (uint64_t h : match.hashes) {
    const int32_t b = *pool_.find_cached(h);
    pool_.take_cached(b, request);
    r.block_table.push_back(b);
  }
  r.block_hashes = match.hashes;
  r.num_tokens = match.num_blocks * config_.block_size;
  return r.num_tokens;
}

void KVCache::cache_full_blocks(int request, std::span<const int32_t> tokens,
                                int num_computed_tokens) {
  if (!config_.prefix_caching) return;
  PerRequest& r = entry(request);
  const int B = config_.block_size;
  const int num_full = num_computed_tokens / B;
  if (static_cast<int>(r.block_hashes.size()) >= num_full) return;
  const auto hashes = full_block_hashes(tokens.first(static_cast<std::size_t>(num_full) * B));
  for (int k = static_cast<int>(r.block_hashes.size()); k < num_full; ++k) {
    pool_.set_hash(r.block_table[k], hashes[k]);
    r.block_hashes.push_back(hashes[k]);
  }
}

// [KVCache: parallel sampling] ----------------------------------------------------------------

int KVCache::share_blocks(int request, int donor, int num_blocks) {
  const int num_tokens = num_blocks * config_.block_size;
  entry(std::max(request, donor));  // grows requests_ once, so the references below stay valid
  PerRequest& r = requests_[request];
  const PerRequest& from = requests_[donor];
  assert(r.block_table.empty() && "blocks are shared at admission, into an empty table");
  assert(static_cast<int>(from.block_table.size()) >= num_blocks && from.num_tokens >= num_tokens &&
         "the donor holds the shared blocks");
  for (int k = 0; k < num_blocks; ++k) {
    pool_.retain(from.block_table[k]);
    r.block_table.push_back(from.block_table[k]);
  }
  // Their chained hashes too, so prefix caching does not register them again.
  const auto num_hashes = std::min<std::size_t>(from.block_hashes.size(), num_blocks);
  r.block_hashes.assign(from.block_hashes.begin(), from.block_hashes.begin() + num_hashes);
  r.num_tokens = num_tokens;
  if (config_.kind == KVCacheKind::dense) {  // contiguous per request: copy the rows
    const std::size_t floats = static_cast<std::size_t>(num_tokens) * row_size();
    r.dense_k.resize(config_.num_layers);
    r.dense_v.resize(config_.num_layers);
    for (int l = 0; l < config_.num_layers; ++l) {
      r.dense_k[l].assign(from.dense_k[l].begin(), from.dense_k[l].begin() + floats);
      r.dense_v[l].assign(from.dense_v[l].begin(), from.dense_v[l].begin() + floats);
    }
  }
  return num_tokens;
}

// [KVCache: storage] --------------------------------------------------------------------------

void KVCache::write(int layer, int request, int position, std::span<const float> k_row,
                    std::span<const float> v_row) {
  const int row = row_size();
  assert(static_cast<int>(k_row.size()) == row && static_cast<int>(v_row.size()) == row);
  if (config_.kind == KVCacheKind::paged) {
    const std::size_t at = static_cast<std::size_t>(slot(request, position)) * row;
    std::copy(k_row.begin(), k_row.end(), k_pool_[layer].begin() + at);
    std::copy(v_row.begin(), v_row.end(), v_pool_[layer].begin() + at);
    return;
  }
  PerRequest& r = entry(request);
  if (r.dense_k.empty()) {
    r.dense_k.resize(config_.num_layers);
    r.dense_v.resize(config_.num_layers);
  }
  std::vector<float>& k = r.dense_k[layer];
  std::vector<float>& v = r.dense_v[layer];
  assert(static_cast<int>(k.size()) == position * row && "the dense cache is append-only");
  k.insert(k.end(), k_row.begin(), k_row.end());
  v.insert(v.end(), v_row.begin(), v_row.end());
}

void KVCache::gather(int layer, int request, int context_len, std::span<float> k,
                     std::span<float> v) const {
  const int row = row_size();
  assert(static_cast<int>(k.size()) >= context_len * row && k.size() == v.size());
  for (int p = 0; p < context_len; ++p) {
    const float* src_k;
    const float* src_v;
    if (config_.kind == KVCacheKind::paged) {
      const std::size_t at = static_cast<std::size_t>(slot(request, p)) * row;
      src_k = k_pool_[layer].data() + at;
      src_v = v_pool_[layer].data() + at;
    } else {
      const PerRequest& r = requests_[request];
      src_k = r.dense_k[layer].data() + static_cast<std::size_t>(p) * row;
      src_v = r.dense_v[layer].data() + static_cast<std::size_t>(p) * row;
    }
    std::copy(src_k, src_k + row, k.begin() + static_cast<std::size_t>(p) * row);
    std::copy(src_v, src_v + row, v.begin() + static_cast<std::size_t>(p) * row);
  }
}

kernels::PagedKV KVCache::paged_view(int layer) const {
  assert(config_.kind == KVCacheKind::paged && "a dense cache has no pool to view");
  return {k_pool_[layer], v_pool_[layer], config_.num_blocks, config_.block_size};
}

}  // namespace cblab

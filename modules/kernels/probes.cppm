// cblab.kernels:probes — loops that measure the machine instead of computing anything: the
// benchmark times them to get the limits every kernel is compared with.
module;
#include <cstddef>
#include <cstdint>
#include <span>
export module cblab.kernels:probes;

export namespace cblab::kernels {

// One streaming pass over data on the active arch; returns the sum (so the reads cannot be
// optimised away). Timed over a buffer much larger than the caches: read bandwidth.
float probe_stream_read(std::span<const float> data);

// Reads the given blocks of a paged pool in order, each block's K then its V (block_floats
// floats each, the block's slots of every KV head), on the active arch; with prefetch_next,
// asking for the next block's lines first. Returns the sum. Timed: the read bandwidth of the
// layout decode attention walks, blocks scattered over the pool. Throws std::invalid_argument
// (naming the block) when a block does not lie inside both caches.
float probe_paged_read(std::span<const float> k_cache, std::span<const float> v_cache,
                       std::span<const std::int32_t> blocks, std::size_t block_floats, bool prefetch_next);

struct FmaProbe {
  double flops = 0;  // floating-point operations done (an FMA counts 2 per lane)
  float sink = 0;    // a result that depends on every FMA
};

// iterations rounds of independent FMA chains on the active arch. Timed: FMA peak.
FmaProbe probe_fma(long long iterations);

}  // namespace cblab::kernels

// cblab.kernels:probes — two loops that measure the machine instead of computing anything:
// the benchmark times them to get the limits every kernel is compared with.
module;
#include <span>
export module cblab.kernels:probes;

export namespace cblab::kernels {

// One streaming pass over data on the active arch; returns the sum (so the reads cannot be
// optimised away). Timed over a buffer much larger than the caches: read bandwidth.
float probe_stream_read(std::span<const float> data);

struct FmaProbe {
  double flops = 0;  // floating-point operations done (an FMA counts 2 per lane)
  float sink = 0;    // a result that depends on every FMA
};

// iterations rounds of independent FMA chains on the active arch. Timed: FMA peak.
FmaProbe probe_fma(long long iterations);

}  // namespace cblab::kernels

// cblab.bench — how fast the kernels are, measured against this machine's own limits.
//
// One run first measures the machine (single-thread streaming read bandwidth over a buffer
// much larger than the caches, the best of every SIMD arch's loads; FMA peak with independent
// accumulator chains, on the best arch), then times each case on each arch and thread count, and reports every figure as a
// ratio to the limit that bounds it: decode attention to the read bandwidth (it must read the
// whole K/V once per token), prefill attention and GEMM to the FMA peak (compute bound).
module;
#include <functional>
#include <string>
#include <vector>
export module cblab.bench;

export namespace cblab::bench {

struct Options {
  bool quick = false;              // fewer, shorter repetitions and a smaller read buffer
  std::vector<std::string> archs;  // archs to time; empty = every runnable arch
  std::vector<int> threads{1, 2};  // thread counts (the best arch only for counts > 1)
  std::vector<std::string> kinds;  // case kinds to time ("decode", "prefill", "gemm"); empty = all
  // Called before each case with "[i/n] what"; may be empty.
  std::function<void(int index, int count, const std::string& what)> progress;
};

// The case kinds, in the order a run times them.
inline constexpr const char* kKinds[] = {"decode", "prefill", "gemm"};

struct Machine {
  double read_gbps = 0;   // single-thread streaming read, GB/s (1e9 bytes)
  double fma_gflops = 0;  // single-thread FMA peak, GFLOP/s
  std::string arch;       // the best arch: the FMA peak is measured with it
  std::string read_arch;  // the arch whose loads streamed fastest (the read probe runs on each)
  bool decode_prefetch = true;  // kernels::decode_prefetch() during the run, and why
  std::string decode_prefetch_reason;
  double read_buffer_mib = 0;
  // The FMA probe on `all_threads` threads at once (the largest thread count timed; 1 and 0
  // when only 1 thread is): what the cores do together. Where the vCPUs are hyperthreads of one
  // core it is no more than fma_gflops, and a compute-bound kernel at efficiency e on 1 thread
  // can gain at most fma_gflops_all / (e * fma_gflops) from more threads.
  int all_threads = 1;
  double fma_gflops_all = 0;
};

struct Case {
  std::string kind;  // "decode", "prefill", "gemm"
  std::string arch;
  int threads = 1;
  // Shape: attention cases fill queries..context, GEMM cases M, K, N.
  int queries = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0, context = 0;
  int M = 0, K = 0, N = 0;
  std::string label;  // e.g. "larger model MLP up"
  double seconds = 0;  // median time of one call
  // Median CPU time of one call, all threads of the process: on a machine other work also
  // loads, the wall time includes waiting for a core and this does not (1 thread: cpu ~ wall).
  // 0 in the wasm build, which has no process CPU clock.
  double cpu_seconds = 0;
  double bytes = 0;    // bytes the kernel must read at least (decode: K and V)
  double flops = 0;
  double gbps = 0, gflops = 0;
  double ratio = 0;  // to read_gbps (decode) or fma_gflops (prefill, gemm)
  // Decode: how fast the machine reads this case's K/V blocks at all, in block-table order with
  // plain loads (probe_paged_read, the faster of without and with asking for the next block),
  // and the case's GB/s over it. Blocks are scattered over the pool, and the hardware
  // prefetcher starts over at each: a limit below read_gbps that no kernel can walk around.
  double paged_read_gbps = 0, ratio_paged = 0;
  // threads > 1: how many times faster than 1 thread, the median over pairs of calls timed
  // back to back (1 thread, then this many). This machine's speed can halve for minutes at a
  // time, so two medians taken a few seconds apart may fall in different phases; a pair
  // shares its phase. 0 for 1 thread.
  double speedup = 0;
};

struct Report {
  Machine machine;
  std::vector<Case> cases;
};

// Throws std::invalid_argument for an arch that is not runnable or a thread count < 1.
Report run(const Options& options);

std::string format_table(const Report& report);  // the human-readable table
std::string to_json(const Report& report);       // {"machine": {...}, "cases": [...]}

}  // namespace cblab::bench

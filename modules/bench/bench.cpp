// bench.cpp — the benchmark behind `cblab bench` (see bench.cppm).
//
// [SECTION] timing helpers
// [SECTION] the machine: read bandwidth and FMA peak
// [SECTION] the cases: decode, prefill, GEMM shapes
// [SECTION] running a case on one arch and thread count
// [SECTION] run(), table, JSON
module;
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <format>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>
module cblab.bench;
import cblab.kernels;

namespace cblab::bench {
namespace ck = cblab::kernels;
namespace {

// [SECTION] timing helpers ---------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Buffers start on a cache line (cblab.kernels:memory): a plain std::vector of a few MiB comes
// from mmap 16 bytes past a page start, and the read probe then measured 5 % low.
using ck::Floats;

// Cheap deterministic values in [-1, 1): the data does not change the speed, it only has to
// be ordinary floats (no NaN, no denormals).
void fill(Floats& v, std::uint32_t seed) {
  std::uint32_t x = seed * 2654435761u + 1u;
  for (float& f : v) {
    x = x * 1664525u + 1013904223u;
    f = float(std::int32_t(x) >> 8) * (1.f / 8388608.f);
  }
}

// CPU time used so far by all threads of the process.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Repeat {
  int min_reps;
  double min_seconds;
};

struct Timing {
  double wall, cpu;  // medians of one call
};

double median(std::vector<double> v) {
  std::ranges::nth_element(v, v.begin() + v.size() / 2);
  return v[v.size() / 2];
}

// Median wall and CPU time of one call of fn; before each timed call, between() runs untimed
// (e.g. to push the K/V cache out of the CPU caches, as a real step would find it).
template <class Fn, class Between>
Timing median_seconds(Fn&& fn, Between&& between, Repeat repeat) {
  std::vector<double> times, cpu_times;
  double total = 0;
  fn();  // warm-up: first-touch page faults, thread start-up, instruction caches
  while (int(times.size()) < repeat.min_reps || (total < repeat.min_seconds && times.size() < 100)) {
    between();
    const double cpu_start = process_cpu_seconds();
    const auto start = Clock::now();
    fn();
    times.push_back(seconds_since(start));
    cpu_times.push_back(process_cpu_seconds() - cpu_start);
    total += times.back();
  }
  return {median(times), median(cpu_times)};
}

// Speed-up of `threads` over 1 thread: pairs of calls, 1 thread then `threads`, each after
// between(); the median of the pairs' time ratios.
template <class Fn, class Between>
double paired_speedup(Fn&& fn, Between&& between, int threads, int pairs) {
  std::vector<double> ratios;
  for (int p = 0; p < pairs; ++p) {
    double t[2];
    for (int i = 0; i < 2; ++i) {
      ck::set_num_threads(i == 0 ? 1 : threads);
      between();
      const auto start = Clock::now();
      fn();
      t[i] = seconds_since(start);
    }
    ratios.push_back(t[0] / t[1]);
  }
  ck::set_num_threads(threads);
  return median(ratios);
}

// [SECTION] the machine ------------------------------------------------------------------------

// The best of a few passes: a limit is what the machine can do, not what it usually does.
Machine measure_machine(const Floats& buffer, bool quick, int all_threads) {
  Machine m;
  m.arch = std::string(ck::available_archs().front());
  ck::set_arch(m.arch);
  m.read_buffer_mib = double(buffer.size() * sizeof(float)) / (1 << 20);
  m.decode_prefetch = ck::decode_prefetch();
  m.decode_prefetch_reason = std::string(ck::decode_prefetch_reason());
  volatile float sink = ck::probe_stream_read(buffer);  // warm-up: pages mapped, clocks up
  // The read probe on every SIMD arch: the widest loads are not always the fastest stream
  // (AMD Zen 4 read 22 GB/s with 512-bit loads and 26 with 256-bit ones). Scalar loads only
  // where there is nothing else.
  const auto archs = ck::available_archs();
  for (std::string_view arch : archs) {
    if (arch == "scalar" && archs.size() > 1) continue;
    ck::set_arch(arch);
    double best_read = 1e30;
    for (int pass = 0; pass < (quick ? 3 : 6); ++pass) {
      const auto start = Clock::now();
      sink = sink + ck::probe_stream_read(buffer);
      best_read = std::min(best_read, seconds_since(start));
    }
    const double gbps = double(buffer.size() * sizeof(float)) / best_read / 1e9;
    if (gbps > m.read_gbps) m.read_gbps = gbps, m.read_arch = std::string(arch);
  }
  ck::set_arch(m.arch);

  const long long iterations = quick ? 2'000'000 : 10'000'000;
  double best_fma = 0;
  for (int pass = 0; pass < (quick ? 3 : 6); ++pass) {
    const auto start = Clock::now();
    const ck::FmaProbe probe = ck::probe_fma(iterations);
    const double s = seconds_since(start);
    sink = sink + probe.sink;
    best_fma = std::max(best_fma, probe.flops / s / 1e9);
  }
  m.fma_gflops = best_fma;

#if !defined(__EMSCRIPTEN__)  // no threads in the wasm build
  if (all_threads > 1) {
    m.all_threads = all_threads;
    for (int pass = 0; pass < (quick ? 2 : 4); ++pass) {
      std::vector<ck::FmaProbe> probes(all_threads);
      std::vector<std::thread> threads;
      const auto start = Clock::now();
      for (int t = 0; t < all_threads; ++t)
        threads.emplace_back([&probes, t, iterations] { probes[t] = ck::probe_fma(iterations); });
      for (std::thread& t : threads) t.join();
      const double s = seconds_since(start);
      double flops = 0;
      for (const ck::FmaProbe& p : probes) {
        flops += p.flops;
        sink = sink + p.sink;
      }
      m.fma_gflops_all = std::max(m.fma_gflops_all, flops / s / 1e9);
    }
  }
#else
  (void)all_threads;
#endif
  return m;
}

// [SECTION] the cases --------------------------------------------------------------------------

struct Spec {
  Case shape;               // kind, label and shape fields filled
  bool with_scalar = false;  // also time the scalar reference (slow: a few cases for scale)
};

// The cases: decode with 1 and 16 queries (one decode token per request), 8 query
// heads, 8 and 2 KV heads, head_dim 64 and 128, contexts 512/2048/4096; a 512-token prefill
// chunk over 512 and 4096 context; the projection GEMMs of the default model (d_model 64,
// a step of 64 tokens) and of a larger one (d_model 1024, 8 heads of 128, 2 KV heads, MLP
// 4096, a 512-token chunk).
std::vector<Spec> make_specs(bool quick) {
  std::vector<Spec> specs;
  for (int D : quick ? std::vector<int>{128} : std::vector<int>{64, 128})
    for (int Hkv : {8, 2})
      for (int C : quick ? std::vector<int>{512, 2048} : std::vector<int>{512, 2048, 4096})
        for (int q : {1, 16}) {
          Spec s{.shape = {.kind = "decode", .queries = q, .num_heads = 8, .num_kv_heads = Hkv,
                           .head_dim = D, .context = C}};
          s.with_scalar = q == 1 && C == 2048 && Hkv == 2;
          specs.push_back(s);
        }
  for (int D : {64, 128})
    for (int C : quick ? std::vector<int>{512} : std::vector<int>{512, 4096}) {
      Spec s{.shape = {.kind = "prefill", .queries = 512, .num_heads = 8, .num_kv_heads = 8,
                       .head_dim = D, .context = C}};
      s.with_scalar = D == 64 && C == 512;
      specs.push_back(s);
    }
  struct G { const char* label; int M, K, N; bool scalar; };
  const std::vector<G> gemms = {
      {"default QKV", 64, 64, 192, true},          {"default MLP up", 64, 64, 256, false},
      {"larger QKV", 512, 1024, 1536, true},       {"larger O", 512, 1024, 1024, false},
      {"larger MLP up", 512, 1024, 4096, false},   {"larger MLP down", 512, 4096, 1024, false},
      {"larger LM head", 512, 1024, 256, false}};
  for (const G& g : gemms) {
    if (quick && std::string(g.label) != "default QKV" && std::string(g.label) != "larger QKV") continue;
    specs.push_back({.shape = {.kind = "gemm", .label = g.label}, .with_scalar = g.scalar});
    specs.back().shape.M = g.M, specs.back().shape.K = g.K, specs.back().shape.N = g.N;
  }
  return specs;
}

struct Config {
  std::string arch;
  int threads;
};

// Every SIMD arch on 1 thread; the best arch on each larger thread count; the scalar reference
// (1 thread) on the specs marked for it.
std::vector<Config> configs_for(const Spec& spec, const std::vector<std::string>& archs,
                                const std::vector<int>& threads) {
  std::vector<Config> configs;
  for (const std::string& a : archs)
    if (a != "scalar") configs.push_back({a, 1});
  const auto best = std::ranges::find_if(archs, [](const std::string& a) { return a != "scalar"; });
  for (int t : threads)
    if (t > 1 && best != archs.end()) configs.push_back({*best, t});
  if (spec.with_scalar && std::ranges::find(archs, "scalar") != archs.end())
    configs.push_back({"scalar", 1});
  return configs;
}

// [SECTION] running a case ---------------------------------------------------------------------

// A paged batch for attention cases: `queries` requests (decode) or one request with a
// `queries`-token chunk (prefill), each with `context` keys in a pool of 16-slot blocks
// handed out in shuffled order, as a pool looks after a while.
struct AttentionSetup {
  static constexpr int block_size = 16;
  Floats q, out, k_cache, v_cache;
  std::vector<int32_t> cu_seqlens_q{0}, context_lens, block_tables;
  int max_blocks = 0, num_blocks = 0;
  ck::AttentionShape shape;

  explicit AttentionSetup(const Case& c) {
    const bool decode = c.kind == "decode";
    const int R = decode ? c.queries : 1, q_len = decode ? 1 : c.queries;
    shape = {c.num_heads, c.num_kv_heads, c.head_dim, 1.f / std::sqrt(float(c.head_dim))};
    max_blocks = (c.context + block_size - 1) / block_size;
    num_blocks = R * max_blocks;
    block_tables.resize(num_blocks);
    std::iota(block_tables.begin(), block_tables.end(), 0);
    std::shuffle(block_tables.begin(), block_tables.end(), std::mt19937(42));
    for (int r = 0; r < R; ++r) {
      cu_seqlens_q.push_back(cu_seqlens_q.back() + q_len);
      context_lens.push_back(c.context);
    }
    const std::size_t pool = std::size_t(num_blocks) * block_size * c.num_kv_heads * c.head_dim;
    k_cache.resize(pool);
    v_cache.resize(pool);
    fill(k_cache, 1);
    fill(v_cache, 2);
    q.resize(std::size_t(R) * q_len * c.num_heads * c.head_dim);
    fill(q, 3);
    out.resize(q.size());
  }
  // K and V floats of one block: its slots of every KV head.
  std::size_t block_floats() const { return std::size_t(block_size) * shape.num_kv_heads * shape.head_dim; }
  float read_blocks(bool prefetch_next) const {
    return ck::probe_paged_read(k_cache, v_cache, block_tables, block_floats(), prefetch_next);
  }
  void run() {
    ck::attention_varlen_paged(q, {k_cache, v_cache, num_blocks, block_size},
                               {cu_seqlens_q, context_lens, block_tables, max_blocks}, out, shape);
  }
};

// Fills the work figures of a case: bytes that must be read, flops.
void count_work(Case& c) {
  if (c.kind == "decode") {
    // Every request reads its whole K and V once; each of H heads does 2D flops for q.k and
    // 2D for p*v per key.
    c.bytes = 2.0 * c.queries * c.context * c.num_kv_heads * c.head_dim * sizeof(float);
    c.flops = 4.0 * c.queries * c.num_heads * double(c.context) * c.head_dim;
  } else if (c.kind == "prefill") {
    // Token i of the chunk sees the cached prefix and tokens 0..i: only those pairs count.
    const double prefix = c.context - c.queries;
    const double pairs = c.queries * prefix + double(c.queries) * (c.queries + 1) / 2;
    c.bytes = 2.0 * c.context * c.num_kv_heads * c.head_dim * sizeof(float);
    c.flops = 4.0 * c.num_heads * c.head_dim * pairs;
  } else {
    c.bytes = (double(c.M) * c.K + double(c.K) * c.N) * sizeof(float);
    c.flops = 2.0 * c.M * double(c.K) * c.N;
  }
}

std::string describe(const Case& c) {
  if (c.kind == "gemm") return std::format("{} M={} K={} N={}", c.label, c.M, c.K, c.N);
  return std::format("q={} H={} Hkv={} D={} C={}", c.queries, c.num_heads, c.num_kv_heads,
                     c.head_dim, c.context);
}

}  // namespace

// [SECTION] run(), table, JSON -----------------------------------------------------------------

Report run(const Options& options) {
  for (const std::string& k : options.kinds)
    if (std::ranges::find(kKinds, k) == std::end(kKinds))
      throw std::invalid_argument("bench: kind '" + k + "' is not one of decode, prefill, gemm");
  // The arch and thread count are the process's settings: put back as they were when run()
  // returns, or throws (an unknown arch or a bad thread count below).
  struct Restore {
    std::string arch{ck::arch()};
    int threads = ck::num_threads();
    ~Restore() {
      ck::set_arch(arch);
      ck::set_num_threads(threads);
    }
  } restore;
  std::vector<std::string> archs;
  for (auto a : ck::available_archs()) archs.emplace_back(a);
  if (!options.archs.empty()) {
    for (const std::string& a : options.archs) ck::set_arch(a);  // throws for an unknown arch
    std::erase_if(archs, [&](const std::string& a) { return std::ranges::find(options.archs, a) == options.archs.end(); });
  }
  // Throws for a bad count; drops counts the build cannot run (the wasm build has one thread).
  std::vector<int> threads;
  for (int t : options.threads) {
    ck::set_num_threads(t);
    if (ck::num_threads() == t && std::ranges::find(threads, t) == threads.end()) threads.push_back(t);
  }
  ck::set_num_threads(1);

  Report report;
  // 256 MiB (128 with --quick): several times the 35.8 MiB L3 of the machine this was tuned on.
  Floats buffer(std::size_t(options.quick ? 32 : 64) << 20);
  fill(buffer, 7);
  report.machine = measure_machine(buffer, options.quick, threads.empty() ? 1 : std::ranges::max(threads));
  const std::span<const float> flush(buffer.data(), std::min<std::size_t>(buffer.size(), 16 << 20));

  auto specs = make_specs(options.quick);
  if (!options.kinds.empty())
    std::erase_if(specs, [&](const Spec& s) { return std::ranges::find(options.kinds, s.shape.kind) == options.kinds.end(); });
  int total = 0, index = 0;
  for (const Spec& s : specs) total += int(configs_for(s, archs, threads).size());
  const Repeat attention_repeat = options.quick ? Repeat{1, 0.02} : Repeat{5, 0.1};
  const Repeat compute_repeat = options.quick ? Repeat{1, 0.02} : Repeat{3, 0.2};

  for (const Spec& spec : specs) {
    std::unique_ptr<AttentionSetup> attention;
    Floats x, w, y;
    if (spec.shape.kind == "gemm") {
      x.resize(std::size_t(spec.shape.M) * spec.shape.K);
      w.resize(std::size_t(spec.shape.K) * spec.shape.N);
      y.resize(std::size_t(spec.shape.M) * spec.shape.N);
      fill(x, 4);
      fill(w, 5);
    } else {
      attention = std::make_unique<AttentionSetup>(spec.shape);
    }
    // Decode's own limit: the same blocks read with plain loads, after the same flush, with the
    // loads that streamed fastest, on one thread.
    double paged_read_gbps = 0;
    if (spec.shape.kind == "decode") {
      ck::set_arch(report.machine.read_arch);
      ck::set_num_threads(1);
      const double bytes = 2.0 * double(attention->block_tables.size() * attention->block_floats() * sizeof(float));
      for (const bool prefetch_next : {false, true}) {
        const Timing t = median_seconds([&] { volatile float s = attention->read_blocks(prefetch_next); (void)s; },
                                        [&] { volatile float s = ck::probe_stream_read(flush); (void)s; }, attention_repeat);
        paged_read_gbps = std::max(paged_read_gbps, bytes / t.wall / 1e9);
      }
    }
    for (const Config& config : configs_for(spec, archs, threads)) {
      Case c = spec.shape;
      c.arch = config.arch;
      c.threads = config.threads;
      count_work(c);
      if (options.progress)
        options.progress(++index, total, std::format("{} {} {}t {}", c.kind, c.arch, c.threads, describe(c)));
      ck::set_arch(c.arch);
      ck::set_num_threads(c.threads);
      const bool scalar = c.arch == "scalar";
      const Repeat repeat = scalar ? Repeat{1, 0} : c.kind == "decode" ? attention_repeat : compute_repeat;
      const auto call = [&] {
        if (c.kind == "gemm") ck::matmul(x, w, y, c.M, c.K, c.N);
        else attention->run();
      };
      // Decode reads K/V that the previous step did not leave in the caches.
      const auto between = [&] {
        if (c.kind == "decode") { volatile float s = ck::probe_stream_read(flush); (void)s; }
      };
      const Timing t = median_seconds(call, between, repeat);
      if (c.threads > 1) c.speedup = paired_speedup(call, between, c.threads, options.quick ? 3 : 7);
      c.seconds = t.wall;
      c.cpu_seconds = t.cpu;
      c.gbps = c.bytes / c.seconds / 1e9;
      c.gflops = c.flops / c.seconds / 1e9;
      if (c.kind == "decode") {
        c.paged_read_gbps = paged_read_gbps;
        c.ratio_paged = c.gbps / paged_read_gbps;
      }
      report.cases.push_back(c);
    }
  }
  // The limits are probed again after the cases and the best of the two kept: the machine can
  // be slower for minutes at a time, and a probe that fell into such a stretch would flatter
  // every ratio.
  const Machine after = measure_machine(buffer, options.quick, report.machine.all_threads);
  if (after.read_gbps > report.machine.read_gbps)
    report.machine.read_gbps = after.read_gbps, report.machine.read_arch = after.read_arch;
  report.machine.fma_gflops = std::max(report.machine.fma_gflops, after.fma_gflops);
  report.machine.fma_gflops_all = std::max(report.machine.fma_gflops_all, after.fma_gflops_all);
  for (Case& c : report.cases)
    c.ratio = c.kind == "decode" ? c.gbps / report.machine.read_gbps : c.gflops / report.machine.fma_gflops;
  return report;
}

std::string format_table(const Report& report) {
  const Machine& m = report.machine;
  std::string s = std::format(
      "machine ({}, 1 thread): read {:.1f} GB/s over {:.0f} MiB ({} loads), FMA peak {:.1f} GFLOP/s\n"
      "ratio: decode to read bandwidth, prefill and gemm to FMA peak\n"
      "paged: how fast plain loads read a decode case's K/V blocks in block-table order (GB/s), and the case over it\n"
      "next-slice prefetch in decode: {} ({})\n",
      m.arch, m.read_gbps, m.read_buffer_mib, m.read_arch, m.fma_gflops, m.decode_prefetch ? "on" : "off",
      m.decode_prefetch_reason);
  if (m.all_threads > 1)
    s += std::format(
        "vs 1 thr: the median of pairs of calls timed back to back on 1 thread and on thr threads\n"
        "FMA peak on {} threads at once: {:.1f} GFLOP/s ({:.2f}x one thread)\n",
        m.all_threads, m.fma_gflops_all, m.fma_gflops_all / m.fma_gflops);
  s += "\n";
  // "vs 1 thr" only when some case ran on more than one thread (never in the wasm build).
  const bool paired = std::ranges::any_of(report.cases, [](const Case& c) { return c.threads > 1; });
  s += std::format("{:<8} {:<10} {:>3}  {:<42} {:>10} {:>10} {:>8} {:>9} {:>6} {:>6} {:>6}{}\n", "kind", "arch",
                   "thr", "shape", "ms", "cpu ms", "GB/s", "GFLOP/s", "ratio", "paged", "ratio",
                   paired ? " vs 1 thr" : "");
  for (const Case& c : report.cases) {
    // The wasm build has no process CPU clock (it reads 0): "-" rather than a false 0.000.
    const std::string cpu_ms = c.cpu_seconds > 0 ? std::format("{:.3f}", c.cpu_seconds * 1e3) : "-";
    const std::string speedup =
        !paired ? "" : std::format(" {:>8}", c.threads > 1 ? std::format("{:.2f}x", c.speedup) : "");
    const bool paged = c.paged_read_gbps > 0;
    s += std::format("{:<8} {:<10} {:>3}  {:<42} {:>10.3f} {:>10} {:>8.1f} {:>9.1f} {:>6.2f} {:>6} {:>6}{}\n",
                     c.kind, c.arch, c.threads, describe(c), c.seconds * 1e3, cpu_ms, c.gbps,
                     c.gflops, c.ratio, paged ? std::format("{:.1f}", c.paged_read_gbps) : "-",
                     paged ? std::format("{:.2f}", c.ratio_paged) : "-", speedup);
  }
  return s;
}

std::string to_json(const Report& report) {
  nlohmann::json j;
  j["machine"] = {{"read_gbps", report.machine.read_gbps},
                  {"fma_gflops", report.machine.fma_gflops},
                  {"arch", report.machine.arch},
                  {"read_buffer_mib", report.machine.read_buffer_mib},
                  {"read_arch", report.machine.read_arch},
                  {"decode_prefetch", report.machine.decode_prefetch}};
  if (report.machine.all_threads > 1) {
    j["machine"]["all_threads"] = report.machine.all_threads;
    j["machine"]["fma_gflops_all"] = report.machine.fma_gflops_all;
  }
  j["cases"] = nlohmann::json::array();
  for (const Case& c : report.cases) {
    nlohmann::json e = {{"kind", c.kind},       {"arch", c.arch},         {"threads", c.threads},
                        {"head_dim", c.head_dim}, {"context", c.context}, {"gbps", c.gbps},
                        {"gflops", c.gflops},   {"ratio", c.ratio},       {"seconds", c.seconds},
                        {"cpu_seconds", c.cpu_seconds}};
    if (c.threads > 1) e["speedup"] = c.speedup;
    if (c.kind == "decode") {
      e["paged_read_gbps"] = c.paged_read_gbps;
      e["ratio_paged"] = c.ratio_paged;
    }
    if (c.kind == "gemm") {
      e["label"] = c.label;
      e["M"] = c.M, e["K"] = c.K, e["N"] = c.N;
    } else {
      e["queries"] = c.queries;
      e["num_heads"] = c.num_heads;
      e["num_kv_heads"] = c.num_kv_heads;
    }
    j["cases"].push_back(e);
  }
  return j.dump(2);
}

}  // namespace cblab::bench

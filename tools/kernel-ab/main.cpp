// main.cpp — interleaved A/B timing of kernel variants (tools/kernel-ab.sh builds and runs it).
//
// On a machine whose speed changes by 2x for minutes at a time, two benchmark runs cannot tell
// a 5 % change from the weather. Here every round calls each variant once, in turn, on its own
// cache-line-aligned buffers, timed by the thread's CPU clock; a variant's speed relative to
// variant 0 is the median over rounds of the per-round time ratio, so both sides of each
// ratio ran seconds apart. Decode calls are preceded by a 64 MiB read that pushes K/V out of
// the caches, as the previous step would have. Pass the same variant twice to see the noise
// (a null A/B): its ratio should read 1.00 within its quartiles.
//
// Usage: kernel-ab NVARIANTS ROUNDS prefill D C | decode Q HKV D C | gemm M K N
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>
#include "../../modules/kernels/cpu.hpp"

using AttentionFn = void (*)(const float*, float*, const float*, const float*, const int*, int, int,
                             int, int, int, int, int);
using GemmFn = void (*)(const float*, const float*, float*, int, int, int);
#define AB_DECLARE(n)                                                                            \
  extern "C" void v##n##_attention(const float*, float*, const float*, const float*, const int*, \
                                   int, int, int, int, int, int, int);                           \
  extern "C" void v##n##_gemm(const float*, const float*, float*, int, int, int);
AB_DECLARE(0) AB_DECLARE(1) AB_DECLARE(2) AB_DECLARE(3)
constexpr int MAX_VARIANTS = 4;
const AttentionFn attention[MAX_VARIANTS] = {v0_attention, v1_attention, v2_attention, v3_attention};
const GemmFn gemm[MAX_VARIANTS] = {v0_gemm, v1_gemm, v2_gemm, v3_gemm};

namespace {

double thread_seconds() {
  timespec ts{};
#if defined(__EMSCRIPTEN__)
  clock_gettime(CLOCK_MONOTONIC, &ts);  // Node has no per-thread clock; the program has one thread
#else
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
#endif
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// n floats on a cache line, filled with small values from a fixed-seed generator.
struct Buffer {
  float* data;
  explicit Buffer(std::size_t n) {
    data = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
    std::uint32_t x = 12345;
    for (std::size_t i = 0; i < n; ++i) {
      x = x * 1664525u + 1013904223u;
      data[i] = float(std::int32_t(x) >> 8) * (1.f / 8388608.f);
    }
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

int arg(char** argv, int i) { return std::atoi(argv[i]); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::size_t(p * double(v.size() - 1) + 0.5)];
}

}  // namespace

// Whether big-slot decode asks for the next slice, as the engine chooses it on this CPU
// (kernels::decode_prefetch(): off on AMD and Hygon, on elsewhere); KAB_DECODE_PREFETCH=0 or 1
// forces it. Each variant reads it (a variant from before the choice existed always asks).
extern "C" bool kab_decode_prefetch() {
  if (const char* env = std::getenv("KAB_DECODE_PREFETCH"); env && *env) return env[0] != '0';
#if defined(__EMSCRIPTEN__)
  return false;  // the wasm kernels never ask for slices
#else
  return cblab::kernels::cpu::asks_next_slice(cblab::kernels::cpu::vendor());
#endif
}

int main(int argc, char** argv) {
  const std::string kind = argc > 3 ? argv[3] : "";
  const int want = kind == "decode" ? 8 : kind == "gemm" ? 7 : kind == "prefill" ? 6 : 0;
  if (want == 0 || argc != want) {
    std::fprintf(stderr, "usage: kernel-ab NVARIANTS ROUNDS prefill D C | decode Q HKV D C | gemm M K N\n");
    return 2;
  }
  const int variants = arg(argv, 1), rounds = arg(argv, 2);
  if (variants < 2 || variants > MAX_VARIANTS || rounds < 1) {
    std::fprintf(stderr, "kernel-ab: NVARIANTS must be 2..%d and ROUNDS at least 1\n", MAX_VARIANTS);
    return 2;
  }

  // Per variant: its own buffers (so no variant reads what another left in the caches), and
  // one call before timing (page faults, lazy binding).
  std::vector<std::vector<double>> seconds(variants);
  std::vector<std::function<void()>> calls;
  std::vector<std::unique_ptr<Buffer>> keep;
  const auto buffer = [&](std::size_t n) { return keep.emplace_back(std::make_unique<Buffer>(n))->data; };
  double work = 0;
  const char* unit = "GFLOP/s";
  bool flush_first = false;
  std::vector<int> block_table;

  if (kind == "gemm") {
    const int M = arg(argv, 4), K = arg(argv, 5), N = arg(argv, 6);
    for (int v = 0; v < variants; ++v) {
      float *x = buffer(std::size_t(M) * K), *w = buffer(std::size_t(K) * N), *y = buffer(std::size_t(M) * N);
      calls.push_back([=] { gemm[v](x, w, y, M, K, N); });
    }
    work = 2.0 * M * K * N;
    std::printf("gemm M %d K %d N %d", M, K, N);
  } else {
    const bool decode = kind == "decode";
    const int H = 8, B = 16;
    const int requests = decode ? arg(argv, 4) : 1, Hkv = decode ? arg(argv, 5) : 8;
    const int D = arg(argv, decode ? 6 : 4), C = arg(argv, decode ? 7 : 5), qlen = decode ? 1 : 512;
    if (Hkv < 1 || H % Hkv != 0 || D < 1 || C < qlen || requests < 1) {
      std::fprintf(stderr, "kernel-ab: need HKV dividing 8, D >= 1, Q >= 1 and C >= %d\n", qlen);
      return 2;
    }
    // Every request's blocks, shuffled over the pool as an engine's allocator leaves them.
    const int blocks = requests * ((C + B - 1) / B);
    block_table.resize(blocks);
    std::iota(block_table.begin(), block_table.end(), 0);
    std::shuffle(block_table.begin(), block_table.end(), std::mt19937(42));
    const std::size_t pool = std::size_t(blocks) * B * Hkv * D, rows = std::size_t(requests) * qlen * H * D;
    for (int v = 0; v < variants; ++v) {
      float *k = buffer(pool), *vv = buffer(pool), *q = buffer(rows), *out = buffer(rows);
      const int* table = block_table.data();
      calls.push_back([=] { attention[v](q, out, k, vv, table, H, Hkv, D, C, requests, qlen, B); });
    }
    if (decode) {
      work = 2.0 * requests * C * Hkv * D * sizeof(float);  // K and V bytes read
      unit = "GB/s";
      flush_first = true;
      std::printf("decode Q %d H %d HKV %d D %d C %d, next-slice prefetch %s", requests, H, Hkv, D, C,
                  kab_decode_prefetch() ? "on" : "off");
    } else {
      const double pairs = double(qlen) * (C - qlen) + double(qlen) * (qlen + 1) / 2;
      work = 4.0 * H * D * pairs;
      std::printf("prefill %d tokens over C %d, H %d HKV %d D %d", qlen, C, H, Hkv, D);
    }
  }
#if defined(__EMSCRIPTEN__)
  std::printf(", %d variants x %d rounds (wall time under Node)\n", variants, rounds);
#else
  std::printf(", %d variants x %d rounds (thread CPU time)\n", variants, rounds);
#endif

  const std::size_t flush_floats = std::size_t(16) << 20;  // 64 MiB
  float* flush = buffer(flush_floats);
  volatile float sink = 0;
  for (auto& call : calls) call();
  for (int round = 0; round < rounds; ++round)
    for (int v = 0; v < variants; ++v) {
      if (flush_first) {
        float s = 0;
        for (std::size_t i = 0; i < flush_floats; i += 16) s += flush[i];
        sink = sink + s;
      }
      const double start = thread_seconds();
      calls[v]();
      seconds[v].push_back(thread_seconds() - start);
    }

  for (int v = 0; v < variants; ++v) {
    const double best = *std::min_element(seconds[v].begin(), seconds[v].end());
    std::printf("v%d  best %8.1f  median %8.1f %s", v, work / best / 1e9,
                work / percentile(seconds[v], 0.5) / 1e9, unit);
    if (v > 0) {
      std::vector<double> ratio;  // > 1: faster than v0
      for (int r = 0; r < rounds; ++r) ratio.push_back(seconds[0][r] / seconds[v][r]);
      std::printf("   speed vs v0: median %.3f (quartiles %.3f .. %.3f)", percentile(ratio, 0.5),
                  percentile(ratio, 0.25), percentile(ratio, 0.75));
    }
    std::printf("\n");
  }
  return 0;
}

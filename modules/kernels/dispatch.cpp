// dispatch.cpp — picks the active KernelTable (see dispatch.cppm).
module;
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <xsimd/xsimd.hpp>
#include "arch/kernel_table.hpp"
#include "cpu.hpp"
module cblab.kernels;

namespace cblab::kernels::detail {
namespace {

float scalar_dot(const float* a, const float* b, std::size_t n) {
  return dot_reference({a, n}, {b, n});
}

// "scalar" is not an xsimd arch: it is the reference loops, reached through the same table.
constexpr KernelTable scalar_table{.name = "scalar", .dot = &scalar_dot};

// Tables this machine can run, best first.
std::vector<const KernelTable*> runnable_tables() {
  std::vector<const KernelTable*> tables;
#if defined(__EMSCRIPTEN__)
  if (&wasm_relaxed_table != nullptr) tables.push_back(&wasm_relaxed_table);
  tables.push_back(&wasm_table);
#else
  const auto cpu = xsimd::available_architectures();
  if (cpu.avx512f && cpu.avx512dq) tables.push_back(&avx512_table);
  if (cpu.fma3_avx2) tables.push_back(&avx2_table);
  if (cpu.sse2) tables.push_back(&sse2_table);
#endif
  tables.push_back(&scalar_table);
  return tables;
}

const KernelTable* find_table(std::string_view name) {
  for (const KernelTable* t : runnable_tables())
    if (name == t->name) return t;
  return nullptr;
}

std::string choices() {
  std::string s;
  for (const KernelTable* t : runnable_tables()) s += (s.empty() ? "" : ", ") + std::string(t->name);
  return s;
}

const KernelTable* initial_table() {
  if (const char* env = std::getenv("CBLAB_ARCH"); env && *env) {
    if (const KernelTable* t = find_table(env)) return t;
    std::fprintf(stderr, "cblab: CBLAB_ARCH='%s' is not runnable here (choices: %s); using %s\n",
                 env, choices().c_str(), runnable_tables().front()->name);
  }
  return runnable_tables().front();
}

std::atomic<const KernelTable*> g_active{nullptr};

struct DecodePrefetch {
  bool on;
  std::string reason;
};

DecodePrefetch initial_decode_prefetch() {
#if defined(__EMSCRIPTEN__)
  return {false, "wasm: a line is asked for with a load, which costs more than it saves in slices"};
#else
  const std::string vendor = cpu::vendor();
  if (!cpu::asks_next_slice(vendor)) return {false, vendor + ": its hardware prefetcher follows the slice walk"};
  return {true, vendor.empty() ? std::string("default") : vendor};
#endif
}

DecodePrefetch& decode_prefetch_state() {
  static DecodePrefetch state = initial_decode_prefetch();
  return state;
}

}  // namespace

const KernelTable& active() {
  const KernelTable* t = g_active.load(std::memory_order_acquire);
  if (!t) {
    t = initial_table();
    g_active.store(t, std::memory_order_release);
  }
  return *t;
}

}  // namespace cblab::kernels::detail

namespace cblab::kernels {

std::string_view arch() { return detail::active().name; }

std::vector<std::string_view> available_archs() {
  std::vector<std::string_view> names;
  for (const detail::KernelTable* t : detail::runnable_tables()) names.push_back(t->name);
  return names;
}

bool decode_prefetch() { return detail::decode_prefetch_state().on; }

void set_decode_prefetch(bool on) { detail::decode_prefetch_state() = {on, "set_decode_prefetch"}; }

std::string_view decode_prefetch_reason() { return detail::decode_prefetch_state().reason; }

void set_arch(std::string_view name) {
  const detail::KernelTable* t = detail::find_table(name);
  if (!t)
    throw std::invalid_argument("set_arch: arch '" + std::string(name) +
                                "' is not runnable on this machine; choices: " + detail::choices());
  detail::g_active.store(t, std::memory_order_release);
}

}  // namespace cblab::kernels

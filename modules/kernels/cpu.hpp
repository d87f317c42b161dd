// cpu.hpp — what the kernels choose from the CPU itself rather than from its SIMD features.
// A plain header: the dispatcher (dispatch.cpp) and tools/kernel-ab/main.cpp share the rule.
#pragma once
#include <string>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace cblab::kernels::cpu {

// The vendor string from cpuid leaf 0 ("GenuineIntel", "AuthenticAMD", ...); empty where
// there is none (wasm, other ISAs).
inline std::string vendor() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    char v[13] = {};
    for (int i = 0; i < 4; ++i) v[i] = char(b >> (8 * i)), v[4 + i] = char(d >> (8 * i)), v[8 + i] = char(c >> (8 * i));
    return v;
  }
#endif
  return {};
}

// Whether decode over big slots should ask for the next slice on this vendor's CPUs: not on
// AMD's (and Hygon's, the same cores), whose hardware prefetcher follows the slice walk and
// which ran 1.20-1.22x faster without (Zen 4); yes elsewhere (Intel Cascade Lake gained).
inline bool asks_next_slice(const std::string& vendor) {
  return vendor != "AuthenticAMD" && vendor != "HygonGenuine";
}

}  // namespace cblab::kernels::cpu

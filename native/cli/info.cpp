// cblab info — the version, the SIMD arch the kernels use, and whether decode prefetches.
#include <cstdio>
#include <string>
#include "commands.hpp"
import cblab;

void cli::register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the version and the SIMD arch the kernels use");
  cmd->callback([] {
    std::printf("cblab %s\n", std::string(cblab::version).c_str());
    std::printf("arch  %s (runnable:", std::string(cblab::kernels::arch()).c_str());
    for (auto a : cblab::kernels::available_archs()) std::printf(" %s", std::string(a).c_str());
    std::printf(")\n");
    std::printf("decode prefetch  %s (%s)\n", cblab::kernels::decode_prefetch() ? "on" : "off",
                std::string(cblab::kernels::decode_prefetch_reason()).c_str());
  });
}

// cblab — the command-line face of the engine.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
import cblab;

int main(int argc, char** argv) {
  CLI::App app{"cb-lab: a transparent continuous-batching LLM inference engine"};
  app.require_subcommand(1);

  auto* info = app.add_subcommand("info", "Print the version and the SIMD arch the kernels use");
  info->callback([] {
    std::printf("cblab %s\n", std::string(cblab::version).c_str());
    std::printf("arch  %s (runnable:", std::string(cblab::kernels::arch()).c_str());
    for (auto a : cblab::kernels::available_archs()) std::printf(" %s", std::string(a).c_str());
    std::printf(")\n");
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // 2: bad usage
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cblab: %s\n", e.what());
    return 1;
  }
  return 0;
}

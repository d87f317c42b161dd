// cblab bench — times the kernels on every arch and thread count, against the machine's own
// limits measured in the same run (see modules/bench). Prints a table; --json writes it too.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>
#include "commands.hpp"
import cblab.bench;
import cblab.kernels;

void cli::register_bench(CLI::App& app) {
  struct Args {
    bool quick = false;
    std::string json_path;
    std::vector<std::string> archs;
    std::vector<int> threads{1, 2};
    std::vector<std::string> kinds;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "bench", "Time the kernels (decode, prefill, GEMM) on each arch against this machine's "
               "read bandwidth and FMA peak");
  cmd->add_flag("--quick", args->quick, "Fewer cases and repetitions (a few seconds)");
  cmd->add_option("--json", args->json_path, "Also write the results as JSON to this file");
  cmd->add_option("--arch", args->archs, "Only these archs (repeatable; default: every runnable one)");
  cmd->add_option("--threads", args->threads, "Thread counts to time (default: 1 2)");
  cmd->add_option("--kind", args->kinds, "Only these cases: decode, prefill, gemm (repeatable; default: all)");
  cmd->callback([args] {
    const auto runnable = cblab::kernels::available_archs();
    for (const std::string& a : args->archs)
      if (std::find(runnable.begin(), runnable.end(), a) == runnable.end()) {
        std::string choices;
        for (auto r : runnable) choices += (choices.empty() ? "" : ", ") + std::string(r);
        throw cli::UsageError("--arch " + a + " is not runnable here; choices: " + choices);
      }
    for (const std::string& k : args->kinds)
      if (std::ranges::find(cblab::bench::kKinds, k) == std::end(cblab::bench::kKinds))
        throw cli::UsageError("--kind " + k + " is not a case kind; choices: decode, prefill, gemm");
    for (int t : args->threads)
      if (t < 1 || t > 256)
        throw cli::UsageError("--threads " + std::to_string(t) + " must be between 1 and 256");
    std::ofstream json_file;
    if (!args->json_path.empty()) {
      json_file.open(args->json_path);
      if (!json_file) throw cli::UsageError("--json: cannot write " + args->json_path);
    }

    cblab::bench::Options options{.quick = args->quick, .archs = args->archs, .threads = args->threads,
                                    .kinds = args->kinds};
    options.progress = [](int index, int count, const std::string& what) {
      std::fprintf(stderr, "\r\033[K[%d/%d] %s", index, count, what.c_str());
      std::fflush(stderr);
    };
    std::fprintf(stderr, "measuring the machine (read bandwidth, FMA peak)...");
    std::fflush(stderr);
    const cblab::bench::Report report = cblab::bench::run(options);
    std::fprintf(stderr, "\r\033[K");
    std::printf("%s", cblab::bench::format_table(report).c_str());
    if (json_file.is_open()) {
      json_file << cblab::bench::to_json(report) << "\n";
      std::printf("\nwrote %s\n", args->json_path.c_str());
    }
  });
}

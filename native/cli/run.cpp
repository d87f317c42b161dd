// cblab run — runs a workload file through the engine and writes the result file.
//   cblab run WORKLOAD.json [--out RESULT.json] [--log]
// --log prints the per-step log line ("[step 3] decode=2 prefill=6 ...") as the engine runs.
// Bad input (unreadable or invalid workload, a configuration or request the engine rejects)
// is a cli::UsageError carrying the engine's message: field, value, what is allowed.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include "commands.hpp"
import cblab;

void cli::register_run(CLI::App& app) {
  struct Options {
    std::string workload, out;
    bool log = false;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "Run a workload file and write the result file");
  cmd->add_option("workload", opt->workload, "Workload JSON (see docs/workload_format.md)")
      ->required();
  cmd->add_option("--out,-o", opt->out, "Result JSON to write (default: print to stdout)");
  cmd->add_flag("--log", opt->log, "Print the log line of every step");
  cmd->callback([opt] {
    std::unique_ptr<cblab::Engine> engine;
    try {
      engine = std::make_unique<cblab::Engine>(
          cblab::make_engine(cblab::load_workload(opt->workload)));
    } catch (const cblab::InputError& e) {
      throw cli::UsageError(e.field == "file" ? e.what() : opt->workload + ": " + e.what());
    }
    const int num_steps = engine->run([&](const cblab::StepRecord& s) {
      if (opt->log) std::printf("%s\n", cblab::format_step(s).c_str());
    });
    const std::string result = cblab::result_json(*engine) + "\n";
    if (opt->out.empty()) {
      std::fputs(result.c_str(), stdout);
      return;
    }
    std::ofstream file(opt->out, std::ios::binary);
    if (!file || !(file << result)) throw cli::UsageError("cannot write --out " + opt->out);
    std::fprintf(stderr, "cblab run: %zu requests in %d steps -> %s\n",
                 engine->requests().size(), num_steps, opt->out.c_str());
  });
}

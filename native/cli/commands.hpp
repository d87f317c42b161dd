// commands.hpp — every cblab subcommand registers itself on the CLI11 app here.
// A command's callback throws cli::UsageError for bad input (exit code 2) and anything
// else derived from std::exception for an internal failure (exit code 1).
#pragma once
#include <CLI/CLI.hpp>
#include <stdexcept>

namespace cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void register_info(CLI::App& app);   // info.cpp: version and SIMD arch
void register_run(CLI::App& app);    // run.cpp: run a workload file, write the result file
void register_bench(CLI::App& app);  // bench.cpp: kernel benchmark against the machine's limits
void register_demo(CLI::App& app);   // demo.cpp: the lab's demos
}  // namespace cli

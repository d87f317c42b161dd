// cblab run — runs a workload file through the engine and writes the result file.
//   cblab run WORKLOAD.json [--out RESULT.json] [--log] [--summary] [--trace TRACE.json]
// --log prints the per-step log line ("[step 3] decode=2 prefill=6 ...") as the engine runs;
// --summary prints a table of the requests and the run's metrics at the end;
// --trace writes a Chrome trace-event file (open it in Perfetto or chrome://tracing).
// Bad input (unreadable or invalid workload, a configuration or request the engine rejects)
// is a cli::UsageError carrying the engine's message: field, value, what is allowed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>
#include "commands.hpp"
#include "trace.hpp"
import cblab;

namespace {

void write_file(const std::string& path, const std::string& text, const char* option) {
  std::ofstream file(path, std::ios::binary);
  if (!file || !(file << text)) throw cli::UsageError(std::string("cannot write ") + option + " " + path);
}

// The requests as a table (one row per sample when n > 1: "r0#1" is sample 1 of r0), then the
// totals a serving engine reports.
void print_summary(const cblab::Engine& engine, const std::vector<cblab::StepRecord>& steps) {
  std::printf("%-4s %-12s %-9s %7s %7s %8s %11s %12s %8s %10s %10s\n", "#", "id", "finish",
              "prompt", "output", "arrival", "first tok@", "finished@", "preempt", "ttft ms",
              "tpot ms");
  int64_t compute_us = 0;
  int num_tokens = 0, num_output = 0, max_blocks_used = 0;
  for (const auto& s : steps) {
    compute_us += s.compute_us;
    num_tokens += s.budget_used;
    int used = 0;
    for (const auto& b : s.blocks) used += b.ref_count > 0;
    max_blocks_used = std::max(max_blocks_used, used);
  }
  const auto& requests = engine.requests();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    num_output += r.num_output_tokens();
    std::printf("%-4zu %-12s %-9s %7d %7d %8d %11d %12d %8d %10.3f %10.3f\n", i,
                r.name().c_str(), std::string(cblab::to_string(r.finish_reason)).c_str(),
                r.num_prompt_tokens(), r.num_output_tokens(), r.spec.arrival_step,
                r.first_token_step, r.finish_step, r.num_preemptions, r.ttft_ms(), r.tpot_ms());
  }
  const double seconds = compute_us / 1e6;
  std::printf("\nsteps %zu, tokens computed %d (%.1f per step), output tokens %d\n", steps.size(),
              num_tokens, steps.empty() ? 0.0 : double(num_tokens) / steps.size(), num_output);
  std::printf("forward time %.3f ms on %s: %.0f tokens/s computed, %.0f output tokens/s\n",
              compute_us / 1e3, std::string(cblab::kernels::arch()).c_str(),
              seconds > 0 ? num_tokens / seconds : 0.0, seconds > 0 ? num_output / seconds : 0.0);
  std::printf("KV blocks: at most %d of %d in use (%.0f%%)\n", max_blocks_used,
              engine.config().num_blocks, 100.0 * max_blocks_used / engine.config().num_blocks);
  // What a serving engine reports (EngineMetrics; the result file's "metrics").
  const cblab::EngineMetrics& m = engine.metrics();
  std::printf("engine time %.3f ms: %.0f output tokens/s; peak KV utilization %.0f%% "
              "(after allocation)\n",
              m.busy_us / 1e3, m.tokens_per_s(), 100.0 * m.max_kv_utilization());
  std::printf("preemptions %d (decode needs block %d, prefill needs block %d), %d computed "
              "tokens lost; aborted %d\n",
              m.num_preemptions, m.num_preemptions_decode, m.num_preemptions_prefill,
              m.num_tokens_lost, m.num_aborted);
  if (engine.config().prefix_caching)
    std::printf("prefix cache: %d of %d admitted tokens found (hit rate %.0f%%), %d evictions\n",
                m.prefix_cache_hit_tokens, m.prefix_cache_query_tokens,
                100.0 * m.prefix_cache_hit_rate(), engine.kv_cache().pool().num_evictions());
}

}  // namespace

void cli::register_run(CLI::App& app) {
  struct Options {
    std::string workload, out, trace;
    bool log = false, summary = false;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "Run a workload file and write the result file");
  cmd->add_option("workload", opt->workload, "Workload JSON (see docs/workload_format.md)")
      ->required();
  cmd->add_option("--out,-o", opt->out, "Result JSON to write (default: print to stdout)");
  cmd->add_flag("--log", opt->log, "Print the log line of every step");
  cmd->add_flag("--summary", opt->summary, "Print a table of the requests and the run's metrics");
  cmd->add_option("--trace", opt->trace, "Write a Chrome trace-event JSON file (Perfetto, chrome://tracing)");
  cmd->callback([opt] {
    std::unique_ptr<cblab::Engine> engine;
    try {
      engine = std::make_unique<cblab::Engine>(
          cblab::make_engine(cblab::load_workload(opt->workload)));
    } catch (const cblab::InputError& e) {
      throw cli::UsageError(e.field == "file" ? e.what() : opt->workload + ": " + e.what());
    }
    const bool keep_steps = opt->summary || !opt->trace.empty();
    std::vector<cblab::StepRecord> steps;
    const int num_steps = engine->run([&](const cblab::StepRecord& s) {
      if (opt->log) std::printf("%s\n", cblab::format_step(s, engine->requests()).c_str());
      if (keep_steps) steps.push_back(s);
    });
    const std::string result = cblab::result_json(*engine) + "\n";
    if (opt->out.empty()) {
      std::fputs(result.c_str(), stdout);
    } else {
      write_file(opt->out, result, "--out");
      std::fprintf(stderr, "cblab run: %zu requests in %d steps -> %s\n",
                   engine->requests().size(), num_steps, opt->out.c_str());
    }
    if (!opt->trace.empty()) {
      write_file(opt->trace, cli::chrome_trace(steps, engine->requests()), "--trace");
      std::fprintf(stderr, "cblab run: trace -> %s\n", opt->trace.c_str());
    }
    if (opt->summary) print_summary(*engine, steps);
  });
}

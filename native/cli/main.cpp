// cblab — the command-line face of the engine. Exit codes: 0 success, 2 bad usage or bad
// input (with the message), 1 internal failure.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cb-lab: a transparent continuous-batching LLM inference engine"};
  app.require_subcommand(1);
  cli::register_info(app);
  cli::register_run(app);
  cli::register_bench(app);
  cli::register_demo(app);

  // CLI11 reads an unknown first word as a missing subcommand; name the word and the choices.
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known |= sub->get_name() == argv[1];
    }
    if (!known) {
      std::fprintf(stderr, "cblab: unknown command '%s'; commands: %s\n", argv[1], names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "cblab: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cblab: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}

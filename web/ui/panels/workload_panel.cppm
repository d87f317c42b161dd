// cblab.ui:workload_panel — one-click scenarios, randomize with a seed, add a request live, remove one (restarts), import / export the workload JSON.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:workload_panel;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct WorkloadPanel {
  void draw(const Session& session, View& view);

  char prompt[256] = "The quick brown fox";
  int max_new_tokens = 16;
  int arrival_step = 0;
  int random_seed = 1;
  int random_count = 16;
  char paste[4096] = "";
};

}  // namespace cblab::ui

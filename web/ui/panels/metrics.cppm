// cblab.ui:metrics — plots over steps: tokens per step, KV utilisation, running and waiting counts, throughput.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:metrics;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct MetricsPanel {
  void draw(const Session& session, View& view);

};

}  // namespace cblab::ui

// cblab.ui:log — the per-step line the CLI prints (cblab run --log), one per kept step.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:log;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct LogPanel {
  void draw(const Session& session, View& view);

  int followed_step_ = -2;  // the selection the scroll last followed

};

}  // namespace cblab::ui

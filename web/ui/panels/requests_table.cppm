// cblab.ui:requests_table — state, prompt length, computed tokens, generated text so far, first-token and finish step, as of the selected step.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:requests_table;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct RequestsPanel {
  void draw(const Session& session, View& view);

};

}  // namespace cblab::ui

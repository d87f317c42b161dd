// cblab.ui:timeline — one lane per request over steps, each cell what the request did in that step; under it each step's token budget as a stacked bar of decode and prefill tokens. Hover a cell for the step; click selects the step everywhere.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:timeline;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct TimelinePanel {
  void draw(const Session& session, View& view);

  int followed_step_ = -2;  // the selection the scroll last followed

};

}  // namespace cblab::ui

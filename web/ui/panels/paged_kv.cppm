// cblab.ui:paged_kv — the block pool as a grid (owner colour, filled to its used slots, free blocks dim) and every request's block table beside it.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:paged_kv;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct PagedKVPanel {
  void draw(const Session& session, View& view);

};

}  // namespace cblab::ui

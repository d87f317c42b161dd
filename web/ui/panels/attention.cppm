// cblab.ui:attention — the attention weights of one request and head in the selected step, as
// a heatmap over [its new tokens x every key it may see].
//
// The weights come from TinyLLM::attention_weights over the request's tokens up to its last
// new position: the dense single-sequence path, which the engine's tests prove equal to the
// fused batched step (batched == alone). So the picture is the step's real attention, whatever
// the chunking, without the engine keeping every step's queries.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:attention;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct AttentionPanel {
  void draw(const Session& session, View& view);

  int request = -1;  // chosen request; the hovered one wins while hovering
  int layer = 0;
  int head = 0;

  // Computed once per (step, request, layer): weights (H, S, S) of the sequence 0..last.
  int cached_step = -1, cached_request = -1, cached_layer = -1;
  int first = 0, last = -1;      // the request's new positions in that step: [first, last]
  std::vector<float> weights;    // (H, S, S), S = last + 1
};

}  // namespace cblab::ui

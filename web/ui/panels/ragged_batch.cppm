// cblab.ui:ragged_batch — the selected step's flattened batch: the token table and the ragged causal mask over [new tokens x (cached prefix + new tokens)].
module;
#include <cstdint>
#include <vector>
export module cblab.ui:ragged_batch;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct RaggedBatchPanel {
  void draw(const Session& session, View& view);

  // The mask of the selected step, computed once per selection (it is T x Tk bytes).
  int mask_step = -1;
  std::vector<std::uint8_t> mask;
  std::vector<int> key_row;       // (Tk) batch row of each key column
  std::vector<int> key_position;  // (Tk) its position in the row's context
  std::vector<int> runs;          // (t, k_begin, k_end) triples: the allowed keys of query t
};

}  // namespace cblab::ui

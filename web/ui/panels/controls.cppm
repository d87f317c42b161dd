// cblab.ui:controls — engine and model configuration (restart to apply), run / pause / step / step back / reset, speed, the kernel arch and the selected step's compute time.
module;
#include <cstdint>
#include <vector>
export module cblab.ui:controls;
import cblab;
import :session;
import :view;

export namespace cblab::ui {

struct ControlsPanel {
  void draw(const Session& session, View& view);

  // Edits waiting for "Apply": a configuration change restarts the session.
  ModelConfig model;
  EngineConfig engine;
  bool synced = false;        // edits start from the session's configuration
  int max_history = 4096;
};

}  // namespace cblab::ui

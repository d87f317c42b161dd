// trace.hpp — a run as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open: one track for the engine's steps and one track per request (per
// sample when n > 1), with instant events for preemptions (victim, reason, tokens lost), aborts
// and the prompt blocks a sample shares with a sibling.
#pragma once
#include <string>
#include <vector>
import cblab;

namespace cli {

// Steps are laid end to end on the time axis, each as long as its forward pass (compute_us,
// at least 1 us so that an empty step stays visible).
std::string chrome_trace(const std::vector<cblab::StepRecord>& steps,
                         const std::vector<cblab::Request>& requests);

}  // namespace cli

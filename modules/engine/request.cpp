// request.cpp — names of the request states, for printing and the result file.
module;
#include <string_view>
module cblab.engine;

namespace cblab {

std::string_view to_string(RequestState s) {
  switch (s) {
    case RequestState::waiting: return "waiting";
    case RequestState::prefilling: return "prefilling";
    case RequestState::decoding: return "decoding";
    case RequestState::preempted: return "preempted";
    case RequestState::finished: return "finished";
  }
  return "?";
}

std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "none";
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::abort: return "abort";
  }
  return "?";
}

}  // namespace cblab

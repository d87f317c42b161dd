// cblab.ui:session — one run of the engine as the page shows it: the workload, the Engine, and
// the history of every step's record for time travel.
//
// The engine only moves forward. The page looks backwards by keeping each StepRecord (a plain
// value) plus what the panels derive from it once: what each request did in that step, its
// computed and generated token counts after it, and the per-step log line the CLI prints.
// Stepping back and scrubbing read this history; nothing is re-run. The history is bounded
// (max_history); the oldest steps are dropped first and num_dropped() says how many.
// Not here: drawing (the panels), the JS API (App).
module;
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>
export module cblab.ui:session;
import cblab;

export namespace cblab::ui {

// What one request did in one step: one timeline cell.
enum class Activity : std::uint8_t {
  not_arrived,  // its arrival_step is later
  waiting,      // arrived, not admitted (budget, max_running or KV room)
  stalled,      // admitted but got no tokens this step (the budget ran out)
  prefill,      // a prompt chunk (len tokens)
  decode,       // one token
  done,         // finished in an earlier step
  preempted,    // lost its KV blocks in this step (recompute later): StepRecord::preempted
  aborted,      // aborted before this step (reported by its record): StepRecord::aborted
};

struct Cell {
  Activity activity = Activity::not_arrived;
  bool finished_here = false;  // the request finished in this step
  bool requeued = false;       // waiting again after a preemption
  bool recompute = false;      // a prefill chunk re-running tokens a preemption dropped
  int len = 0;                 // tokens it fed this step
};

struct StepView {
  StepRecord record;
  std::string log_line;          // format_step(record): the CLI's line
  std::vector<Cell> cells;       // (R at that step)
  std::vector<int> computed;     // (R) tokens with K/V after the step
  std::vector<int> generated;    // (R) output tokens after the step
  std::vector<int> preemptions;  // (R) times preempted so far
  std::vector<int> cached;       // (R) prompt tokens found in the prefix cache at admission
  int num_blocks_used = 0;       // blocks with ref_count > 0 after the step
  int num_shared_blocks = 0;     // ref_count > 1: one copy of K/V read by several requests
  int num_cached_free_blocks = 0;  // ref_count 0 but still in the prefix cache (reusable)
  int num_sampled = 0;
  EngineMetrics metrics;         // the engine's totals after the step (as the CLI reports)
};

// Where a request's blocks went: one entry per (logical block, physical block) it held, and
// the steps it held it (a preemption or a finish ends every entry; a prefix hit starts some).
struct BlockTableHistory {
  struct Entry {
    int logical = 0;
    std::int32_t block = 0;
    int from = 0;   // first step after which it was in the table
    int to = -1;    // first step after which it was not; -1 while held
  };
  std::vector<Entry> entries;
  std::vector<std::int32_t> now;  // the table after the last recorded step
};

class Session {
 public:
  explicit Session(std::size_t max_history = 4096);
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Starts over on a new workload. Throws InputError (field, value, allowed) and leaves the
  // session as it was if the engine rejects the configuration or a request.
  void load(const Workload& workload);
  void restart();  // the same workload from step 0
  // Runs one engine step at the head; false (nothing done) once every request has finished.
  bool step();
  // Adds a request to the running engine; its arrival is moved to the current step at least,
  // so the workload (with that arrival) replays the same schedule. Throws InputError.
  int add_request(RequestSpec spec);
  // Aborts a waiting, preempted or running request: it frees its blocks now, and the next
  // step's record reports it. False if it had already finished. Not part of the workload: a
  // restart (or a shared link) runs it to the end.
  bool abort(int index);
  void set_max_history(std::size_t n);

  const Workload& workload() const { return workload_; }
  const Engine& engine() const { return *engine_; }
  int num_steps() const { return engine_->num_steps(); }  // steps run (head = num_steps - 1)
  bool is_done() const { return !engine_->has_unfinished(); }
  // Steps kept: [first_kept_step(), num_steps()).
  int first_kept_step() const { return num_steps() - static_cast<int>(history_.size()); }
  int num_dropped() const { return first_kept_step(); }
  std::size_t max_history() const { return max_history_; }
  // The kept history also stays under this many bytes, whatever max_history says: a step holds
  // a snapshot of every block, so a big pool makes each step big (and a wasm page has 2 GiB).
  static constexpr std::size_t kMaxHistoryBytes = std::size_t{256} << 20;
  const StepView* at(int step) const;  // nullptr when not kept
  const std::deque<StepView>& history() const { return history_; }
  // Physical blocks of `request` after `step` (its block table then), in logical order.
  std::vector<std::int32_t> block_table_at(int request, int step) const;
  // Sum of sampled tokens over the kept history and of compute time, for throughput.
  long long total_compute_us() const { return total_compute_us_; }

 private:
  void record(StepRecord&& record);

  Workload workload_;
  std::unique_ptr<Engine> engine_;
  std::deque<StepView> history_;
  std::vector<BlockTableHistory> tables_;  // (R)
  std::vector<int> admitted_at_;           // (R) -1 until admitted (again, after a preemption)
  std::vector<int> lost_;                  // (R) tokens its last preemption dropped
  std::size_t max_history_;
  long long total_compute_us_ = 0;
};

// The workload as a JSON file in the CLI's format (docs/workload_format.md): parse_workload
// reads it back to the same Workload. Text prompts stay text when every byte is printable.
std::string workload_json(const Workload& workload, int indent = -1);

}  // namespace cblab::ui

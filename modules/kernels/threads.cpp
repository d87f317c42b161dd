// threads.cpp — the pool behind parallel_for (see threads.cppm).
//
// Workers sleep on a condition variable. A parallel_for publishes a job (a generation number,
// the item count and the function), wakes them, and takes items itself too; an atomic counter
// hands out items, so a worker that finishes early simply takes the next one.
module;
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <format>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>
module cblab.kernels;

namespace cblab::kernels::detail {
namespace {

#if !defined(__EMSCRIPTEN__)
class ThreadPool {
 public:
  explicit ThreadPool(int num_threads) {
    for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  int size() const { return int(workers_.size()) + 1; }

  void run(int num_items, const std::function<void(int)>& work) {
    {
      std::lock_guard lock(mutex_);
      work_ = &work;
      num_items_ = num_items;
      next_item_.store(0);
      busy_workers_ = int(workers_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    take_items();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    work_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void worker_loop() {
    long long seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      take_items();
      std::lock_guard lock(mutex_);
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  void take_items() {
    for (int i; (i = next_item_.fetch_add(1)) < num_items_;) {
      try {
        (*work_)(i);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* work_ = nullptr;
  int num_items_ = 0;
  std::atomic<int> next_item_{0};
  int busy_workers_ = 0;
  long long generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

// CBLAB_THREADS, if set: a whole number 1..256. Anything else is named in a warning and 1 used
// (as a bad CBLAB_ARCH falls back to the default arch): a typo must not pass silently.
int initial_num_threads() {
  const char* env = std::getenv("CBLAB_THREADS");
  if (!env || !*env) return 1;
  int n = 0;
  const char* end = env + std::strlen(env);
  const auto [ptr, ec] = std::from_chars(env, end, n);
  if (ec == std::errc() && ptr == end && n >= 1 && n <= 256) return n;
  std::fprintf(stderr, "cblab: CBLAB_THREADS='%s' is not a thread count (allowed 1..256); using 1\n", env);
  return 1;
}

// The pool is rebuilt when the thread count changes; parallel_for is not meant to be called
// from several threads at once (the engine calls kernels from one thread).
std::mutex g_pool_mutex;
std::unique_ptr<ThreadPool> g_pool;
int g_num_threads = initial_num_threads();
#endif

}  // namespace

void parallel_for(int num_items, const std::function<void(int)>& work) {
#if defined(__EMSCRIPTEN__)
  for (int i = 0; i < num_items; ++i) work(i);
#else
  if (g_num_threads == 1 || num_items <= 1) {
    for (int i = 0; i < num_items; ++i) work(i);
    return;
  }
  std::lock_guard lock(g_pool_mutex);
  if (!g_pool || g_pool->size() != g_num_threads) {
    g_pool.reset();
    g_pool = std::make_unique<ThreadPool>(g_num_threads);
  }
  g_pool->run(num_items, work);
#endif
}

}  // namespace cblab::kernels::detail

namespace cblab::kernels {

int num_threads() {
#if defined(__EMSCRIPTEN__)
  return 1;
#else
  return detail::g_num_threads;
#endif
}

void set_num_threads(int n) {
  if (n < 1 || n > 256)
    throw std::invalid_argument(
        std::format("set_num_threads: n is {}, must be between 1 and 256", n));
#if !defined(__EMSCRIPTEN__)
  detail::g_num_threads = n;
#endif
}

}  // namespace cblab::kernels

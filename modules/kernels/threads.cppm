// cblab.kernels:threads — a small thread pool the kernels share: attention splits its work over
// (request, query tile), the GEMM over rows. One thread by default; the wasm build has no
// threads at all (no pthreads there), so it always runs on the calling thread.
module;
#include <functional>
export module cblab.kernels:threads;

export namespace cblab::kernels {

// Threads the kernels may use, the calling thread included (>= 1). Default 1; the environment
// variable CBLAB_THREADS sets the starting value. Always 1 in the wasm build.
int num_threads();

// Throws std::invalid_argument unless 1 <= n <= 256. In the wasm build any n is accepted and
// the kernels still run on one thread.
void set_num_threads(int n);

}  // namespace cblab::kernels

namespace cblab::kernels::detail {
// Runs work(i) for i in [0, num_items), spread over num_threads() threads; returns when all
// are done. Items are handed out one by one in order (list the most expensive first). If a
// call throws, the first exception is rethrown here after all threads have stopped.
void parallel_for(int num_items, const std::function<void(int)>& work);
}  // namespace cblab::kernels::detail

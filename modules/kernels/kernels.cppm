// cblab.kernels — the compute kernels. Every kernel has a scalar reference (the oracle, plain
// loops anyone can check by eye) and a SIMD version written once with xsimd and instantiated
// per arch (kernels/arch/). The dispatcher picks the arch at run time natively and at compile
// time in the wasm build (simd128).
export module cblab.kernels;

export import :dispatch;   // which arch runs: arch(), available_archs(), set_arch()
export import :threads;    // how many threads the kernels use: num_threads(), set_num_threads()
export import :reference;  // the scalar references (the oracle) and the shared shape structs
export import :ops;        // the same kernels on the active arch: what the engine calls
export import :dot;        // dot product
export import :probes;     // machine probes for the benchmark: read bandwidth, FMA peak
export import :memory;     // buffers that start on a cache line (the K/V pool, the bench)

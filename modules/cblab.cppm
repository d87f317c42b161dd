// cblab — the umbrella module. `import cblab;` brings the whole engine; each area is also a
// module of its own (`import cblab.kernels;`) for code that needs only a part.
export module cblab;

export import :version;
export import cblab.kernels;  // SIMD kernels, their scalar references, run-time arch dispatch
export import cblab.engine;   // requests, KV caches, scheduler, ragged batches, TinyLLM, Engine

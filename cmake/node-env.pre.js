// Run before a Node program's wasm module starts (emcc --pre-js), in the CLI and the tests.
// Emscripten gives the program's getenv() a fixed environment of its own (USER, PATH, HOME, ...);
// this copies Node's, so CBLAB_ARCH and CBLAB_THREADS work under Node as they do natively.
if (typeof process === 'object' && process.env) {
  Module['preRun'] = [].concat(Module['preRun'] || [], () => {
    for (const [name, value] of Object.entries(process.env)) ENV[name] = value;
  });
}

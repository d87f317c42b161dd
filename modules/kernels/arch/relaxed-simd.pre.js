// Run before the program's wasm module is compiled (emcc --pre-js), in the CLI and the tests,
// which hold the "wasm+relaxed" kernels. Browsers and Node 22+ ship WebAssembly relaxed SIMD;
// Node 20 has it behind a V8 flag, which is turned on here when a one-instruction module that
// uses f32x4.relaxed_madd does not validate.
if (typeof process === 'object' && process.versions && process.versions.node) {
  const v128 = [0xfd, 0x0c, ...new Array(16).fill(0)];  // v128.const 0
  const body = [0x00, ...v128, ...v128, ...v128, 0xfd, 0x85, 0x02, 0x0b];  // relaxed_madd, end
  const probe = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,  // "\0asm", version 1
    1, 5, 1, 0x60, 0, 1, 0x7b,  // types: () -> v128
    3, 2, 1, 0,                 // one function of that type
    10, body.length + 2, 1, body.length, ...body]);
  if (!WebAssembly.validate(probe)) {
    require('v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (!WebAssembly.validate(probe))
      throw new Error('this program needs WebAssembly relaxed SIMD (Node 20 or newer)');
  }
}

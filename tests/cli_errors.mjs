// The CLI's bad-input cases of docs/errors.md: each command exits with code 2 and prints the
// exact message on stderr; a bad workload leaves an existing --out file as it was.
// Usage: node tests/cli_errors.mjs [EMULATOR] CBLAB
//   (natively: node tests/cli_errors.mjs build/native/native/cblab;
//    for wasm:  node tests/cli_errors.mjs node build/wasm/native/cblab.js)
// Prints one line per case and "cli errors: N passed, M failed"; exits 1 when any failed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const command = process.argv.slice(2);
if (command.length === 0) {
  console.error('usage: node tests/cli_errors.mjs [EMULATOR] CBLAB');
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cblab-cli-errors-'));
const file = (name, text) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

const good = file('good.json', JSON.stringify({
  engine: { max_tokens_per_step: 8, prefill_chunk_size: 4, block_size: 4, num_blocks: 16 },
  requests: [{ id: 'a', prompt: 'hello', max_new_tokens: 3 }],
}));
const notJson = file('not_json.json', '{"requests": [');
const wrongType = file('wrong_type.json', '{"requests": [{"prompt": "a"}, {"prompt": "b", "max_new_tokens": "x"}]}');
const badConfig = file('bad_config.json', '{"engine": {"prefill_chunk_size": 128}}');
const badToken = file('bad_token.json', '{"requests": [{"prompt_tokens": [1, 2, 3, 300]}]}');
const unknownKey = file('unknown_key.json', '{"engine": {"blok_size": 8}}');
const tooBig = file('too_big.json', '{"engine": {"block_size": 4, "num_blocks": 2}, "requests": [{"prompt": "0123456789"}]}');
const missing = path.join(dir, 'missing.json');
const noDir = path.join(dir, 'no_such_dir', 'out.json');

const usage = (msg) => `${msg}\nRun with --help for more information.\n`;
const archs = (() => {
  const r = spawnSync(command[0], [...command.slice(1), 'info'], { encoding: 'utf8' });
  const m = /\(runnable: ([^)]*)\)/.exec(r.stdout ?? '');
  return m ? m[1].trim().split(' ') : [];
})();

// [name, args, expected stderr (string: exact, RegExp: matched), options]
const cases = [
  ['no subcommand', [], usage('A subcommand is required')],
  ['unknown subcommand', ['fly'], "cblab: unknown command 'fly'; commands: info, run, bench, demo\n"],
  ['run without a workload', ['run'], usage('workload is required')],
  ['run: unknown option', ['run', good, '--frobnicate'], usage('The following argument was not expected: --frobnicate')],
  ['run: --out without a value', ['run', good, '--out'], usage('--out: 1 required TEXT missing')],
  ['run: unreadable workload', ['run', missing], `cblab: file = ${missing}: allowed a readable workload file\n`],
  ['run: workload is not JSON', ['run', notJson],
   /^cblab: .*not_json\.json: \(file\) = \[json\.exception\.parse_error\.101\] parse error at line 1, column 15: .*: allowed valid JSON\n$/, { keepsOut: true }],
  ['run: value of the wrong type', ['run', wrongType],
   `cblab: ${wrongType}: requests[1].max_new_tokens = "x": allowed an integer (got string)\n`, { keepsOut: true }],
  ['run: unknown key', ['run', unknownKey],
   `cblab: ${unknownKey}: engine.blok_size = 8: allowed one of the keys {max_tokens_per_step, prefill_chunk_size, kv_cache, block_size, num_blocks, max_running, policy, reserve_full_kv, prefix_caching}\n`, { keepsOut: true }],
  ['run: engine configuration', ['run', badConfig],
   `cblab: ${badConfig}: engine.prefill_chunk_size = 128: allowed 1..engine.max_tokens_per_step (64)\n`, { keepsOut: true }],
  ['run: token outside the vocabulary', ['run', badToken],
   `cblab: ${badToken}: requests[0].prompt_tokens[3] = 300: allowed 0..255 (model.vocab_size 256)\n`, { keepsOut: true }],
  ['run: request that can never fit', ['run', tooBig],
   `cblab: ${tooBig}: requests[0].prompt_tokens + max_new_tokens = 10 + 16 (needs 7 blocks of 4): allowed a request whose KV fits in engine.num_blocks (2 blocks = 8 tokens)\n`, { keepsOut: true }],
  ['run: --out cannot be written', ['run', good, '--out', noDir], `cblab: cannot write --out ${noDir}\n`],
  ['run: --trace cannot be written', ['run', good, '--out', path.join(dir, 'r.json'), '--trace', noDir],
   /cblab: cannot write --trace .*no_such_dir.out\.json\n$/],
  ['demo without a name', ['demo'], usage('name is required')],
  ['demo: unknown name', ['demo', 'nope'],
   usage('name: nope not in {paged-attention,prefill-decode-mix,prefill-only,ragged-mask,scheduler-timeline}')],
  ['bench: unknown arch', ['bench', '--arch', 'avx9000'],
   `cblab: --arch avx9000 is not runnable here; choices: ${archs.join(', ')}\n`],
  ['bench: unknown case kind', ['bench', '--kind', 'train'],
    'cblab: --kind train is not a case kind; choices: decode, prefill, gemm\n'],
  ['bench: thread count out of range', ['bench', '--threads', '0'], 'cblab: --threads 0 must be between 1 and 256\n'],
  ['bench: thread count not a number', ['bench', '--threads', 'many'], usage('Could not convert: --threads = many')],
  ['bench: --json cannot be written', ['bench', '--quick', '--json', noDir], `cblab: --json: cannot write ${noDir}\n`],
];

let passed = 0, failed = 0;
const out = path.join(dir, 'existing_result.json');
for (const [name, args, expected, options = {}] of cases) {
  // A bad workload must not touch an --out file that is already there.
  const extra = options.keepsOut ? ['--out', out] : [];
  if (options.keepsOut) fs.writeFileSync(out, 'keep me\n');
  const r = spawnSync(command[0], [...command.slice(1), ...args, ...extra], { encoding: 'utf8', timeout: 60_000 });
  const problems = [];
  if (r.status !== 2) problems.push(`exit code ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}, expected 2`);
  const ok = expected instanceof RegExp ? expected.test(r.stderr) : r.stderr === expected;
  if (!ok) problems.push(`stderr:\n${r.stderr}expected${expected instanceof RegExp ? ' to match' : ''}:\n${expected}`);
  if (options.keepsOut && fs.readFileSync(out, 'utf8') !== 'keep me\n') problems.push(`--out ${out} was overwritten`);
  if (problems.length === 0) {
    ++passed;
    console.log(`ok    ${name}`);
  } else {
    ++failed;
    console.log(`FAIL  ${name}: cblab ${args.join(' ')}\n      ${problems.join('\n').split('\n').join('\n      ')}`);
  }
}

// Not errors: a bad CBLAB_ARCH or CBLAB_THREADS warns, names what is allowed and falls back
// (exit 0). The wasm CLI reads the environment too (cmake/node-env.pre.js), but has no threads.
const envWarnings = [
  ['CBLAB_ARCH not runnable', { CBLAB_ARCH: 'avx9000' },
   `cblab: CBLAB_ARCH='avx9000' is not runnable here (choices: ${archs.join(', ')}); using ${archs[0]}\n`],
  ...(command.length === 1 ? [
    ['CBLAB_THREADS not a number', { CBLAB_THREADS: 'abc' }, "cblab: CBLAB_THREADS='abc' is not a thread count (allowed 1..256); using 1\n"],
    ['CBLAB_THREADS out of range', { CBLAB_THREADS: '0' }, "cblab: CBLAB_THREADS='0' is not a thread count (allowed 1..256); using 1\n"],
    ['CBLAB_THREADS with trailing text', { CBLAB_THREADS: '2x' }, "cblab: CBLAB_THREADS='2x' is not a thread count (allowed 1..256); using 1\n"],
  ] : []),
];
for (const [name, env, expected] of envWarnings) {
  const r = spawnSync(command[0], [...command.slice(1), 'info'], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status === 0 && r.stderr === expected) {
    ++passed;
    console.log(`ok    ${name}: a warning, then the default`);
  } else {
    ++failed;
    console.log(`FAIL  ${name}: exit ${r.status}, stderr:\n${r.stderr}expected:\n${expected}`);
  }
}

fs.rmSync(dir, { recursive: true, force: true });
console.log(`cli errors: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

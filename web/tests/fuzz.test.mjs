// Browser fuzz: the page never aborts and stays responsive, whatever the JS API is given.
//
// 1. The page's bad-input cases of docs/errors.md, one by one: the exact message, and the
//    session unchanged (same requests, steps, configuration, selected step).
// 2. A seeded random walk through the actions of App::act (web/ui/app.cpp) with extreme
//    configurations and arguments: after every action the page has not aborted
//    (window.cblab.error is null), a rejected action returned {ok: false, error} with a
//    message and changed nothing, and the page still answers state() and draws new frames.
// The seed is printed; CBLAB_FUZZ_SEED, CBLAB_FUZZ_ITERATIONS and CBLAB_FUZZ_SECONDS replay or
// lengthen a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, state, act } from './browser.mjs';

const SEED = Number(process.env.CBLAB_FUZZ_SEED ?? 20240917);
const ITERATIONS = Number(process.env.CBLAB_FUZZ_ITERATIONS ?? 250);
// The walk also stops after this many seconds (the prefix of the same sequence): a loaded
// machine draws frames slowly.
const SECONDS = Number(process.env.CBLAB_FUZZ_SECONDS ?? 25);

// What a rejected action must leave as it was.
const kept = (s) => JSON.stringify({
  num_requests: s.num_requests, num_steps: s.num_steps, step: s.step, config: s.config,
  first_kept_step: s.first_kept_step, max_history: s.max_history, done: s.done, arch: s.arch,
  ids: s.requests.map((r) => r.id), outputs: s.requests.map((r) => r.output_tokens),
});

// The page is alive: no abort, state() answers, and a new frame is drawn within `ms`.
async function assertAlive(page, what, ms = 10_000) {
  const error = await page.evaluate(() => window.cblab.error);
  assert.equal(error, null, `the page aborted after ${what}: ${error}`);
  const { frame } = await state(page);
  try {
    await page.waitForFunction((f) => window.cblab.state().frame > f, frame, { timeout: ms, polling: 20 });
  } catch {
    assert.fail(`no new frame within ${ms} ms after ${what} (frame ${frame})`);
  }
}

// The state just before an action, its result and the state just after, in one go: no frame
// (which may step a playing session) runs in between.
const actBetween = (page, name, args) => page.evaluate(([n, a]) => {
  const before = window.cblab.state();
  const r = window.cblab.act(n, a);
  return { before, r, after: window.cblab.state() };
}, [name, args]);

// A rejected action: exactly `message` (a string or a RegExp), the session unchanged.
async function expectRejected(page, name, args, message) {
  const { before, r, after } = await actBetween(page, name, args);
  const what = `${name} ${JSON.stringify(args)}`;
  assert.equal(r.ok, false, `${what} was accepted`);
  if (message instanceof RegExp) assert.match(r.error, message, what);
  else assert.equal(r.error, message, what);
  assert.equal(kept(after), kept(before), `${what} changed the session`);
  assert.equal(after.error, r.error, `${what}: the page shows the message`);
  assert.equal(await page.evaluate(() => window.cblab.error), null, `the page aborted after ${what}`);
}

test('the page rejects each bad input of the catalogue with its message and keeps the session', async () => {
  const { page, close } = await openPage();
  try {
    let r = await act(page, 'load_scenario', { name: 'chat', seed: 3 });
    assert.equal(r.ok, true, r.error);
    await expectRejected(page, 'select_step', { step: 0 }, 'select_step: no step has run yet');
    await expectRejected(page, 'step_back', {}, 'step_back: step -1 is the oldest kept step');
    r = await act(page, 'step', { n: 5 });
    assert.equal(r.ok, true, r.error);
    const n = r.state.num_requests;

    // Actions and their arguments.
    await expectRejected(page, 'fly', {}, "unknown action 'fly'; actions: load_workload, load_scenario, step, "
      + 'run, step_back, select_step, reset, play, set_speed, set_config, set_max_history, set_arch, '
      + 'add_request, remove_request, abort_request, import_file, export_file, export_workload');
    await expectRejected(page, 'step', [3], 'step: arguments must be an object');
    await expectRejected(page, 'step', { n: 0 }, 'n = 0: allowed an integer in 1..100000');
    await expectRejected(page, 'step', { n: '2' }, 'n = "2": allowed an integer in 1..100000');
    await expectRejected(page, 'run', { max_steps: 1.5 }, 'max_steps = 1.5: allowed an integer in 1..1000000');
    await expectRejected(page, 'select_step', { step: 5 }, 'step = 5: allowed an integer in 0..4');
    await expectRejected(page, 'set_speed', { steps_per_second: 0 }, 'steps_per_second = 0: allowed an integer in 1..1000');
    await expectRejected(page, 'set_max_history', { n: 0 }, 'n = 0: allowed an integer in 1..1000000');
    await expectRejected(page, 'remove_request', {}, 'remove_request: missing "index"');
    await expectRejected(page, 'remove_request', { index: n }, `index = ${n}: allowed an integer in 0..${n - 1}`);
    const archs = (await state(page)).archs;
    await expectRejected(page, 'set_arch', { name: 'avx9000' },
      `set_arch: arch 'avx9000' is not runnable on this machine; choices: ${archs.join(', ')}`);

    // Scenarios.
    await expectRejected(page, 'load_scenario', { name: 'nope' },
      'scenario = "nope": allowed chat, long, pressure, shared, priority, parallel, big, random');
    await expectRejected(page, 'load_scenario', { name: 'random', count: 0 }, 'count = 0: allowed an integer in 1..256');
    await expectRejected(page, 'load_scenario', { seed: -1 }, 'seed = -1: allowed an integer in 0..1073741824');

    // Workloads: the engine's and the reader's messages, wrapped.
    await expectRejected(page, 'load_workload', {}, 'load_workload: missing "json" (the workload text or object)');
    await expectRejected(page, 'load_workload', { json: '{"requests": [' },
      /^workload not loaded: \(file\) = \[json\.exception\.parse_error\.101\] parse error at line 1, column 15: .*: allowed valid JSON \(the session is kept\)$/);
    await expectRejected(page, 'load_workload', { json: { requests: [{ prompt: 'a', max_new_tokens: 'many' }] } },
      'workload not loaded: requests[0].max_new_tokens = "many": allowed an integer (got string) (the session is kept)');
    await expectRejected(page, 'load_workload', { json: { engine: { max_tokens_per_step: 8, prefill_chunk_size: 16 } } },
      'workload not loaded: engine.prefill_chunk_size = 16: allowed 1..engine.max_tokens_per_step (8) (the session is kept)');

    // Configuration changes.
    await expectRejected(page, 'set_config', { engine: { block_size: 0 } },
      'configuration not applied: engine.block_size = 0: allowed >= 1 (the session is kept)');
    await expectRejected(page, 'set_config', { model: { vocab_size: 2 } },
      /^configuration not applied: requests\[0\]\.prompt_tokens\[0\] = \d+: allowed 0\.\.1 \(model\.vocab_size 2\) \(the session is kept\)$/);
    await expectRejected(page, 'set_config', { model: 5 },
      'configuration not applied: model = 5: allowed an object (got number) (the session is kept)');
    await expectRejected(page, 'set_config', { max_history: 0 }, 'max_history = 0: allowed an integer in 1..1000000');

    // Requests.
    await expectRejected(page, 'add_request', { id: 'x', prompt: 'hi', max_new_tokens: -1 },
      'request not added: max_new_tokens = -1: allowed >= 0');
    await expectRejected(page, 'add_request', { id: 'x', prompt: 'hi', top_p: 0 },
      'request not added: top_p = 0: allowed 0 < top_p <= 1 (1 = all tokens)');
    await expectRejected(page, 'add_request', { id: 'x', prompt_tokens: [72, 999] },
      'request not added: prompt_tokens[1] = 999: allowed 0..255 (model.vocab_size 256)');
    await expectRejected(page, 'add_request', { id: 'x', prompt: 'hi', max_new_tokens: 'lots' },
      'request not added: requests[0].max_new_tokens = "lots": allowed an integer (got string)');
    await expectRejected(page, 'add_request', { id: (await state(page)).requests[0].id, prompt: 'hi' },
      `request not added: id = "${(await state(page)).requests[0].id}": allowed an id not used before`);
    await expectRejected(page, 'add_request', { id: 'x', prompt: 'x'.repeat(5000), max_new_tokens: 4000 },
      /^request not added: prompt_tokens \+ max_new_tokens = 5000 \+ 4000 \(needs \d+ blocks of \d+\): allowed a request whose KV fits in engine\.num_blocks \(\d+ blocks = \d+ tokens\)$/);
    await expectRejected(page, 'add_request', { id: 'x', prompt: 'ab', max_new_tokens: 2147483647 },
      /^request not added: prompt_tokens \+ max_new_tokens = 2 \+ 2147483647 \(needs \d+ blocks of \d+\): allowed a request whose KV fits in engine\.num_blocks \(\d+ blocks = \d+ tokens\)$/);
    await expectRejected(page, 'load_workload', { json: '{"requests": [{"prompt": "ab", "max_new_tokens": 18446744073709551615}]}' },
      'workload not loaded: requests[0].max_new_tokens = 18446744073709551615: allowed an integer in -2147483648..2147483647 (the session is kept)');
    await expectRejected(page, 'add_request', { id: 'x', prompt: 'ab', temperature: 1e39 },
      'request not added: requests[0].temperature = 1e+39: allowed a finite number that fits a float (|x| <= 3.4028235e+38)');

    // Resource caps (the page's engine: 256 MiB of KV, 256 MiB of weights).
    await expectRejected(page, 'set_config', { engine: { num_blocks: 65536, block_size: 65536 } },
      /^configuration not applied: engine\.num_blocks = 65536 \(65536 blocks x 65536 slots x \d+ bytes per slot = \d+ bytes = \d+ MiB\): allowed at most \d+ blocks of 65536 slots \(KV pool cap 268435456 bytes = 256 MiB, and at most 65536 blocks\) \(the session is kept\)$/);
    await expectRejected(page, 'set_config', { model: { vocab_size: 100000000 } },
      /^configuration not applied: model = vocab_size 100000000, d_model \d+, .*: \d+ bytes = \d+ MiB of weights: allowed at most 268435456 bytes = 256 MiB of weights \(cap\) \(the session is kept\)$/);

    // Arguments of the wrong type name the argument.
    await expectRejected(page, 'play', { on: 'yes' }, 'on = "yes": allowed true or false');
    await expectRejected(page, 'load_scenario', { name: 5 }, 'name = 5: allowed a string');
    await expectRejected(page, 'set_arch', { name: null }, 'name = null: allowed a string');

    // After all of that the session runs to the end.
    r = await act(page, 'run', {});
    assert.equal(r.ok, true, r.error);
    assert.equal(r.state.done, true);
    assert.equal(r.state.num_requests, n);
    await assertAlive(page, 'run');
  } finally {
    await close();
  }
});

// [the random walk] ---------------------------------------------------------------------------

// mulberry32: a small seeded PRNG, the same sequence everywhere.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeGen(seed) {
  const rnd = prng(seed);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = (xs) => xs[int(0, xs.length - 1)];
  const chance = (p) => rnd() < p;
  // Extreme and wrong values for any integer argument.
  const weird = [0, -1, -2147483648, 2147483647, 2147483648, 1e15, 1.5, -0.5, '3', null, true, [], {}];
  const anInt = (lo, hi) => (chance(0.8) ? int(lo, hi) : pick(weird));
  const text = (max) => Array.from({ length: int(0, max) }, () => String.fromCharCode(pick([int(32, 126), int(0, 31), int(128, 255), int(0x4e00, 0x4e40)]))).join('');
  return { rnd, int, pick, chance, anInt, text, weird };
}

// The model and engine a random configuration may ask for. Sizes are extreme; the walk skips
// the ones between 64 MB and the page's caps (accepted, but slow to allocate on a loaded
// machine) and sends those far beyond the caps, which must be refused.
function randomConfig(g) {
  const model = {}, engine = {};
  if (g.chance(0.3)) model.d_model = g.pick([2, 4, 8, 16, 64, 128, 65536]);
  if (g.chance(0.2)) model.n_layers = g.pick([1, 2, 3]);
  if (g.chance(0.2)) model.n_heads = g.pick([1, 2, 3, 4, 8]);
  if (g.chance(0.2)) model.n_kv_heads = g.pick([1, 2, 3]);
  if (g.chance(0.1)) model.head_dim = g.pick([0, 2, 3, 8, -2]);
  if (g.chance(0.1)) model.mlp_dim = g.pick([0, 16, 64, -1]);
  if (g.chance(0.1)) model.vocab_size = g.pick([1, 2, 256, 300, 4096, 2147483647]);
  if (g.chance(0.1)) model.rope_theta = g.pick([0.5, 1, 2, 1e30, 'x']);
  if (g.chance(0.05)) model.seed = g.pick([0, 1, -1, 2 ** 53]);
  if (g.chance(0.5)) engine.max_tokens_per_step = g.pick([1, 2, 3, 8, 64, 512, 0, -1]);
  if (g.chance(0.5)) engine.prefill_chunk_size = g.pick([1, 2, 8, 32, 512, 0]);
  if (g.chance(0.4)) engine.block_size = g.pick([1, 2, 3, 16, 64, 0, -4, 65536]);
  if (g.chance(0.4)) engine.num_blocks = g.pick([1, 2, 3, 16, 256, 2048, 0, 1000000]);
  if (g.chance(0.3)) engine.max_running = g.pick([1, 2, 64, 1000, 0]);
  if (g.chance(0.1)) engine.kv_cache = g.pick(['dense', 'paged', 'ring']);
  if (g.chance(0.1)) engine.policy = g.pick(['fcfs', 'priority', 'lifo']);
  if (g.chance(0.1)) engine.reserve_full_kv = g.pick([true, false, 1]);
  if (g.chance(0.1)) engine.prefix_caching = g.pick([true, false, 'yes']);
  if (g.chance(0.05)) engine[g.pick(['blok_size', 'budget'])] = 1;
  const args = {};
  if (Object.keys(model).length) args.model = model;
  if (Object.keys(engine).length || !args.model) args.engine = engine;
  if (g.chance(0.1)) args.max_history = g.anInt(1, 5000);
  return args;
}

// Bytes of weights and KV pool that `config` (merged over the current one) would allocate.
function footprint(current, args) {
  const m = { ...current.model, ...(typeof args.model === 'object' ? args.model : {}) };
  const e = { ...current.engine, ...(typeof args.engine === 'object' ? args.engine : {}) };
  const num = (x) => (Number.isInteger(x) && x > 0 ? x : 1);
  const D = num(m.head_dim) > 1 ? m.head_dim : num(m.d_model) / num(m.n_heads);
  const weights = num(m.vocab_size) * num(m.d_model) * 2 + num(m.n_layers) * num(m.d_model) * (num(m.n_heads) * D * 2 + num(m.n_kv_heads) * D * 2 + num(m.mlp_dim) * 2);
  const kv = num(e.num_blocks) * num(e.block_size) * num(m.n_kv_heads) * D * 2 * num(m.n_layers);
  return 4 * (weights + kv);
}

function randomRequest(g, s) {
  const r = {};
  if (g.chance(0.7)) r.prompt = g.text(g.pick([0, 3, 20, 200]));
  else r.prompt_tokens = Array.from({ length: g.int(0, 40) }, () => g.anInt(0, 300));
  if (g.chance(0.05)) { r.prompt = 'both'; r.prompt_tokens = [1]; }
  if (g.chance(0.3)) r.id = g.chance(0.5) && s.requests.length ? g.pick(s.requests).id : g.pick(['', 'x', 7, true, g.text(8)]);
  if (g.chance(0.8)) r.max_new_tokens = g.chance(0.85) ? g.int(0, 64) : g.pick([-1, 100000, 2147483647, 1.5, 'x', null]);
  if (g.chance(0.3)) r.arrival_step = g.pick([-5, 0, 1, 3, 50, 1e6, 'soon']);
  if (g.chance(0.2)) r.temperature = g.pick([0, 0.7, 1, 5, -1, 1e30, 'hot']);
  if (g.chance(0.2)) r.top_k = g.pick([0, 1, 5, 1000, -1]);
  if (g.chance(0.2)) r.top_p = g.pick([0, 0.1, 0.9, 1, 1.5]);
  if (g.chance(0.1)) r.seed = g.pick([0, 42, -1]);
  if (g.chance(0.2)) r.stop_tokens = Array.from({ length: g.int(0, 3) }, () => g.anInt(0, 300));
  if (g.chance(0.1)) r.priority = g.pick([-5, 0, 5, 'high']);
  if (g.chance(0.03)) r.mood = 'happy';
  return r;
}

// A workload text: the current one, mutated (cut, characters replaced, values swapped).
function randomWorkloadText(g, exported) {
  let t = exported;
  const k = g.int(0, 3);
  if (k === 0) return t;
  if (k === 1) return t.slice(0, g.int(0, t.length));
  if (k === 2) {
    const chars = [...t];
    for (let i = 0; i < g.int(1, 4); ++i) chars[g.int(0, chars.length - 1)] = g.pick(['"', '{', ']', ',', ':', '9', '-', 'x', ' ']);
    return chars.join('');
  }
  const w = JSON.parse(t);
  const sections = ['model', 'engine'];
  const sec = g.pick(sections), key = g.pick(Object.keys(w[sec]));
  w[sec][key] = g.pick(g.weird);
  if (g.chance(0.3) && w.requests.length) w.requests[g.int(0, w.requests.length - 1)].max_new_tokens = g.pick(g.weird);
  return JSON.stringify(w);
}

function randomAction(g, s, exported) {
  const k = g.int(0, 99);
  if (k < 20) return ['step', g.chance(0.7) ? { n: g.int(1, 8) } : { n: g.anInt(1, 32) }];
  if (k < 26) return ['run', { max_steps: g.chance(0.8) ? g.int(1, 100) : g.pick([0, -1, 1.5, 'all']) }];
  if (k < 32) return ['step_back', {}];
  if (k < 38) return ['select_step', g.chance(0.2) ? {} : { step: g.chance(0.7) ? g.int(s.first_kept_step - 2, s.num_steps + 2) : g.pick(g.weird) }];
  if (k < 41) return ['reset', {}];
  if (k < 44) return ['play', { on: g.chance(0.5) }];
  if (k < 46) return ['set_speed', { steps_per_second: g.anInt(1, 1000) }];
  if (k < 62) return ['set_config', randomConfig(g)];
  if (k < 65) return ['set_max_history', { n: g.chance(0.7) ? g.pick([1, 2, 3, 10, 4096]) : g.anInt(1, 1000) }];
  if (k < 67) return ['set_arch', { name: g.pick([...s.archs, 'avx9000', '']) }];
  if (k < 80) return ['add_request', randomRequest(g, s)];
  if (k < 85) return ['remove_request', g.chance(0.8) ? { index: g.int(-1, s.num_requests) } : { index: g.pick(g.weird) }];
  if (k < 89) return ['load_scenario', { name: g.pick(['chat', 'long', 'pressure', 'shared', 'big', 'random', 'nope']), seed: g.anInt(0, 1000), count: g.anInt(1, 256) }];
  if (k < 96) return ['load_workload', { json: randomWorkloadText(g, exported) }];
  if (k < 98) return ['export_workload', {}];
  return [g.pick(['fly', '', 'step ']), {}];
}

test(`random extreme configurations and actions: the page never aborts (seed ${SEED})`, async () => {
  console.log(`browser fuzz: seed ${SEED}, ${ITERATIONS} iterations (CBLAB_FUZZ_SEED / CBLAB_FUZZ_ITERATIONS to change)`);
  const g = makeGen(SEED);
  const { page, close, consoleLines } = await openPage();
  const started = Date.now();
  const tally = { ok: 0, rejected: 0, skipped: 0 };
  const byAction = {};
  try {
    let s = await state(page);
    let exported = (await act(page, 'export_workload', {})).state.workload_json;
    let i = 0;
    for (; i < ITERATIONS && Date.now() - started < SECONDS * 1000; ++i) {
      const [name, args] = randomAction(g, s, exported);
      const bytes = name === 'set_config' ? footprint(s.config, args) : 0;
      if (bytes > 64 * 2 ** 20 && bytes <= 512 * 2 ** 20) { ++tally.skipped; continue; }  // beyond: refused by a cap
      const what = `#${i} ${name} ${JSON.stringify(args).slice(0, 300)}`;
      const { before, r, after } = await actBetween(page, name, args);
      assert.equal(typeof r.ok, 'boolean', `${what}: no {ok} in ${JSON.stringify(r).slice(0, 200)}`);
      if (r.ok) {
        ++tally.ok;
      } else {
        ++tally.rejected;
        assert.equal(typeof r.error, 'string', `${what}: rejected without an error`);
        assert.ok(r.error.length > 10, `${what}: an empty message: '${r.error}'`);
        assert.equal(after.error, r.error, `${what}: the page does not show the message`);
        // A bad argument changes nothing. Stepping may fail after steps ran (a request that can
        // never be admitted), so step and run are exempt once they got past their arguments.
        if (!(['step', 'run'].includes(name) && !/^(n|max_steps) = /.test(r.error)))
          assert.equal(kept(after), kept(before), `${what}: rejected with '${r.error}' but changed the session`);
      }
      (byAction[name] ??= { ok: 0, rejected: 0 })[r.ok ? 'ok' : 'rejected']++;
      // Invariants of what the page reports.
      const c = after.counts;
      assert.equal(c.waiting + c.running + c.finished, after.num_requests, `${what}: counts`);
      assert.ok(after.step === -1 || (after.step >= after.first_kept_step && after.step < after.num_steps), `${what}: selected step ${after.step} outside the kept ${after.first_kept_step}..${after.num_steps - 1}`);
      await assertAlive(page, what);
      s = await state(page);
      if (name === 'export_workload' || g.chance(0.2)) exported = (await act(page, 'export_workload', {})).state.workload_json;
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`browser fuzz: ${i} of ${ITERATIONS} iterations in ${seconds.toFixed(1)} s: ${tally.ok} accepted, ${tally.rejected} rejected, ${tally.skipped} beyond the memory bound; final frame ${(await state(page)).frame}`);
    console.log(`browser fuzz: by action ${JSON.stringify(byAction)}`);
    assert.ok(tally.rejected > 5 && tally.ok > 5, 'the walk exercised both accepted and rejected actions');
  } catch (e) {
    e.message += `\n(replay: CBLAB_FUZZ_SEED=${SEED})\n--- browser console (last 20) ---\n${consoleLines.slice(-20).join('\n')}`;
    throw e;
  } finally {
    await close();
  }
});

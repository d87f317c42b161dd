// Issue 7 on the page: each scenario (memory pressure with preemption, a shared system prompt
// with prefix caching, priorities, parallel sampling) loads through the JS API and steps; what the engine reports
// for the selected step (preemptions, prefix-cache hits, shared and cached-but-free blocks,
// aborts) is what the panels report they drew; hovering a preempted cell or a shared block
// shows why; the results match runs without the feature (same tokens); and a screenshot of
// each new view is checked not blank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, state, act, waitForState, clickWidget, hover, windowShot, assertNotBlank } from './browser.mjs';

const outputs = (s) => s.requests.map((r) => r.output_tokens);

// Steps one at a time until pred(state) holds; returns that state (the step is selected).
async function stepUntil(page, pred, what, maxSteps = 300) {
  for (let i = 0; i < maxSteps; ++i) {
    const r = await act(page, 'step', {});
    assert.equal(r.ok, true, r.error);
    if (pred(r.state)) return r.state;
    if (r.state.done) break;
  }
  throw new Error(`no step showed ${what}`);
}

// The panels draw one frame after an action; wait for it, then read what they drew.
async function drawn(page) {
  const f = (await state(page)).frame;
  return waitForState(page, `window.cblab.state().frame > ${f + 1}`);
}

const cellCentre = (t, step, lane) => [t.x0 + (step - t.first_step + 0.5) * t.cell_w, t.y0 + (lane + 0.5) * t.lane_h];
const blockCentre = (kv, b) => [kv.x0 + (b % kv.cols + 0.5) * kv.pitch, kv.y0 + (Math.floor(b / kv.cols) + 0.5) * kv.pitch];

test('pressure: preempted cells are drawn and explained, and resumed requests produce the unpressured tokens', async () => {
  const { page, close } = await openPage();
  try {
    let r = await act(page, 'load_scenario', { name: 'pressure' });
    assert.equal(r.ok, true, r.error);
    let s = await stepUntil(page, (x) => x.selected.preempted.length > 0, 'a preemption');
    const p = s.selected.preempted[0];
    assert.match(p.reason, /^(decode|prefill)_needs_block$/);
    assert.ok(p.tokens_lost > 0, 'a running request had computed tokens to lose');
    assert.equal(s.selected.activities[p.request], 'preempted');
    assert.equal(s.requests[p.request].state, 'preempted');

    // The timeline drew a preemption mark for every victim of the step, and hovering it shows
    // the reason and the tokens lost.
    s = await drawn(page);
    const t = s.geometry.timeline;
    for (const v of s.selected.preempted)
      assert.ok(t.preempted_drawn.some(([step, req]) => step === s.step && req === v.request),
                `the timeline drew #${v.request}'s preemption at step ${s.step}`);
    const [x, y] = cellCentre(t, s.step, p.request);
    s = await hover(page, x, y, `window.cblab.state().hover.request === ${p.request} && window.cblab.state().hover.step === ${s.step}`);
    assert.ok(s.tooltip.some((l) => l.startsWith(`preempted (${p.reason})`)), s.tooltip.join('\n'));
    assert.ok(s.tooltip.includes(`${p.tokens_lost} computed tokens lost: recomputed when it is admitted again`), s.tooltip.join('\n'));
    assertNotBlank(await windowShot(page, 'Schedule timeline', 'panel-timeline-preemption'));

    // Run to the end: the metrics count the preemptions, the plot shows the same total.
    s = (await act(page, 'run', {})).state;
    assert.equal(s.done, true);
    assert.ok(s.metrics.preemptions > 0 && s.metrics.tokens_lost > 0);
    assert.equal(s.metrics.preemptions, s.requests.reduce((a, q) => a + q.num_preemptions, 0));
    s = await drawn(page);
    assert.equal(s.geometry.metrics.preemptions, s.metrics.preemptions, 'the plot ends at the total');
    await page.mouse.move(5, 790);
    assertNotBlank(await windowShot(page, 'Metrics', 'panel-metrics-pressure'), 15, 0.02);
    const pressured = outputs(s);

    // The same requests with room for everything (greedy): exactly the same tokens.
    r = await act(page, 'set_config', { engine: { num_blocks: 512, reserve_full_kv: true } });
    assert.equal(r.ok, true, r.error);
    s = (await act(page, 'run', {})).state;
    assert.equal(s.metrics.preemptions, 0);
    assert.deepEqual(pressured, outputs(s), 'preempted-and-resumed requests produce the same tokens');
  } finally {
    await close();
  }
});

test('shared prompt: prefix hits, shared blocks and free-but-cached blocks are drawn; caching changes no token', async () => {
  const { page, close } = await openPage();
  try {
    let r = await act(page, 'load_scenario', { name: 'shared' });
    assert.equal(r.ok, true, r.error);
    // A later request finds the system prompt's 7 full blocks (56 tokens) in the cache (the
    // first ones arrive while it is still being computed, and find fewer).
    let s = await stepUntil(page, (x) => x.selected.prefix_hits.some((h) => h.cached_tokens >= 56), 'a full prefix hit');
    const hit = s.selected.prefix_hits.find((h) => h.cached_tokens >= 56);
    assert.equal(hit.cached_tokens, 56);
    assert.ok(s.selected.shared_blocks.length >= 7, 'the prompt blocks are shared (ref count > 1)');
    s = await drawn(page);
    assert.deepEqual(s.geometry.kv.shared_drawn, s.selected.shared_blocks, 'the grid drew every shared block');
    assert.deepEqual(s.geometry.kv.prefix_hits_shown,
                     s.selected.prefix_hits.map((h) => [h.request, h.cached_tokens, h.queried_tokens]));

    // Hovering a shared block names every request whose table holds it.
    const b = s.selected.shared_blocks[0];
    const holders = Object.entries(s.selected.block_tables).filter(([, t]) => t.includes(b)).map(([q]) => Number(q));
    assert.ok(holders.length >= 2);
    s = await hover(page, ...blockCentre(s.geometry.kv, b), `window.cblab.state().hover.block === ${b}`);
    for (const q of holders)
      assert.ok(s.tooltip.some((l) => l.startsWith(`block ${b}: request #${q} `)), s.tooltip.join('\n'));
    assert.ok(s.tooltip.some((l) => l.includes('(shared: one copy of K/V)')), s.tooltip.join('\n'));
    assertNotBlank(await windowShot(page, 'Paged KV cache', 'panel-paged-kv-shared'));

    // Between the groups (step 39): everyone has finished; the prompt's blocks are free but
    // still cached, drawn as such.
    s = (await act(page, 'step', { n: 39 - s.step })).state;
    assert.equal(s.step, 39);
    assert.equal(s.counts.running, 0);
    assert.ok(s.selected.cached_free_blocks.length >= 7, 'the prompt blocks stay cached when free');
    s = await drawn(page);
    assert.deepEqual(s.geometry.kv.cached_free_drawn, s.selected.cached_free_blocks);
    const cached = s.selected.cached_free_blocks[0];
    s = await hover(page, ...blockCentre(s.geometry.kv, cached), `window.cblab.state().hover.block === ${cached}`);
    assert.ok(s.tooltip.some((l) => l.startsWith('still in the prefix cache')), s.tooltip.join('\n'));
    assertNotBlank(await windowShot(page, 'Paged KV cache', 'panel-paged-kv-cached'));

    // Step 40: the late group takes them back — hits, and the free-but-cached blocks in use again.
    s = (await act(page, 'step', {})).state;
    const late = s.selected.prefix_hits.filter((h) => h.cached_tokens === 56);
    assert.ok(late.length >= 1, 'the late group hits the cached prompt');
    s = (await act(page, 'run', {})).state;
    assert.ok(s.metrics.prefix_cache_hit_rate > 0);
    s = await drawn(page);
    assert.ok(Math.abs(s.geometry.metrics['prefix hit %'] - 100 * s.metrics.prefix_cache_hit_rate) < 1e-3);
    const withCache = outputs(s);
    const blocksWith = s.metrics.max_kv_utilization;

    r = await act(page, 'set_config', { engine: { prefix_caching: false } });
    assert.equal(r.ok, true, r.error);
    s = (await act(page, 'run', {})).state;
    assert.equal(s.metrics.prefix_cache_hit_rate, 0);
    assert.deepEqual(withCache, outputs(s), 'prefix caching changes no token');
    assert.ok(s.metrics.max_kv_utilization > blocksWith, 'sharing used fewer blocks at the peak');
  } finally {
    await close();
  }
});

test('priority: urgent requests jump the queue, and every victim is a background request', async () => {
  const { page, close } = await openPage();
  try {
    const r = await act(page, 'load_scenario', { name: 'priority' });
    assert.equal(r.ok, true, r.error);
    let s = (await act(page, 'run', {})).state;
    assert.equal(s.done, true);
    const prio = s.requests.map((q) => q.priority);
    assert.deepEqual([...new Set(prio)].sort(), [0, 5]);
    assert.ok(s.metrics.preemptions > 0, 'the pool runs out');
    const victims = [];
    for (let step = 0; step < s.num_steps; ++step) {
      const x = (await act(page, 'select_step', { step })).state;
      victims.push(...x.selected.preempted.map((p) => p.request));
    }
    assert.ok(victims.length > 0);
    assert.ok(victims.every((v) => prio[v] === 5), `victims ${victims} are background requests`);
    const finish = (p) => s.requests.filter((q) => q.priority === p).map((q) => q.finish_step);
    assert.ok(Math.max(...finish(0)) < Math.max(...finish(5)), 'the urgent requests finish first');
    s = await drawn(page);
    await page.mouse.move(5, 790);
    assertNotBlank(await windowShot(page, 'Requests', 'panel-requests-priority'), 15, 0.02);
  } finally {
    await close();
  }
});

test('parallel: n = 4 samples share their prompt\'s full blocks, are named id#k, and draw their own tokens', async () => {
  const { page, close } = await openPage();
  try {
    let r = await act(page, 'load_scenario', { name: 'parallel' });
    assert.equal(r.ok, true, r.error);
    // 3 requests x 4 samples + 1 ordinary request = 13 sequences, samples named r00#0..r00#3.
    let s = r.state;
    assert.equal(s.requests.length, 13);
    assert.deepEqual(s.requests.slice(0, 4).map((q) => q.name), ['r00#0', 'r00#1', 'r00#2', 'r00#3']);
    assert.ok(s.requests.slice(0, 4).every((q) => q.id === 'r00'));
    // Once sample 0 has computed the prompt, its siblings share its full blocks: the grid
    // shows blocks held by 4 tables (one copy of K/V), never a shared block being written.
    s = await stepUntil(page, (x) => x.selected.shared_blocks.length > 0, 'a shared prompt block');
    const b = s.selected.shared_blocks[0];
    const holders = Object.entries(s.selected.block_tables).filter(([, t]) => t.includes(b)).map(([q]) => Number(q));
    assert.ok(holders.length >= 2 && holders.every((q) => s.requests[q].id === s.requests[holders[0]].id),
              `block ${b} is shared by samples of one request: ${holders}`);
    s = await drawn(page);
    assert.deepEqual(s.geometry.kv.shared_drawn, s.selected.shared_blocks, 'the grid drew every shared block');
    assertNotBlank(await windowShot(page, 'Paged KV cache', 'panel-paged-kv-parallel'));
    s = (await act(page, 'run', {})).state;
    assert.equal(s.done, true);
    const sampled = s.requests.slice(0, 4).map((q) => q.output_tokens);
    assert.ok(new Set(sampled.map((t) => t.join())).size > 1, 'different samples draw different tokens');
  } finally {
    await close();
  }
});

test('abort: the button aborts a running request, its blocks are freed, the timeline marks it, the engine goes on', async () => {
  const { page, close } = await openPage();
  try {
    let r = await act(page, 'step', { n: 5 });
    assert.equal(r.ok, true, r.error);
    const i = r.state.requests.findIndex((q) => q.state === 'decoding' || q.state === 'prefilling');
    assert.ok(i >= 0 && r.state.selected.block_tables[String(i)], 'a running request holding blocks');
    await drawn(page);
    await clickWidget(page, `abort.${i}`);
    let s = await waitForState(page, `window.cblab.state().requests[${i}].finish_reason === 'abort'`);
    assert.equal(s.requests[i].state, 'finished');
    s = (await act(page, 'step', {})).state;
    assert.deepEqual(s.selected.aborted, [i]);
    assert.equal(s.selected.activities[i], 'aborted');
    assert.equal(s.selected.block_tables[String(i)], undefined, 'it holds no block');
    assert.equal(s.metrics.aborted, 1);
    s = await drawn(page);
    assert.ok(s.geometry.timeline.aborted_drawn.some(([step, q]) => step === s.step && q === i));
    // Aborting it again is refused, and the page keeps working.
    assert.match((await act(page, 'abort_request', { index: i })).error, /already finished/);
    assert.match((await act(page, 'abort_request', { index: 999 })).error, /index = 999: allowed an integer in 0\.\.23/);
    s = (await act(page, 'run', {})).state;
    assert.equal(s.done, true);
    assert.equal(s.requests.filter((q) => q.finish_reason === 'abort').length, 1);
  } finally {
    await close();
  }
});

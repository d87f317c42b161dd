// The page starts on a scenario, runs the real engine with the wasm kernels, and the JS API
// rejects bad arguments without changing anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openPage, state, act, waitForState, screenshot, assertNotBlank, shotsDir } from './browser.mjs';

test('the page starts on the chat scenario with the wasm kernels and draws every panel', async () => {
  const { page, close } = await openPage();
  try {
    const s = await state(page);
    assert.match(s.version, /^\d+\.\d+\.\d+$/);
    assert.equal(s.arch, 'wasm', 'the page runs the simd128 kernels');
    assert.deepEqual(s.archs, ['wasm', 'scalar']);
    assert.equal(s.num_requests, 24, 'the chat scenario has 24 requests');
    assert.equal(s.step, -1, 'nothing has run yet');
    for (const title of ['Controls', 'Workload', 'Schedule timeline', 'Ragged batch', 'Paged KV cache',
                         'Requests', 'Attention', 'Metrics', 'Log'])
      assert.ok(s.widgets[`window.${title}`], `the ${title} panel is drawn`);

    // Run a few steps so the picture has content, then a full-page screenshot for the README.
    const r = await act(page, 'step', { n: 14 });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.state.step, 13);
    assert.ok(r.state.selected.compute_us >= 0 && r.state.selected.budget_used > 0);
    await waitForState(page, 'window.cblab.state().frame > 3');
    const shot = await screenshot(page, 'web-foundation');
    assertNotBlank(shot, 60, 0.3);
  } finally {
    await close();
  }
});

test('the JS API reports bad arguments instead of aborting, and changes nothing', async () => {
  const { page, close } = await openPage();
  try {
    await act(page, 'step', { n: 3 });
    const before = await state(page);
    const bad = await act(page, 'select_step', { step: 99 });
    assert.equal(bad.ok, false);
    assert.match(bad.error, /step = 99: allowed an integer in 0\.\.2/);
    const unknown = await act(page, 'fly', {});
    assert.match(unknown.error, /unknown action 'fly'/);
    const arch = await act(page, 'set_arch', { name: 'avx512' });
    assert.equal(arch.ok, false);
    assert.match(arch.error, /avx512/);
    const after = await state(page);
    assert.equal(after.step, before.step, 'a rejected action leaves the selection');
    assert.equal(after.num_steps, before.num_steps);
    assert.equal(after.arch, 'wasm');
    assert.ok(after.error, 'the last error is shown on the page');
  } finally {
    await close();
  }
});

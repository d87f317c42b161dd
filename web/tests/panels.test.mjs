// Clicking through the panels: the Step / Step back buttons, a click on the timeline, hovering
// a KV block and the ragged mask — each changes the app's state as it should — and a
// screenshot of every panel, checked not blank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openPage, state, act, waitForState, clickWidget, hover, windowShot, assertNotBlank, repo } from './browser.mjs';

const workload = fs.readFileSync(path.join(repo, 'web/tests/data/web_workload.json'), 'utf8');

test('step, step back, select a step on the timeline, hover a block and the mask', async () => {
  const { page, close } = await openPage();
  try {
    assert.equal((await act(page, 'load_workload', { json: workload })).ok, true);
    for (let i = 0; i < 6; ++i) {
      await clickWidget(page, 'Step');
      await waitForState(page, `window.cblab.state().step === ${i}`);
    }
    // Step back shows the kept past: the engine does not run again.
    await clickWidget(page, 'Step back');
    let s = await waitForState(page, 'window.cblab.state().step === 4');
    assert.equal(s.num_steps, 6, 'stepping back re-runs nothing');
    // Step while viewing the past replays the record instead of running a new step.
    await clickWidget(page, 'Step');
    s = await waitForState(page, 'window.cblab.state().step === 5');
    assert.equal(s.num_steps, 6);

    // A click on the timeline's column 2 selects step 2 everywhere.
    const t = s.geometry.timeline;
    await page.mouse.click(t.x0 + 2.5 * t.cell_w, t.y0 + 0.5 * t.lane_h);
    s = await waitForState(page, 'window.cblab.state().step === 2');
    assert.equal(s.selected.step, 2);
    assert.match(s.selected.log_line, /^\[step 2\] /);

    // The page's block tables agree with the engine's batch metadata for every batch row.
    const b = s.selected.batch;
    b.requests.forEach((req, row) => {
      const used = Math.ceil(b.context_lens[row] / s.config.engine.block_size);
      const fromBatch = b.block_tables.slice(row * b.max_blocks_per_seq, row * b.max_blocks_per_seq + used);
      assert.deepEqual(s.selected.block_tables[String(req)].slice(0, used), fromBatch, `block table of #${req}`);
    });

    // The Attention panel shows the selected step's first row: its new tokens over every key
    // it may see; rows are softmax rows (sum 1) and masked keys carry exactly 0.
    const a = s.geometry.attention;
    assert.equal(a.step, 2);
    assert.equal(a.request, b.requests[0]);
    const row0 = b.positions.filter((_, t) => b.token_request[t] === a.request);
    assert.equal(a.num_queries, row0.length);
    assert.equal(a.first_position, Math.min(...row0));
    assert.equal(a.num_keys, Math.max(...row0) + 1, 'keys: the cached prefix and the new tokens');
    assert.ok(a.max_row_sum_error < 1e-5, `rows sum to 1 (error ${a.max_row_sum_error})`);
    assert.equal(a.masked_nonzero, 0, 'masked keys get exactly zero weight');
    assertNotBlank(await windowShot(page, 'Attention', 'panel-attention'));

    // Hover a block the first batch request owns: the app reports the block and its owner.
    const req = b.requests[0], block = s.selected.block_tables[String(req)][0];
    const kv = s.geometry.kv;
    s = await hover(page, kv.x0 + (block % kv.cols + 0.5) * kv.pitch, kv.y0 + (Math.floor(block / kv.cols) + 0.5) * kv.pitch,
                    `window.cblab.state().hover.block === ${block}`);
    assert.equal(s.hover.request, req, 'hovering a block highlights its owner');
    const kvShot = await windowShot(page, 'Paged KV cache', 'panel-paged-kv');
    assertNotBlank(kvShot);

    // Hover the mask's last query row: the app reports that token and its request.
    const m = s.geometry.mask, last = m.T - 1;
    s = await hover(page, m.x0 + 0.5 * m.cell_w, m.y0 + (last + 0.5) * m.cell_h,
                    `window.cblab.state().hover.token === ${last}`);
    assert.equal(s.hover.request, b.token_request[last]);
    assertNotBlank(await windowShot(page, 'Ragged batch', 'panel-ragged-batch'));

    await page.mouse.move(5, 790);
    for (const [title, name] of [['Controls', 'panel-controls'], ['Workload', 'panel-workload'],
                                 ['Schedule timeline', 'panel-timeline'], ['Requests', 'panel-requests'],
                                 ['Metrics', 'panel-metrics'], ['Log', 'panel-log']])
      assertNotBlank(await windowShot(page, title, name), 15, 0.02);
  } finally {
    await close();
  }
});

test('the keyboard steps, Run plays until done, and a history cap drops the oldest steps', async () => {
  const { page, close } = await openPage();
  try {
    assert.equal((await act(page, 'load_workload', { json: workload })).ok, true);
    await page.locator('#canvas').focus();
    await page.keyboard.press('ArrowRight');
    await waitForState(page, 'window.cblab.state().step === 0');
    await page.keyboard.press('ArrowRight');
    await waitForState(page, 'window.cblab.state().step === 1');
    await page.keyboard.press('ArrowLeft');
    let s = await waitForState(page, 'window.cblab.state().step === 0');
    assert.equal(s.num_steps, 2);

    // Run (the button) plays at the chosen speed until every request has finished.
    await act(page, 'set_speed', { steps_per_second: 60 });
    await clickWidget(page, 'Run');
    s = await waitForState(page, 'window.cblab.state().done && !window.cblab.state().playing');
    assert.equal(s.step, s.num_steps - 1, 'the selection followed the head');

    // Keep only 5 steps: the oldest are dropped and the page says so.
    const r = await act(page, 'set_config', { max_history: 5 });
    assert.equal(r.ok, true, r.error);
    s = (await act(page, 'run', {})).state;
    assert.equal(s.first_kept_step, s.num_steps - 5);
    assert.equal(s.dropped_steps, s.num_steps - 5);
    const old = await act(page, 'select_step', { step: 0 });
    assert.match(old.error, new RegExp(`step = 0: allowed an integer in ${s.num_steps - 5}\\.\\.${s.num_steps - 1}`));
    // Step back stops at the oldest kept step.
    await act(page, 'select_step', { step: s.first_kept_step });
    assert.match((await act(page, 'step_back', {})).error, /oldest kept step/);
  } finally {
    await close();
  }
});

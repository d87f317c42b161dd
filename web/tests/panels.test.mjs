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

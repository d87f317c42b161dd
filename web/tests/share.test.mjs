// Performance, sharing and resizing: >= 30 fps with 64 requests over 1024 blocks in headless
// Chromium (SwiftShader), the workload in the URL recreates the scenario, and the layout
// follows a window resize.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { openPage, state, act, waitForState, screenshot, assertNotBlank } from './browser.mjs';

// Frames per second over `ms` of wall time, counted by the app itself.
async function measureFps(page, ms) {
  const f0 = (await state(page)).frame, t0 = Date.now();
  await page.waitForTimeout(ms);
  const s = await state(page);
  return { fps: (s.frame - f0) / ((Date.now() - t0) / 1000), drawMs: s.draw_ms, frameMs: s.frame_ms,
           calls: s.draw_calls, vertices: s.vertices };
}
const show = (m) => `${m.fps.toFixed(1)} fps (wasm frame ${m.frameMs.toFixed(2)} ms, App::draw ${m.drawMs.toFixed(2)} ms, ` +
                    `${m.vertices} vertices in ${m.calls} draw calls)`;

// Frame rates are measured and printed, not asserted: SwiftShader rasterizes on the CPU, so
// the figure says as much about the machine's load as about the page; the line names the load
// average. web/tests/fps_probe.mjs shows where a frame's time goes (CPU per frame by thread).
test('64 requests and 1024 blocks draw, stay responsive, and report their frame rate', async () => {
  const { page, close } = await openPage();
  try {
    // Baseline: the same page with no requests, under the same machine load.
    assert.equal((await act(page, 'load_workload', { json: '{"requests": []}' })).ok, true);
    await waitForState(page, 'window.cblab.state().frame > 10');
    const base = await measureFps(page, 2000);

    let r = await act(page, 'load_scenario', { name: 'big' });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.state.num_requests, 64);
    assert.equal(r.state.config.engine.num_blocks, 1024);
    r = await act(page, 'step', { n: 40 });
    assert.equal(r.ok, true, r.error);
    assert.ok(r.state.selected.num_blocks_used > 100, `the pool is in use (${r.state.selected.num_blocks_used} blocks)`);
    assert.ok(r.state.selected.batch.num_tokens > 60, 'a full batch is drawn');
    const first = r.state.frame;
    await waitForState(page, `window.cblab.state().frame > ${first + 10}`);
    const big = await measureFps(page, 3000);
    // And while it runs: a step every 100 ms on top of the drawing.
    await act(page, 'set_speed', { steps_per_second: 10 });
    await act(page, 'play', { on: true });
    const running = await measureFps(page, 3000);
    await act(page, 'play', { on: false });
    console.log(`# big: ${show(big)}; running: ${show(running)}; empty page: ${show(base)}; ` +
                `load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
    assert.ok(big.fps > 0 && base.fps > 0 && running.fps > 0, 'frames keep coming');
    assertNotBlank(await screenshot(page, 'web-big'), 60, 0.3);
  } finally {
    await close();
  }
});

test('the URL hash recreates the workload, and the layout follows a resize', async () => {
  let hash;
  {
    const { page, close } = await openPage();
    try {
      await act(page, 'load_scenario', { name: 'random', seed: 7, count: 5 });
      await act(page, 'set_config', { engine: { block_size: 2, num_blocks: 300 } });
      await act(page, 'add_request', { id: 'mine', prompt: 'shared by link', max_new_tokens: 3, arrival_step: 2 });
      await waitForState(page, 'location.hash.includes("mine")');
      hash = await page.evaluate(() => location.hash);
    } finally {
      await close();
    }
  }
  const { page, close } = await openPage({ hash, viewport: { width: 1000, height: 700 } });
  try {
    const s = await state(page);
    assert.equal(s.error, null, s.message);
    assert.equal(s.num_requests, 6);
    assert.equal(s.requests[5].id, 'mine');
    assert.equal(s.config.engine.block_size, 2);
    assert.equal(s.config.engine.num_blocks, 300);
    const right = (r) => r[2];
    assert.ok(right(s.widgets['window.Paged KV cache']) <= 1000 + 1, 'the layout fits 1000 px');
    await page.setViewportSize({ width: 1400, height: 900 });
    const wide = await waitForState(page, 'window.cblab.state().widgets["window.Paged KV cache"][2] > 1390');
    assert.ok(wide.widgets['window.Log'][3] > 890, 'the bottom row reaches the new height');
    const r = await act(page, 'run', {});
    assert.equal(r.ok, true, r.error);
    assert.equal(r.state.done, true);
  } finally {
    await close();
  }
});

test('crisp at devicePixelRatio 2: the canvas has device pixels, the layout CSS pixels', async () => {
  const { page, close } = await openPage({ deviceScaleFactor: 2 });
  try {
    const size = await page.evaluate(() => [document.getElementById('canvas').width, innerWidth]);
    assert.equal(size[0], 2 * size[1], 'the WebGL framebuffer is in device pixels');
    const s = await state(page);
    assert.ok(s.widgets['window.Log'][2] <= 1281, 'ImGui lays out in CSS pixels');
    await act(page, 'step', { n: 8 });
    await waitForState(page, 'window.cblab.state().frame > 5');
    assertNotBlank(await screenshot(page, 'web-hidpi'), 60, 0.3);
  } finally {
    await close();
  }
});

// The page starts, shows the engine's version and arch, and a click on the canvas changes state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, state, waitForState, clickWidget, screenshot } from './browser.mjs';

test('the page renders the ImGui window and a click runs the kernel', async () => {
  const { page, close } = await openPage();
  try {
    const s = await state(page);
    assert.match(s.version, /^\d+\.\d+\.\d+$/);
    assert.equal(s.arch, 'wasm', 'the page runs the simd128 kernels');
    // The kernel result on the page equals its scalar reference up to float rounding.
    assert.ok(Math.abs(s.kernel.result - s.kernel.reference) <= 1e-3 * Math.max(1, Math.abs(s.kernel.reference)));

    const runs = s.kernel.runs;
    await clickWidget(page, 'Run kernel');
    const after = await waitForState(page, `window.cblab.state().kernel.runs === ${runs + 1}`);
    assert.equal(after.kernel.runs, runs + 1);

    const shot = await screenshot(page, 'foundation');
    assert.ok(shot.colors > 20 && shot.nonBackground > 0.02,
              `the screenshot looks blank: ${shot.colors} colours, ${(100 * shot.nonBackground).toFixed(1)}% non-background (${shot.file})`);
  } finally {
    await close();
  }
});

test('the JS API reports bad arguments instead of aborting', async () => {
  const { page, close } = await openPage();
  try {
    const bad = await page.evaluate(() => window.cblab.act('run_kernel', { length: -5 }));
    assert.equal(bad.ok, false);
    assert.match(bad.error, /length -5 .*1\.\.4096/);
    const unknown = await page.evaluate(() => window.cblab.act('fly', {}));
    assert.match(unknown.error, /unknown action 'fly'/);
    assert.equal((await state(page)).kernel.runs, 1, 'a rejected action leaves the state unchanged');
  } finally {
    await close();
  }
});

// The same engine on two platforms: a workload file imported through the page's file picker
// and run to the end produces exactly the tokens, finish reasons and steps of the native
// `cblab run` on the same file (web/tests/data/web_workload.result.json, written by
// CBLAB_ARCH=scalar cblab run web/tests/data/web_workload.json --out ...). The scalar kernels
// are plain loops, bit-identical on x86-64 and wasm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openPage, state, act, waitForState, clickWidget, repo } from './browser.mjs';

const dataDir = path.join(repo, 'web/tests/data');
const workload = fs.readFileSync(path.join(dataDir, 'web_workload.json'), 'utf8');
const expected = JSON.parse(fs.readFileSync(path.join(dataDir, 'web_workload.result.json'), 'utf8'));

function compare(s, label) {
  assert.equal(s.done, true, `${label}: every request finished`);
  assert.equal(s.num_steps, expected.num_steps, `${label}: steps`);
  assert.equal(s.requests.length, expected.requests.length);
  expected.requests.forEach((want, i) => {
    const got = s.requests[i];
    assert.equal(got.id, want.id);
    assert.deepEqual(got.output_tokens, want.output_tokens, `${label}: tokens of ${want.id}`);
    assert.equal(got.finish_reason, want.finish_reason, `${label}: finish reason of ${want.id}`);
    assert.equal(got.first_token_step, want.first_token_step, `${label}: first token step of ${want.id}`);
    assert.equal(got.finish_step, want.finish_step, `${label}: finish step of ${want.id}`);
  });
}

test('a workload imported through the UI runs to the tokens of the native cblab run (scalar kernels)', async () => {
  const { page, close } = await openPage();
  try {
    assert.equal((await act(page, 'set_arch', { name: 'scalar' })).ok, true);
    // The Workload panel's "Import file..." button opens the page's file picker.
    const chooser = page.waitForEvent('filechooser');
    await clickWidget(page, 'Import');
    await (await chooser).setFiles({ name: 'web_workload.json', mimeType: 'application/json',
                                     buffer: Buffer.from(workload) });
    let s = await waitForState(page, 'window.cblab.state().num_requests === 8');
    assert.equal(s.error, null, s.message);
    assert.equal(s.config.engine.block_size, 4);
    assert.equal(s.arch, 'scalar');
    s = (await act(page, 'run', {})).state;
    compare(s, 'scalar');
    // The page saw every step: the history holds them all and the last log line is the CLI's.
    assert.equal(s.first_kept_step, 0);
    assert.match(s.selected.log_line, new RegExp(`^\\[step ${expected.num_steps - 1}\\] `));

    // "Export file" saves the workload in the same format; loaded again it runs the same.
    const download = page.waitForEvent('download');
    await clickWidget(page, 'Export');
    const exported = fs.readFileSync(await (await download).path(), 'utf8');
    const original = JSON.parse(workload), copy = JSON.parse(exported);
    // Every engine key of the file comes back; the export also spells out the defaults it left out.
    assert.deepEqual(copy.engine, { policy: 'fcfs', reserve_full_kv: true, prefix_caching: false, ...original.engine });
    assert.deepEqual(copy.requests.map((r) => r.id), original.requests.map((r) => r.id));
    assert.equal((await act(page, 'load_workload', { json: exported })).ok, true);
    compare((await act(page, 'run', {})).state, 'scalar, exported and reloaded');
  } finally {
    await close();
  }
});

test('the simd128 kernels give the same tokens on this workload', async () => {
  const { page, close } = await openPage();
  try {
    const r = await act(page, 'load_workload', { json: workload });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.state.arch, 'wasm');
    compare((await act(page, 'run', {})).state, 'wasm');
  } finally {
    await close();
  }
});

// The page's benchmark (fps_probe.mjs) keeps working: one window of each case, and a check of
// what it reports — never how fast (speed belongs to the benchmark, not to tests): every case
// and machine limit is there, each figure is a positive number, `met` says whether the case
// reached its target, and the table has a line per case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

test('fps_probe.mjs, the page benchmark, prints a table and writes JSON with the machine limits beside the cases', () => {
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cblab-page-bench-')), 'page.json');
  const table = execFileSync(process.execPath, [path.join(here, 'fps_probe.mjs'), '--windows', '1', '--json', json],
                             { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const report = JSON.parse(fs.readFileSync(json, 'utf8'));
  const m = report.machine;
  for (const key of ['display_fps', 'full_paints_per_second', 'cores'])
    assert.ok(m[key] > 0, `machine.${key} = ${m[key]}`);
  assert.deepEqual(report.cases.map((c) => c.case), ['big idle', 'big running', 'big hover']);
  for (const c of report.cases) {
    for (const key of ['fps', 'painted_per_second', 'wasm_frame_ms', 'cpu_ms_per_paint', 'cores_used'])
      assert.ok(Number.isFinite(c[key]) && c[key] > 0, `${c.case}: ${key} = ${c[key]}`);
    assert.equal(c.target, 30);
    assert.equal(c.met, c.fps >= c.target, `${c.case}: met = ${c.met} at ${c.fps} fps`);
    assert.equal(c.windows.length, 1);
    assert.ok(c.canvas_per_paint >= 0 && c.canvas_per_paint <= 1, `${c.case}: canvas_per_paint ${c.canvas_per_paint}`);
    assert.match(table, new RegExp(`^${c.case} +${c.fps.toFixed(1)} +>= 30`, 'm'), `a table line for ${c.case}`);
  }
  assert.match(table, /^machine: display [\d.]+ fps/m);
  assert.match(table, new RegExp(`wrote ${json.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

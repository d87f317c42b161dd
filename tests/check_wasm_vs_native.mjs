// ctest script: tools/wasm-vs-native.mjs takes its turns and reports what it measured. This
// build's cblab stands on both sides, for two quick rounds of the GEMM cases: the check is of
// the tool, not of any speed — every case has a figure from each side, its ratio is their
// quotient, each side's probes are there once per round, and the table has a line per case.
// A bad argument exits 2 naming it.
// Usage: node check_wasm_vs_native.mjs OUT_DIR CBLAB
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [outDir, cblab] = process.argv.slice(2);
const tool = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../tools/wasm-vs-native.mjs');
const jsonFile = path.join(outDir, 'wasm_vs_native_check.json');
const table = execFileSync(process.execPath, [tool, '--quick', '--rounds', '2', '--kind', 'gemm', '--native', cblab,
                                              '--wasm', cblab, '--json', jsonFile],
                           { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };
const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

check(report.rounds === 2, `rounds ${report.rounds}, asked for 2`);
for (const side of ['native', 'wasm'])
  check(report[side].machines.length === 2 && report[side].machines.every((m) => m.fma_gflops > 0 && m.read_gbps > 0),
        `${side}: ${report[side].machines.length} probes, expected one per round, each positive`);
check(report.cases.length > 0, 'no cases');
for (const c of report.cases) {
  check(c.kind === 'gemm', `${c.shape}: kind ${c.kind}, asked for gemm only`);
  check(c.native > 0 && c.wasm > 0, `${c.shape}: figures ${c.native} and ${c.wasm}`);
  check(close(c.ratio, c.wasm / c.native), `${c.shape}: ratio ${c.ratio}, its figures give ${c.wasm / c.native}`);
  check(c.ratio_min <= c.ratio_max, `${c.shape}: per-round ratios ${c.ratio_min}..${c.ratio_max}`);
  check(c.target === null && c.met === null, `${c.shape}: GEMM has no target, got ${c.target}`);
}
const rows = table.split('\n').filter((line) => /^gemm /.test(line));
check(rows.length === report.cases.length, `the table has ${rows.length} case lines, the JSON ${report.cases.length}`);

const bad = spawnSync(process.execPath, [tool, '--rounds', '0'], { encoding: 'utf8' });
check(bad.status === 2 && bad.stderr.startsWith('wasm-vs-native: --rounds 0 is not a whole number of at least 1'),
      `--rounds 0: exit ${bad.status}, stderr ${JSON.stringify(bad.stderr)}`);

if (problems.length) { console.error(`NOT OK:\n${problems.join('\n')}`); process.exit(1); }
console.log(`OK: ${report.cases.length} GEMM cases, 2 rounds a side (${report.native.arch} against ${report.wasm.arch})`);

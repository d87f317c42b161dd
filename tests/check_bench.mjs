// ctest script: runs `cblab bench --quick --threads 1 --json FILE` and checks what it reports —
// not how fast anything is (speed belongs to the bench, not to tests), but that every figure
// is computed from its case: GB/s and GFLOP/s equal the case's bytes and flops over its time,
// each ratio is its figure over the machine limit that bounds its kind (and decode's also over
// how fast its blocks read in table order), every kind and arch is
// there, the table has a line per case, and --kind / --arch keep only the cases asked for.
// Usage: node check_bench.mjs OUT_DIR [EMULATOR] CBLAB
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [outDir, ...command] = process.argv.slice(2);
const jsonFile = path.join(outDir, 'bench_check.json');
const table = execFileSync(command[0], [...command.slice(1), 'bench', '--quick', '--threads', '1', '--json', jsonFile],
                           { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };
const close = (a, b) => Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));

const m = report.machine;
check(m.read_gbps > 0 && m.fma_gflops > 0, `machine limits must be positive: ${JSON.stringify(m)}`);
check(typeof m.read_arch === 'string' && m.read_arch !== 'scalar' && m.read_arch.length > 0,
      `the read probe names the SIMD arch whose loads it kept: ${m.read_arch}`);
check(report.cases.length > 0, 'no cases');
for (const kind of ['decode', 'prefill', 'gemm'])
  check(report.cases.some((c) => c.kind === kind && c.arch === m.arch), `no ${kind} case on the machine's arch ${m.arch}`);
check(report.cases.some((c) => c.arch === 'scalar'), 'no case on the scalar reference');

for (const c of report.cases) {
  const name = `${c.kind} ${c.arch} ${c.label ?? `q=${c.queries} Hkv=${c.num_kv_heads} D=${c.head_dim} C=${c.context}`}`;
  check(c.threads === 1, `${name}: ${c.threads} threads, asked for 1`);
  check(c.seconds > 0, `${name}: time ${c.seconds}`);
  let flops, bytes;
  if (c.kind === 'gemm') {
    flops = 2 * c.M * c.K * c.N;
    bytes = 4 * (c.M * c.K + c.K * c.N);
  } else {
    // Visible (query, key) pairs: each query sees the context before its chunk and, causally, its chunk.
    const pairs = c.queries * (c.context - c.queries) + (c.queries * (c.queries + 1)) / 2;
    flops = 4 * c.num_heads * c.head_dim * (c.kind === 'decode' ? c.queries * c.context : pairs);
    bytes = 2 * 4 * c.context * c.num_kv_heads * c.head_dim * (c.kind === 'decode' ? c.queries : 1);
  }
  check(close(c.gflops, flops / c.seconds / 1e9), `${name}: ${c.gflops} GFLOP/s, its flops over its time give ${flops / c.seconds / 1e9}`);
  check(close(c.gbps, bytes / c.seconds / 1e9), `${name}: ${c.gbps} GB/s, its bytes over its time give ${bytes / c.seconds / 1e9}`);
  const ratio = c.kind === 'decode' ? c.gbps / m.read_gbps : c.gflops / m.fma_gflops;
  check(close(c.ratio, ratio), `${name}: ratio ${c.ratio}, expected ${ratio}`);
  // Decode also against how fast plain loads read its blocks in table order.
  if (c.kind === 'decode')
    check(c.paged_read_gbps > 0 && close(c.ratio_paged, c.gbps / c.paged_read_gbps),
          `${name}: paged read ${c.paged_read_gbps} GB/s, ratio_paged ${c.ratio_paged}`);
  else check(!('paged_read_gbps' in c), `${name}: a paged read figure on a ${c.kind} case`);
}

const rows = table.split('\n').filter((line) => /^(decode|prefill|gemm) /.test(line));
check(rows.length === report.cases.length, `the table has ${rows.length} case lines, the JSON ${report.cases.length} cases`);
check(!table.includes('vs 1 thr'), "a 1-thread run prints no 'vs 1 thr' column");

// --kind and --arch keep only those cases: here the GEMMs on the machine's arch, the same ones.
const gemmFile = path.join(outDir, 'bench_check_gemm.json');
execFileSync(command[0], [...command.slice(1), 'bench', '--quick', '--threads', '1', '--kind', 'gemm', '--arch', m.arch,
                          '--json', gemmFile], { stdio: 'ignore' });
const only = JSON.parse(fs.readFileSync(gemmFile, 'utf8')).cases.map((c) => `${c.kind} ${c.arch} ${c.label}`);
const expected = report.cases.filter((c) => c.kind === 'gemm' && c.arch === m.arch).map((c) => `${c.kind} ${c.arch} ${c.label}`);
check(only.length > 0 && JSON.stringify(only) === JSON.stringify(expected),
      `--kind gemm --arch ${m.arch} timed [${only.join(', ')}], expected [${expected.join(', ')}]`);

if (problems.length) { console.error(`NOT OK:\n${problems.join('\n')}`); process.exit(1); }
console.log(`OK: ${report.cases.length} cases on ${new Set(report.cases.map((c) => c.arch)).size} archs, machine ${m.arch}: ` +
            `read ${m.read_gbps.toFixed(1)} GB/s (${m.read_arch} loads), FMA peak ${m.fma_gflops.toFixed(1)} GFLOP/s`);

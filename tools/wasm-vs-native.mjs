#!/usr/bin/env node
// tools/wasm-vs-native.mjs — the kernels under Node against the same kernels natively, case by
// case: decode GB/s, prefill and GEMM GFLOP/s, as `cblab bench` measures them.
//
// This machine's speed can halve for seconds to minutes at a time, so one native run and one
// wasm run, taken a minute apart, can compare a fast stretch with a slow one. Here the two
// benches take turns (native, wasm, native, wasm, ...) for a few rounds, on 1 thread, and each
// case keeps its best figure on each side: the speed each reaches when the machine lets it.
// The ratio of the two bests is printed against the targets of docs/kernels.md (decode: wasm at
// least 0.5 of native GB/s; prefill: at least 0.2 of native GFLOP/s), with the per-round ratios
// beside it to show the spread.
//
//   node tools/wasm-vs-native.mjs [--rounds N] [--kind decode|prefill|gemm ...] [--quick]
//                                 [--json FILE] [--native CBLAB] [--wasm CBLAB_JS]
//
// Defaults: 3 rounds, decode and prefill, build/native/native/cblab and build/wasm/native/cblab.js
// (tools/test.sh builds both). The native side runs the arch `cblab info` picks (the best the
// CPU has), the wasm side the one the wasm build picks (wasm+relaxed where Node has relaxed SIMD).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const usage = 'usage: node tools/wasm-vs-native.mjs [--rounds N] [--kind decode|prefill|gemm ...] [--quick] ' +
              '[--json FILE] [--native CBLAB] [--wasm CBLAB_JS]';
const TARGET = { decode: 0.5, prefill: 0.2 };
const KINDS = ['decode', 'prefill', 'gemm'];

function fail(message) {
  console.error(`wasm-vs-native: ${message}\n${usage}`);
  process.exit(2);
}

const opts = { rounds: 3, kinds: [], quick: false, json: '', native: path.join(root, 'build/native/native/cblab'),
               wasm: path.join(root, 'build/wasm/native/cblab.js') };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
  const a = args[i], value = () => (i + 1 < args.length ? args[++i] : fail(`${a} needs a value`));
  if (a === '--rounds') {
    const v = value();
    if (!/^[1-9][0-9]*$/.test(v)) fail(`--rounds ${v} is not a whole number of at least 1`);
    opts.rounds = Number(v);
  } else if (a === '--kind') {
    const v = value();
    if (!KINDS.includes(v)) fail(`--kind ${v} is not one of ${KINDS.join(', ')}`);
    opts.kinds.push(v);
  } else if (a === '--quick') opts.quick = true;
  else if (a === '--json') opts.json = value();
  else if (a === '--native') opts.native = path.resolve(value());
  else if (a === '--wasm') opts.wasm = path.resolve(value());
  else if (a === '-h' || a === '--help') { console.log(usage); process.exit(0); }
  else fail(`unknown argument '${a}'`);
}
if (opts.kinds.length === 0) opts.kinds = ['decode', 'prefill'];
if (!fs.existsSync(opts.native)) fail(`no native cblab at ${opts.native}: build it first (tools/test.sh)`);
if (!fs.existsSync(opts.wasm)) fail(`no wasm cblab.js at ${opts.wasm}: build it first (tools/test.sh)`);

// A cblab.js runs under this Node, anything else as a program (so either side can be either
// build: tests/check_wasm_vs_native.mjs puts one build on both sides).
const launch = (file) => (file.endsWith('.js') ? [process.execPath, file] : [file]);
const sides = [
  { name: 'native', command: launch(opts.native) },
  { name: 'wasm', command: launch(opts.wasm) },
];
for (const side of sides) {
  const info = execFileSync(side.command[0], [...side.command.slice(1), 'info'], { encoding: 'utf8' });
  side.arch = /^arch\s+(\S+)/m.exec(info)?.[1] ?? fail(`cannot read the arch from '${side.command.join(' ')} info'`);
}

// Runs and cases: figures[key] = { kind, shape, native: [per round], wasm: [per round] }.
const caseKey = (c) => (c.kind === 'gemm' ? `gemm ${c.label} M=${c.M} K=${c.K} N=${c.N}`
                                          : `${c.kind} q=${c.queries} H=${c.num_heads} Hkv=${c.num_kv_heads} D=${c.head_dim} C=${c.context}`);
const figure = (c) => (c.kind === 'decode' ? c.gbps : c.gflops);
const figures = new Map();
const machines = { native: [], wasm: [] };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-vs-native-'));
try {
  for (let round = 1; round <= opts.rounds; ++round)
    for (const side of sides) {
      process.stderr.write(`\r\x1b[Kround ${round}/${opts.rounds}: ${side.name} (${side.arch})...`);
      const file = path.join(tmp, `${side.name}-${round}.json`);
      const kindArgs = opts.kinds.flatMap((k) => ['--kind', k]);
      execFileSync(side.command[0], [...side.command.slice(1), 'bench', '--threads', '1', '--arch', side.arch, ...kindArgs,
                                     ...(opts.quick ? ['--quick'] : []), '--json', file], { stdio: 'ignore' });
      const report = JSON.parse(fs.readFileSync(file, 'utf8'));
      machines[side.name].push(report.machine);
      for (const c of report.cases) {
        const key = caseKey(c);
        if (!figures.has(key)) figures.set(key, { kind: c.kind, shape: key.slice(c.kind.length + 1), native: [], wasm: [] });
        figures.get(key)[side.name][round - 1] = figure(c);
      }
    }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stderr.write('\r\x1b[K');
}

const best = (xs) => Math.max(...xs.filter((x) => x > 0));
const rows = [];
for (const f of figures.values()) {
  const native = best(f.native), wasm = best(f.wasm);
  const perRound = f.native.map((n, i) => (f.wasm[i] ?? 0) / n).filter((r) => r > 0);
  const target = TARGET[f.kind] ?? null;
  rows.push({ kind: f.kind, shape: f.shape, unit: f.kind === 'decode' ? 'GB/s' : 'GFLOP/s', native, wasm, ratio: wasm / native,
              ratio_min: Math.min(...perRound), ratio_max: Math.max(...perRound), target,
              met: target === null ? null : wasm / native >= target });
}

const limits = (ms) => `read ${best(ms.map((m) => m.read_gbps)).toFixed(1)} GB/s, FMA ${best(ms.map((m) => m.fma_gflops)).toFixed(1)} GFLOP/s`;
console.log(`native ${sides[0].arch} (best probes: ${limits(machines.native)}) against wasm ${sides[1].arch} under Node ` +
            `${process.version} (${limits(machines.wasm)}); ${opts.rounds} rounds, taking turns, 1 thread; best of the rounds`);
console.log('');
console.log(`${'kind'.padEnd(8)} ${'shape'.padEnd(44)} ${'unit'.padEnd(8)} ${'native'.padStart(8)} ${'wasm'.padStart(8)} ` +
            `${'wasm/nat'.padStart(8)}  ${'per round'.padEnd(13)} target`);
for (const r of rows)
  console.log(`${r.kind.padEnd(8)} ${r.shape.padEnd(44)} ${r.unit.padEnd(8)} ${r.native.toFixed(1).padStart(8)} ` +
              `${r.wasm.toFixed(1).padStart(8)} ${r.ratio.toFixed(2).padStart(8)}  ` +
              `${`${r.ratio_min.toFixed(2)}..${r.ratio_max.toFixed(2)}`.padEnd(13)} ` +
              `${r.target === null ? '-' : `>= ${r.target} ${r.met ? 'met' : 'NOT met'}`}`);
console.log('');
for (const kind of Object.keys(TARGET)) {
  const of = rows.filter((r) => r.kind === kind);
  if (of.length) console.log(`${kind}: ${of.filter((r) => r.met).length} of ${of.length} cases at or above ${TARGET[kind]} of native`);
}
if (opts.json) {
  fs.writeFileSync(opts.json, JSON.stringify({ native: { arch: sides[0].arch, machines: machines.native },
                                               wasm: { arch: sides[1].arch, node: process.version, machines: machines.wasm },
                                               rounds: opts.rounds, cases: rows }, null, 1) + '\n');
  console.log(`wrote ${opts.json}`);
}

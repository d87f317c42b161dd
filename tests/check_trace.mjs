// ctest script: `cblab run WORKLOAD --out R --trace T --summary` writes a trace that parses as
// Chrome trace-event JSON (what Perfetto and chrome://tracing open): a traceEvents array
// whose events have ph, pid and name; one "step" event per engine step and one named track
// per request plus the engine's. Usage: node check_trace.mjs OUT_DIR WORKLOAD [EMULATOR] CBLAB
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [outDir, workload, ...command] = process.argv.slice(2);
const trace = path.join(outDir, 'trace_check.json'), result = path.join(outDir, 'trace_check_result.json');
const fail = (msg) => { console.error(`check_trace: ${msg}`); process.exit(1); };

const out = execFileSync(command[0], [...command.slice(1), 'run', workload, '--out', result,
                                      '--trace', trace, '--summary'], { encoding: 'utf8' });
if (!/steps \d+, tokens computed \d+/.test(out)) fail(`--summary did not print the totals:\n${out}`);

const { traceEvents } = JSON.parse(fs.readFileSync(trace, 'utf8'));
const { num_steps, requests } = JSON.parse(fs.readFileSync(result, 'utf8'));
if (!Array.isArray(traceEvents)) fail('traceEvents is not an array');
let steps = 0, tracks = 0;
traceEvents.forEach((e, i) => {
  for (const key of ['ph', 'pid', 'name']) if (!(key in e)) fail(`event ${i} has no '${key}'`);
  if (e.ph === 'X') {
    if (!(e.dur >= 1) || !(e.ts >= 0) || !('tid' in e)) fail(`event ${i} (${e.name}) needs ts >= 0, dur >= 1, tid`);
    if (e.cat === 'step') steps++;
  } else if (e.ph === 'M' && e.name === 'thread_name') tracks++;
});
if (steps !== num_steps) fail(`${steps} step events for ${num_steps} steps`);
if (tracks !== requests.length + 1) fail(`${tracks} tracks for ${requests.length} requests + the engine`);
console.log(`trace: ${traceEvents.length} events, ${steps} steps, ${tracks} tracks: OK`);

// ctest script: `cblab run WORKLOAD --out R --trace T --summary` writes a trace that parses as
// Chrome trace-event JSON (what Perfetto and chrome://tracing open): a traceEvents array
// whose events have ph, pid and name; one "step" event per engine step and one named track
// per sequence (a request, or each sample of a request with n > 1) plus the engine's; one
// "preemption" instant event per preemption of the result's metrics, on the victim's track,
// with its victim, reason and tokens lost — at least MIN_PREEMPTIONS of them.
// Usage: node check_trace.mjs OUT_DIR WORKLOAD MIN_PREEMPTIONS [EMULATOR] CBLAB
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [outDir, workload, minPreemptions, ...command] = process.argv.slice(2);
const name = path.basename(workload, '.json');
const trace = path.join(outDir, `trace_check_${name}.json`);
const result = path.join(outDir, `trace_check_${name}_result.json`);
const fail = (msg) => { console.error(`check_trace: ${msg}`); process.exit(1); };

const out = execFileSync(command[0], [...command.slice(1), 'run', workload, '--out', result,
                                      '--trace', trace, '--summary'], { encoding: 'utf8' });
if (!/steps \d+, tokens computed \d+/.test(out)) fail(`--summary did not print the totals:\n${out}`);

const { traceEvents } = JSON.parse(fs.readFileSync(trace, 'utf8'));
const { num_steps, requests, metrics } = JSON.parse(fs.readFileSync(result, 'utf8'));
// One track per sequence: a request, or each of its samples ("outputs") when n > 1.
const numSequences = requests.reduce((sum, r) => sum + (r.outputs ? r.outputs.length : 1), 0);
if (!Array.isArray(traceEvents)) fail('traceEvents is not an array');
let steps = 0, tracks = 0, preemptions = 0, tokensLost = 0;
const trackNames = new Map();  // tid -> "#index name"
traceEvents.forEach((e, i) => {
  for (const key of ['ph', 'pid', 'name']) if (!(key in e)) fail(`event ${i} has no '${key}'`);
  if (e.ph === 'X') {
    if (!(e.dur >= 1) || !(e.ts >= 0) || !('tid' in e)) fail(`event ${i} (${e.name}) needs ts >= 0, dur >= 1, tid`);
    if (e.cat === 'step') steps++;
  } else if (e.ph === 'M' && e.name === 'thread_name') {
    tracks++;
    if (e.pid === 2) trackNames.set(e.tid, e.args.name);
  }
});
for (const [i, e] of traceEvents.entries()) {
  if (e.ph !== 'i' || e.cat !== 'preemption') continue;
  const { victim, needed_by, reason, tokens_lost, step } = e.args ?? {};
  if (!['decode_needs_block', 'prefill_needs_block'].includes(reason)) fail(`preemption ${i}: reason ${reason}`);
  if (!(tokens_lost >= 0) || !(step >= 0) || typeof needed_by !== 'string') fail(`preemption ${i}: ${JSON.stringify(e.args)}`);
  if (!trackNames.get(e.tid)?.endsWith(` ${victim}`)) fail(`preemption ${i} of ${victim} is on track ${trackNames.get(e.tid)}`);
  preemptions++;
  tokensLost += tokens_lost;
}
if (steps !== num_steps) fail(`${steps} step events for ${num_steps} steps`);
if (tracks !== numSequences + 1) fail(`${tracks} tracks for ${numSequences} sequences + the engine`);
if (preemptions !== metrics.preemptions || tokensLost !== metrics.preempted_tokens_lost)
  fail(`${preemptions} preemption events losing ${tokensLost} tokens; the result says ` +
       `${metrics.preemptions} losing ${metrics.preempted_tokens_lost}`);
if (preemptions < Number(minPreemptions)) fail(`${preemptions} preemptions, expected at least ${minPreemptions}`);
console.log(`trace: ${traceEvents.length} events, ${steps} steps, ${tracks} tracks, ` +
            `${preemptions} preemptions (${tokensLost} tokens lost): OK`);

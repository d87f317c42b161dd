// ctest script: runs `cblab run WORKLOAD` and checks the result against a committed one —
// the same tokens, finish reasons, first-token and finish steps, and number of steps. The
// browser test checks the page against the same committed file: one engine, two platforms.
// Usage: node compare_result.mjs WORKLOAD EXPECTED [EMULATOR] CBLAB
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const [workload, expectedFile, ...command] = process.argv.slice(2);
const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
const got = JSON.parse(execFileSync(command[0], [...command.slice(1), 'run', workload], { encoding: 'utf8' }));
const keys = ['id', 'output_tokens', 'finish_reason', 'first_token_step', 'finish_step'];
const pick = (r) => Object.fromEntries(keys.map((k) => [k, r[k]]));
const problems = [];
if (got.num_steps !== expected.num_steps) problems.push(`num_steps ${got.num_steps}, expected ${expected.num_steps}`);
if (got.requests.length !== expected.requests.length) problems.push(`${got.requests.length} requests, expected ${expected.requests.length}`);
expected.requests.forEach((want, i) => {
  const a = JSON.stringify(pick(got.requests[i] ?? {})), b = JSON.stringify(pick(want));
  if (a !== b) problems.push(`request ${i}:\n  got      ${a}\n  expected ${b}`);
});
if (problems.length) { console.error(`NOT OK (arch ${process.env.CBLAB_ARCH ?? 'default'}):\n${problems.join('\n')}`); process.exit(1); }
console.log(`OK: ${expected.requests.length} requests, ${expected.num_steps} steps equal ${expectedFile} (arch ${process.env.CBLAB_ARCH ?? 'default'})`);

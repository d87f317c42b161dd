#!/usr/bin/env node
// compare_tokens.mjs — prints every request's output tokens from two `cblab run` result files
// and says whether they are the same. Used by the learning materials to show that batching
// (chunk size, block size, dense vs paged, who else is in the batch) never changes the tokens.
//   node docs/learning_materials/compare_tokens.mjs A.json B.json    exit 0: same, 1: differ
import { readFileSync } from 'node:fs';

const [a, b] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
if (!a || !b) {
  console.error('usage: node docs/learning_materials/compare_tokens.mjs A.json B.json');
  process.exit(2);
}
let same = a.requests.length === b.requests.length;
a.requests.forEach((r, i) => {
  const s = b.requests[i];
  const eq = s && s.id === r.id && JSON.stringify(s.output_tokens) === JSON.stringify(r.output_tokens);
  same &&= eq;
  console.log(`${eq ? 'same  ' : 'DIFFER'} ${r.id}: [${r.output_tokens.join(' ')}]` +
              (eq ? '' : ` vs [${s?.output_tokens.join(' ')}]`) +
              `  (steps ${a.num_steps} vs ${b.num_steps})`.slice(0, i ? 0 : undefined));
});
console.log(same ? 'same tokens' : 'tokens differ');
process.exit(same ? 0 : 1);

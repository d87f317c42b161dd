// Bad input never takes the page down: a bad JSON import or an invalid configuration shows a
// message naming the field and keeps the running session; an extreme configuration (one block
// of one slot, a budget of one token) runs to the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, state, act, waitForState, clickWidget, windowShot, assertNotBlank } from './browser.mjs';

test('a bad JSON import shows the error and the session keeps working', async () => {
  const { page, close } = await openPage();
  try {
    await act(page, 'step', { n: 4 });
    const before = await state(page);
    const chooser = page.waitForEvent('filechooser');
    await clickWidget(page, 'Import');
    await (await chooser).setFiles({ name: 'broken.json', mimeType: 'application/json',
                                     buffer: Buffer.from('{"requests": [ {"prompt": "hi", ') });
    let s = await waitForState(page, 'window.cblab.state().error !== null');
    assert.match(s.error, /workload not loaded: \(file\) = .*allowed valid JSON \(the session is kept\)/);
    assert.ok(s.widgets.message, 'the message is drawn in the Workload panel');
    assert.equal(s.num_requests, before.num_requests);
    assert.equal(s.num_steps, before.num_steps);
    assertNotBlank(await windowShot(page, 'Workload', 'error-bad-json'));

    // A wrong type names its JSON path.
    const typed = await act(page, 'load_workload', { json: '{"requests": [{"prompt": "a", "max_new_tokens": "many"}]}' });
    assert.match(typed.error, /requests\[0\]\.max_new_tokens = "many": allowed an integer/);
    // An invalid configuration names the engine's field.
    const config = await act(page, 'set_config', { engine: { block_size: 0 } });
    assert.equal(config.ok, false);
    assert.match(config.error, /configuration not applied: engine\.block_size = 0/);

    // The session still runs.
    const r = await act(page, 'step', {});
    assert.equal(r.ok, true, r.error);
    assert.equal(r.state.num_steps, before.num_steps + 1);
    assert.equal(r.state.num_requests, before.num_requests);
  } finally {
    await close();
  }
});

test('one block of one slot and a budget of one token runs to the end', async () => {
  const { page, close } = await openPage();
  try {
    const extreme = {
      engine: { max_tokens_per_step: 1, prefill_chunk_size: 1, block_size: 1, num_blocks: 1, max_running: 1 },
      requests: [{ id: 'a', prompt: 'a', max_new_tokens: 1 }, { id: 'b', prompt: 'b', max_new_tokens: 1 },
                 { id: 'c', prompt_tokens: [7], max_new_tokens: 0, arrival_step: 3 }],
    };
    let r = await act(page, 'load_workload', { json: JSON.stringify(extreme) });
    assert.equal(r.ok, true, r.error);
    r = await act(page, 'run', {});
    assert.equal(r.ok, true, r.error);
    const s = r.state;
    assert.equal(s.done, true);
    assert.deepEqual(s.requests.map((q) => q.output_tokens.length), [1, 1, 0]);
    assert.deepEqual(s.requests.map((q) => q.finish_step), [0, 1, 3]);
    // Every step used the single token of budget or idled until the late arrival.
    await act(page, 'select_step', { step: 1 });
    const s1 = await state(page);
    assert.equal(s1.selected.budget_used, 1);
    assert.equal(s1.selected.num_blocks_used, 0, 'the one block is free again after its request finished');
    await waitForState(page, 'window.cblab.state().frame > 5');
    assertNotBlank(await windowShot(page, 'Paged KV cache', 'extreme-kv'), 10, 0.02);

    // A request that cannot fit in one slot is refused with the reason, nothing added.
    const big = await act(page, 'add_request', { prompt: 'too long', max_new_tokens: 4 });
    assert.match(big.error, /request not added: .*num_blocks \(1 blocks = 1 tokens\)/);
    assert.equal((await state(page)).num_requests, 3);
  } finally {
    await close();
  }
});

// Export (the Export button, the URL hash) writes every key of the workload format, so an
// import of it gives the same workload and the same tokens.
test('export -> import round-trips the whole workload and gives the same tokens', async () => {
  const { page, close } = await openPage();
  try {
    const workload = {
      model: { vocab_size: 256, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, head_dim: 0, mlp_dim: 16, rope_theta: 500, seed: 11 },
      engine: { max_tokens_per_step: 12, prefill_chunk_size: 4, kv_cache: 'paged', block_size: 4, num_blocks: 10,
                max_running: 3, policy: 'priority', reserve_full_kv: false, prefix_caching: true },
      requests: [
        { id: 'greedy', prompt: 'shared prefix, then a', max_new_tokens: 6, stop_tokens: [33, 10] },
        { id: 'sampled', prompt: 'shared prefix, then b', max_new_tokens: 7, priority: -1, n: 2, temperature: 0.8, top_k: 20, top_p: 0.9, seed: 1234 },
        { id: 'bytes', prompt_tokens: [0, 7, 255, 65], max_new_tokens: 5, arrival_step: 3, priority: 2, temperature: 1.3, seed: 7 },
      ],
    };
    let r = await act(page, 'load_workload', { json: JSON.stringify(workload) });
    assert.equal(r.ok, true, r.error);
    r = await act(page, 'run', {});
    assert.equal(r.ok, true, r.error);
    const tokens = r.state.requests.map((q) => q.output_tokens);
    assert.ok(tokens.every((t) => t.length > 0), 'every request generated');

    const exported = (await act(page, 'export_workload', {})).state.workload_json;
    const back = JSON.parse(exported);
    // Every key given comes back with its value (floats as the engine holds them: 32-bit).
    const same = (a, b) => (typeof a === 'number' ? Math.fround(a) === Math.fround(b) : JSON.stringify(a) === JSON.stringify(b));
    for (const part of ['model', 'engine'])
      for (const [k, v] of Object.entries(workload[part])) assert.ok(same(v, back[part][k]), `${part}.${k}: ${v} exported as ${back[part][k]}`);
    assert.equal(back.requests.length, workload.requests.length);
    workload.requests.forEach((q, i) => {
      for (const [k, v] of Object.entries(q)) assert.ok(same(v, back.requests[i][k]), `requests[${i}].${k}: ${JSON.stringify(v)} exported as ${JSON.stringify(back.requests[i][k])}`);
    });

    r = await act(page, 'load_workload', { json: exported });
    assert.equal(r.ok, true, r.error);
    r = await act(page, 'run', {});
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(r.state.requests.map((q) => q.output_tokens), tokens, 'the imported workload gives the same tokens');
    assert.equal((await act(page, 'export_workload', {})).state.workload_json, exported, 'export is a fixed point');
  } finally {
    await close();
  }
});

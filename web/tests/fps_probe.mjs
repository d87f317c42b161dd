// fps_probe.mjs — the page's benchmark: its frame rate, and where a frame's time goes.
//   node web/tests/fps_probe.mjs [--windows N] [--json FILE] [variant ...]
// Without variants it measures the page as a user's browser without a GPU runs it (the warm
// page: see `noliftoff` below) beside this machine's own limits, and prints a table against the
// 30 fps target (docs/web_page.md, Frame rate); --json writes the same figures. Each case is
// measured in N windows of 3 s (3 unless given) and the best is kept: this machine has slow
// stretches (docs/kernels.md, "This machine's moods"), and the best window is what the page can do.
// With variants (Chromium flags, window size, ?redraw=always; the list is `variants` below) it
// prints, for each, one window of each case: frames per second and how many of them were painted
// (a frame with an unchanged picture is not: web/main.cpp) and what share of the canvas a paint
// covered on average (a changed frame repaints only where it changed), the wasm frame's own CPU
// time (App::draw, and the whole frame() with ImGui and the GL calls), the vertices ImGui drew,
// and the CPU time every Chromium thread spent per painted frame, read from /proc — which,
// unlike the frame rate, does not depend on how loaded the machine is.
import fs from 'node:fs';
import os from 'node:os';
import { openPage, chromiumArgs, turbofanArgs, state, act, waitForState } from './browser.mjs';

// Every thread of every process below `root` (the browser), as name -> CPU ticks.
function threadTicks(root) {
  const children = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(pid));
    } catch { /* gone */ }
  }
  const out = new Map();
  const visit = (pid) => {
    let type = 'browser';
    try {
      const m = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').match(/--type=([a-z-]+)/);
      if (m) type = m[1];
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '#');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const key = `${type}/${comm}`;
        out.set(key, (out.get(key) ?? 0) + Number(f[11]) + Number(f[12]));
      }
    } catch { /* gone */ }
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return out;
}

function browserPid(userDataDir) {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(userDataDir) && !cmd.includes('--type=')) return Number(pid);
    } catch { /* gone */ }
  }
  throw new Error('the browser process was not found');
}

// `during` (optional) runs until the measurement ends, e.g. moving the mouse.
async function measure(page, root, ms, during) {
  const tick = 1000 / 100;  // USER_HZ
  const c0 = threadTicks(root), s0 = await state(page), t0 = Date.now();
  let busy = Promise.resolve();
  if (during) busy = during(() => Date.now() - t0 < ms);
  await page.waitForTimeout(ms);
  await busy;
  const s = await state(page), c1 = threadTicks(root);
  const frames = s.frame - s0.frame, painted = s.frames_drawn - s0.frames_drawn;
  const cpu = [];
  for (const [k, v] of c1) {
    const d = (v - (c0.get(k) ?? 0)) * tick / Math.max(frames, 1);
    if (d >= 0.1) cpu.push([k, d]);
  }
  cpu.sort((a, b) => b[1] - a[1]);
  // CPU per painted frame: what one picture costs (an unpainted frame costs SwiftShader nothing).
  for (const row of cpu) row[1] *= Math.max(frames, 1) / Math.max(painted, 1);
  const seconds = (Date.now() - t0) / 1000;
  const area = (s.painted_canvases - s0.painted_canvases) / Math.max(painted, 1);
  return { fps: frames / seconds, painted: painted / seconds, area, draw: s.draw_ms, frame: s.frame_ms,
           vertices: s.vertices, calls: s.draw_calls, cpu, total: cpu.reduce((a, [, d]) => a + d, 0) };
}

const variants = {
  default: { args: chromiumArgs },
  // As the benchmark and the painting test (web/tests/share.test.mjs) open the page: TurboFan code from the start.
  noliftoff: { args: turbofanArgs },
  // A changed frame repaints the whole canvas (what the page did before partial repaint), with
  // preserveDrawingBuffer as the default page has it, and without (what it cost).
  full: { args: chromiumArgs, query: '?paint=full' },
  nopreserve: { args: chromiumArgs, query: '?paint=full&preserve=0' },
  // Every frame painted, changed or not (what the page did before it compared pictures).
  always: { args: chromiumArgs, query: '?redraw=always' },
  // The WebGL context with depth, stencil and alpha (GLFW's defaults; the page asks for none).
  buffers: { args: chromiumArgs, query: '?redraw=always', init: () => {
    const get = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (type, attrs) {
      return get.call(this, type, { ...attrs, depth: true, stencil: true, alpha: true });
    };
  } },
  // ... and with the font atlas filtered bilinearly and thick lines from baked textures.
  linear: { args: chromiumArgs, query: '?redraw=always&filter=linear' },
  small: { args: chromiumArgs, query: '?redraw=always', viewport: { width: 640, height: 400 } },
  // Flags the tests do not use. Without the frame-rate limit, unpainted frames spin far above
  // 60 fps: a figure no user sees. Software compositing is what --disable-gpu already gives:
  // the same figures (measured side by side).
  unthrottled: { args: [...chromiumArgs, '--disable-frame-rate-limit', '--disable-gpu-vsync'] },
  swcompositing: { args: [...chromiumArgs, '--disable-gpu-compositing'] },
};
// The cases, in one page: the empty page, then the 64-request / 1024-block scenario 40 steps in
// (the busiest point), idle, running at 10 steps a second, and with the mouse sweeping over the
// block grid (the hovered block and its request's highlights change every frame or two).
// `windows` (default 1) measurements of each; `each(label, all)` gets them.
async function cases(page, root, windows, each) {
  const repeat = async (label, measureOne) => {
    const all = [];
    for (let w = 0; w < windows; ++w) all.push(await measureOne());
    each(label, all);
  };
  await act(page, 'load_workload', { json: '{"requests": []}' });
  await waitForState(page, 'window.cblab.state().frame > 10');
  await repeat('empty', () => measure(page, root, 3000));
  const loadBig = async () => {
    await act(page, 'load_scenario', { name: 'big' });
    await act(page, 'step', { n: 40 });
    await page.waitForTimeout(300);
  };
  await loadBig();
  await repeat('big idle', () => measure(page, root, 3000));
  await act(page, 'set_speed', { steps_per_second: 10 });
  // Each window starts again from 40 steps in, so that every window runs a full batch.
  await repeat('big running', async () => {
    await loadBig();
    await act(page, 'play', { on: true });
    await page.waitForTimeout(500);
    const m = await measure(page, root, 3000);
    await act(page, 'play', { on: false });
    return m;
  });
  await loadBig();
  const kv = (await state(page)).geometry.kv;
  let i = 0;
  await repeat('big hover', () => measure(page, root, 3000, async (going) => {
    for (; going(); i = (i + 7) % kv.num_blocks) {
      await page.mouse.move(kv.x0 + (i % kv.cols + 0.5) * kv.pitch, kv.y0 + (Math.floor(i / kv.cols) + 0.5) * kv.pitch);
      await page.waitForTimeout(15);
    }
  }));
}

const argv = process.argv.slice(2), only = [];
let windows = 3, jsonFile = null;
for (let a = 0; a < argv.length; ++a) {
  const need = () => {
    if (a + 1 >= argv.length) throw new Error(`${argv[a]} needs a value`);
    return argv[++a];
  };
  if (argv[a] === '--windows') {
    const v = need();
    windows = Number(v);
    if (!Number.isInteger(windows) || windows < 1 || windows > 20) throw new Error(`--windows ${v}: a whole number from 1 to 20 wanted`);
  } else if (argv[a] === '--json') jsonFile = need();
  else if (argv[a] in variants) only.push(argv[a]);
  else throw new Error(`${argv[a]}: not an option (--windows N, --json FILE) or a variant (${Object.keys(variants).join(', ')})`);
}
const fixed = (x, d = 1) => x.toFixed(d);
const load = () => os.loadavg().map((x) => fixed(x, 2)).join(' ');

if (only.length === 0) {
  // The benchmark. The machine's limits, measured in the same run: the display rate (the empty
  // page idle: requestAnimationFrame's rate, as no frame is painted) and how many whole-canvas
  // paints a second this machine gives (the empty page painted every frame, ?redraw=always).
  const target = 30, rows = [];
  const best = (all) => all.reduce((a, b) => (b.fps > a.fps ? b : a));
  const machine = { cores: os.cpus().length, viewport: '1280x800' };
  {
    const { page, close, userDataDir } = await openPage({ ...variants.always, args: turbofanArgs });
    try {
      await act(page, 'load_workload', { json: '{"requests": []}' });
      await waitForState(page, 'window.cblab.state().frame > 10');
      const all = [];
      for (let w = 0; w < windows; ++w) all.push(await measure(page, browserPid(userDataDir), 3000));
      machine.full_paints_per_second = best(all).painted;
    } finally {
      await close();
    }
  }
  const { page, close, userDataDir } = await openPage(variants.noliftoff);
  try {
    await cases(page, browserPid(userDataDir), windows, (label, all) => {
      const m = best(all);
      if (label === 'empty') machine.display_fps = m.fps;
      else rows.push({ case: label, fps: m.fps, target, met: m.fps >= target, windows: all.map((x) => x.fps),
                       painted_per_second: m.painted, canvas_per_paint: m.area, wasm_frame_ms: m.frame,
                       cpu_ms_per_paint: m.total, cores_used: m.total * m.painted / 1000 });
      process.stderr.write(`  ${label}: ${all.map((x) => fixed(x.fps)).join(', ')} fps\n`);
    });
  } finally {
    await close();
  }
  machine.load_average = os.loadavg();
  console.log(`page benchmark: ${machine.viewport}, headless Chromium with SwiftShader, ${machine.cores} cores, best of ${windows} window${windows > 1 ? 's' : ''} of 3 s`);
  console.log(`machine: display ${fixed(machine.display_fps)} fps (the empty page idle), ` +
              `${fixed(machine.full_paints_per_second)} whole-canvas paints/s (the empty page painted every frame)`);
  // CPU: of all Chromium's threads, per painted frame (not shown idle, where a paint or two a
  // second carries every frame's cost) and in cores over the window.
  console.log('case          fps    target  met  painted/s  canvas/paint  wasm frame ms  CPU ms/paint  cores  windows (fps)');
  for (const r of rows)
    console.log(`${r.case.padEnd(12)} ${fixed(r.fps).padStart(5)}  >= ${target}   ${r.met ? 'yes' : 'NO '}  ${fixed(r.painted_per_second).padStart(9)}  ` +
                `${(fixed(100 * r.canvas_per_paint, 0) + '%').padStart(12)}  ${fixed(r.wasm_frame_ms, 2).padStart(13)}  ` +
                `${(r.painted_per_second >= 2 ? fixed(r.cpu_ms_per_paint) : '-').padStart(12)}  ${fixed(r.cores_used, 2).padStart(5)}  ` +
                r.windows.map((x) => fixed(x)).join(', '));
  console.log(`(load average ${load()})`);
  if (jsonFile) {
    fs.writeFileSync(jsonFile, JSON.stringify({ machine, cases: rows }, null, 1) + '\n');
    console.log(`wrote ${jsonFile}`);
  }
} else {
  for (const name of only) {
    const { page, close, userDataDir } = await openPage(variants[name]);
    try {
      await cases(page, browserPid(userDataDir), 1, (label, [m]) => {
        console.log(`${name} ${label}: ${fixed(m.fps)} fps, ${fixed(m.painted)} painted (${fixed(100 * m.area, 0)}% of the canvas each) | ` +
                    `wasm frame ${fixed(m.frame, 2)} ms (App::draw ${fixed(m.draw, 2)}) | ${m.vertices} vertices, ${m.calls} draw calls | ` +
                    `CPU per painted frame ${fixed(m.total)} ms: ` + m.cpu.slice(0, 6).map(([k, d]) => `${k} ${fixed(d)}`).join(', '));
      });
      console.log(`  (load average ${load()})`);
    } finally {
      await close();
    }
  }
}

// fps_probe.mjs — where a frame's time goes (a measurement, not a test):
//   node web/tests/fps_probe.mjs [variant ...]
// For each variant (Chromium flags, window size, ?redraw=always) it opens the page, and for the
// empty page and the 64-request / 1024-block scenario (idle, running, and with the mouse sweeping
// over the block grid so every frame changes) prints: frames per second and how many of them
// were painted (a frame with an unchanged picture is not: web/main.cpp) and what share of the
// canvas a paint covered on average (a changed frame repaints only where it changed), the wasm
// frame's own CPU time (App::draw, and the whole frame() with ImGui and the GL calls), the
// vertices ImGui drew, and the CPU time every Chromium thread spent per frame, read from
// /proc — which, unlike the frame rate, does not depend on how loaded the machine is.
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
  // As the frame-rate test opens the page (web/tests/share.test.mjs): TurboFan code from the start.
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
const only = process.argv.slice(2);
for (const [name, options] of Object.entries(variants)) {
  if (only.length && !only.includes(name)) continue;
  const { page, close, userDataDir } = await openPage(options);
  try {
    const root = browserPid(userDataDir);
    const show = (label, m) => {
      console.log(`${name} ${label}: ${m.fps.toFixed(1)} fps, ${m.painted.toFixed(1)} painted (${(100 * m.area).toFixed(0)}% of the canvas each) | wasm frame ${m.frame.toFixed(2)} ms ` +
                  `(App::draw ${m.draw.toFixed(2)}) | ${m.vertices} vertices, ${m.calls} draw calls | CPU per painted frame ${m.total.toFixed(1)} ms: ` +
                  m.cpu.slice(0, 6).map(([k, d]) => `${k} ${d.toFixed(1)}`).join(', '));
    };
    await act(page, 'load_workload', { json: '{"requests": []}' });
    await waitForState(page, 'window.cblab.state().frame > 10');
    show('empty', await measure(page, root, 3000));
    await act(page, 'load_scenario', { name: 'big' });
    await act(page, 'step', { n: 40 });
    await page.waitForTimeout(300);
    show('big idle', await measure(page, root, 3000));
    await act(page, 'set_speed', { steps_per_second: 10 });
    await act(page, 'play', { on: true });
    await page.waitForTimeout(300);
    show('big running', await measure(page, root, 3000));
    await act(page, 'play', { on: false });
    // The mouse sweeping over the block grid: the hovered block (and its request's highlight)
    // changes every frame or two, so nearly every frame is painted.
    const kv = (await state(page)).geometry.kv;
    show('big hover', await measure(page, root, 3000, async (going) => {
      for (let i = 0; going(); i = (i + 7) % kv.num_blocks) {
        await page.mouse.move(kv.x0 + (i % kv.cols + 0.5) * kv.pitch, kv.y0 + (Math.floor(i / kv.cols) + 0.5) * kv.pitch);
        await page.waitForTimeout(15);
      }
    }));
    console.log(`  (load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  } finally {
    await close();
  }
}

// browser.mjs — what every browser test needs: the built page served on 127.0.0.1, Debian's
// headless Chromium (WebGL2 through SwiftShader) driven by playwright-core, and helpers that
// wait on the app's own state instead of sleeping.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../tools/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const siteDir = process.env.CBLAB_SITE ?? path.join(repo, 'build/wasm/site');
export const shotsDir = path.join(repo, 'build/screenshots');

// Chromium's flags: WebGL2 through SwiftShader (no GPU on the test machines).
export const chromiumArgs = ['--headless=new', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
                             '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                             '--disable-component-update', '--disable-sync'];
// ... and V8 compiling the page's wasm with its optimising compiler (TurboFan) from the first
// frame, the code a warmed-up page runs: the page benchmark (fps_probe.mjs) and the painting test (share.test.mjs) open the page so.
export const turbofanArgs = [...chromiumArgs, '--js-flags=--no-liftoff'];

// options: query (e.g. '?redraw=always'), hash (e.g. '#w=...'), viewport, deviceScaleFactor, args
// (Chromium's flags, chromiumArgs unless given), init (a script run before the page's own).
export async function openPage({ query = '', hash = '', viewport = { width: 1280, height: 800 }, deviceScaleFactor = 1,
                                 args = chromiumArgs, init } = {}) {
  if (!fs.existsSync(path.join(siteDir, 'index.html')))
    throw new Error(`the page is not built: ${siteDir}/index.html is missing (cmake --build --preset wasm)`);
  const server = await startServer(siteDir);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cblab-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    deviceScaleFactor,
    args,
  });
  const page = browser.pages()[0] ?? await browser.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const close = async () => {
    await browser.close();
    server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  try {
    if (init) await page.addInitScript(init);
    await page.goto(server.url + query + hash);
    await page.waitForFunction(() => window.cblab && (window.cblab.ready || window.cblab.error),
                               null, { timeout: 60_000 });
  } catch (e) {
    await close();
    throw new Error(`the page did not start: ${e.message}\n--- browser console ---\n${consoleLines.join('\n')}`);
  }
  const error = await page.evaluate(() => window.cblab.error);
  if (error) {
    await close();
    throw new Error(`the page failed to start: ${error}\n--- browser console ---\n${consoleLines.join('\n')}`);
  }
  return { page, close, consoleLines, userDataDir };
}

export const state = (page) => page.evaluate(() => window.cblab.state());
export const act = (page, name, args) => page.evaluate(([n, a]) => window.cblab.act(n, a), [name, args]);

// Wait until predicate(state) holds; ImGui reacts to a click a frame or two later.
export async function waitForState(page, predicateSource, timeout = 15_000) {
  await page.waitForFunction(predicateSource, null, { timeout, polling: 50 });
  return state(page);
}

// Clicks the centre of a widget whose screen rectangle the app reports in state().widgets.
export async function clickWidget(page, name) {
  const s = await state(page);
  const r = s.widgets?.[name];
  if (!r) throw new Error(`widget '${name}' is not on screen; visible: ${Object.keys(s.widgets ?? {}).join(', ')}`);
  await page.mouse.move((r[0] + r[2]) / 2, (r[1] + r[3]) / 2);
  await page.waitForTimeout(50);  // one frame for ImGui to see the hover
  await page.mouse.down();
  await page.waitForTimeout(50);
  await page.mouse.up();
}

// Moves the mouse to (x, y) and waits until the app reports the hover it should cause.
export async function hover(page, x, y, predicateSource) {
  await page.mouse.move(x, y);
  return waitForState(page, predicateSource);
}

// A screenshot of one ImGui window (its rectangle from state().widgets['window.<title>']),
// checked not blank; returns the stats.
export async function windowShot(page, title, name) {
  const s = await state(page);
  const r = s.widgets?.[`window.${title}`];
  if (!r) throw new Error(`window '${title}' is not drawn; windows: ${Object.keys(s.widgets ?? {}).filter((k) => k.startsWith('window.')).join(', ')}`);
  return screenshot(page, name, { x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1] });
}

export function assertNotBlank(shot, minColors = 20, minNonBackground = 0.02) {
  if (!(shot.colors > minColors && shot.nonBackground > minNonBackground))
    throw new Error(`the screenshot looks blank: ${shot.colors} colours, ${(100 * shot.nonBackground).toFixed(1)}% non-background (${shot.file})`);
}

// Saves a screenshot and returns how many distinct colours it has and how much of it differs
// from its most common colour: a blank or single-colour canvas scores near zero on both.
export async function screenshot(page, name, clip) {
  fs.mkdirSync(shotsDir, { recursive: true });
  const file = path.join(shotsDir, `${name}.png`);
  const png = await page.screenshot({ path: file, clip });
  return { file, ...pngStats(png) };
}

// A minimal PNG reader (8-bit RGB/RGBA, not interlaced: what Chromium writes): the pixels,
// row by row, `channels` bytes each.
export function pngPixels(buf) {
  let pos = 8, width = 0, height = 0, channels = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos), type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      channels = { 2: 3, 6: 4 }[data[9]];
      if (data[8] !== 8 || !channels || data[12] !== 0) throw new Error('unsupported PNG layout');
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels, px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)], row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      px[y * stride + x] = (row[x] + pred) & 255;
    }
  }
  return { width, height, channels, px };
}

// Distinct colours, and the share of pixels that differ from the most common colour.
export function pngStats(buf) {
  const { width, height, channels, px } = pngPixels(buf);
  const counts = new Map();
  for (let i = 0; i < px.length; i += channels) {
    const key = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = Math.max(...counts.values());
  return { width, height, colors: counts.size, nonBackground: 1 - top / (width * height) };
}

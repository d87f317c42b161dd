#!/usr/bin/env node
// tools/check-docs.mjs — checks that the docs tell the truth about the repository.
//
//   node tools/check-docs.mjs [--no-run] [--build-dir DIR] [--timeout S] [FILE.md ...]
//
// Checks, one printed line each, over README.md and docs/**/*.md (or the files given):
//   run      every command in a fenced block whose info string is `sh run` runs from the
//            repository root (bash, pipefail, timeout 20 s) and must exit 0 — or the code in a
//            trailing `# expect-exit: N` comment; a trailing `# expect: REGEX` comment must
//            match its output (stdout + stderr). A command that ends in `\` continues on the
//            next line; whole-line comments are skipped. A command that occurs in several docs
//            (an English doc and its Chinese twin) runs once.
//   shown    a fenced block whose info string is `text expect` shows output: each of its lines
//            must be a line of the output of the runnable command just before it (numbers
//            before "us" or "ms", times, may differ).
//   path     every relative link or image, and every repository path in backticks or in a
//            shell block (modules/..., web/..., native/..., tests/..., tools/..., docs/...,
//            cmake/...), exists; a link's #anchor names a heading of its target.
//   module   every module named in backticks (`cblab.engine`, `cblab.engine:scheduler`) is
//            declared by an `export module` line.
//   symbol   every C++ name in backticks with `::` (`cblab::Engine`, `Engine::step`,
//            `KVCache::allocate_slots()`) is declared in the sources (a grep, not a compiler).
//   twin     every English doc X.md with a Chinese twin X_zh.md has the same ## sections
//            (same number; matched by position) and, section by section, the same runnable
//            commands. The docs listed in TWINS_REQUIRED must have a twin.
// A link, path or name in backticks followed by "(planned)" or "（计划中）" is not required to
// exist: the docs say plainly what does not exist yet (a planned link that exists is noted).
// The last line is "docs: N passed, M failed"; the exit code is 1 when anything failed.
//
// --no-run          skip the commands (paths, names and twins only; takes well under a second)
// --build-dir DIR   run the commands against DIR instead of build/native (e.g. build/docs)
// --timeout S       seconds each command may take (default 20)
// No dependencies beyond Node's own modules.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TWINS_REQUIRED = [
  'docs/get_started.md', 'docs/architecture.md', 'docs/continuous_batching.md',
  'docs/principle_recipes.md', 'docs/learning_plan.md', 'docs/interview_questions.md',
  'docs/web_page.md', 'docs/api.md', 'docs/kernels.md', 'docs/workload_format.md', 'docs/errors.md',
  ...Array.from({ length: 9 }, (_, i) => `docs/learning_materials/phase${i}.md`),
];
const PATH_ROOTS = ['modules', 'web', 'native', 'tests', 'tools', 'docs', 'cmake'];
const SOURCE_DIRS = ['modules', 'native', 'web', 'tests'];
const SOURCE_EXT = /\.(cppm|cpp|hpp|h)$/;
const PLANNED = /^\s*(\(planned[^)]*\)|（计划中[^）]*）)/;

// [arguments] ---------------------------------------------------------------------------------
const args = process.argv.slice(2);
let run = true, buildDir = null, timeoutS = 20;
const files = [];
for (let i = 0; i < args.length; ++i) {
  const a = args[i];
  if (a === '--no-run') run = false;
  else if (a === '--build-dir') buildDir = args[++i];
  else if (a === '--timeout') timeoutS = Number(args[++i]);
  else if (a === '-h' || a === '--help') {
    console.log('usage: node tools/check-docs.mjs [--no-run] [--build-dir DIR] [--timeout S] [FILE.md ...]');
    process.exit(0);
  } else if (a.startsWith('-')) {
    console.error(`check-docs: unknown option ${a}; options: --no-run, --build-dir DIR, --timeout S`);
    process.exit(2);
  } else files.push(relative(ROOT, resolve(a)));
}
if (!(timeoutS > 0)) {
  console.error('check-docs: --timeout must be a positive number of seconds');
  process.exit(2);
}

// [results] -----------------------------------------------------------------------------------
let passed = 0, failed = 0;
function ok(kind, where, what) { ++passed; console.log(`ok    ${kind.padEnd(6)} ${where}  ${what}`); }
function fail(kind, where, what, detail = '') {
  ++failed;
  console.log(`FAIL  ${kind.padEnd(6)} ${where}  ${what}`);
  if (detail) console.log(detail.replace(/\s+$/, '').split('\n').map((l) => '      | ' + l).join('\n'));
}
function skip(kind, where, what) { console.log(`skip  ${kind.padEnd(6)} ${where}  ${what}`); }

// [reading a doc] -----------------------------------------------------------------------------
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

// A doc as lines, with its fenced blocks and its ## sections.
function parseDoc(file) {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const lines = text.split('\n');
  const blocks = [];    // {info, start (1-based line of the first content line), lines}
  const sections = [];  // {title, line}
  const prose = [];     // {line, text} lines outside fenced blocks
  let fence = null;
  lines.forEach((line, i) => {
    const m = line.match(/^\s*(`{3,}|~{3,})(.*)$/);
    if (fence) {
      if (m && m[1][0] === fence.marker[0] && m[1].length >= fence.marker.length && !m[2].trim()) {
        blocks.push(fence.block);
        fence = null;
      } else fence.block.lines.push(line);
      return;
    }
    if (m) {
      fence = { marker: m[1], block: { info: m[2].trim(), start: i + 2, lines: [] } };
      return;
    }
    const h = line.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (h && h[1].length === 2) sections.push({ title: h[2], line: i + 1 });
    prose.push({ line: i + 1, text: line });
  });
  if (fence) fail('format', `${file}:${fence.block.start - 1}`, 'unclosed code fence');
  return { file, lines, blocks, sections, prose };
}

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
function slug(title) {
  return title.toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s/g, '-');
}
function anchorsOf(file) {
  const seen = new Map(), out = new Set();
  let inFence = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    const h = !inFence && line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (!h) continue;
    const s = slug(h[1]);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    out.add(n ? `${s}-${n}` : s);
  }
  return out;
}

// [sources, for module and symbol checks] -----------------------------------------------------
let sources = null;
function loadSources() {
  if (sources) return sources;
  sources = [];
  for (const d of SOURCE_DIRS)
    if (existsSync(join(ROOT, d)))
      for (const p of walk(join(ROOT, d)))
        if (SOURCE_EXT.test(p)) sources.push({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') });
  return sources;
}
// Names from outside the project are not looked up.
const THIRD_PARTY = new Set(['std', 'xsimd', 'ImGui', 'CLI', 'nlohmann', 'Catch', 'emscripten', 'testing']);
const NAMESPACES = new Set(['cblab', 'kernels', 'bench', 'ui', 'detail', 'simd', 'cli']);
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function moduleDeclared(name) {
  const re = new RegExp(`^\\s*export\\s+module\\s+${esc(name)}\\s*;`, 'm');
  return loadSources().find((s) => re.test(s.text))?.path;
}

// `a::b::c` is declared when: its last two non-namespace parts are a type T declared somewhere
// (struct/class/enum/concept) and a member m named in T's file or defined as T::m; or, for a
// single name, a type or a function/variable declaration of that name.
function symbolDeclared(name) {
  const parts = name.replace(/\(\)$/, '').split('::').filter(Boolean);
  while (parts.length > 1 && NAMESPACES.has(parts[0])) parts.shift();
  const src = loadSources();
  const typeRe = (t) => new RegExp(`\\b(struct|class|enum\\s+class|enum|union|concept|using)\\s+${esc(t)}\\b`);
  if (parts.length === 1) {
    const n = parts[0];
    if (NAMESPACES.has(n)) return src.find((s) => new RegExp(`namespace\\s+[\\w:]*\\b${esc(n)}\\b`).test(s.text))?.path;
    const declRe = new RegExp(`\\b${esc(n)}\\s*(\\(|\\{|=|;|\\[)`);
    return (src.find((s) => typeRe(n).test(s.text)) ?? src.find((s) => declRe.test(s.text)))?.path;
  }
  const [t, m] = parts.slice(-2);
  const defined = src.find((s) => new RegExp(`\\b${esc(t)}::${esc(m)}\\b`).test(s.text));
  if (defined) return defined.path;
  const memberRe = new RegExp(`\\b${esc(m)}\\b`);
  return src.find((s) => typeRe(t).test(s.text) && memberRe.test(s.text))?.path;
}

// [the checks] --------------------------------------------------------------------------------
const docs = (files.length ? files : ['README.md', ...walk(join(ROOT, 'docs'))
  .map((p) => relative(ROOT, p)).filter((p) => p.endsWith('.md')).sort()]).map(parseDoc);

// path, module, symbol: in prose code spans, links, and shell blocks.
const PATH_RE = new RegExp(`^(${PATH_ROOTS.join('|')})/[\\w.@+/-]*$`);
function checkPath(doc, line, p, how) {
  const clean = p.replace(/[.,;:)]+$/, '').replace(/:\d+(-\d+)?$/, '');
  if (!PATH_RE.test(clean)) return;
  const where = `${doc.file}:${line}`;
  if (existsSync(join(ROOT, clean))) ok('path', where, clean);
  else fail('path', where, `${clean} (${how}) does not exist`);
}

for (const doc of docs) {
  for (const { line, text } of doc.prose) {
    // Links and images: [text](target)
    for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue;  // http:, https:, mailto:
      const where = `${doc.file}:${line}`;
      const [pathPart, anchor] = target.split('#');
      const abs = pathPart ? resolve(ROOT, dirname(doc.file), decodeURIComponent(pathPart)) : join(ROOT, doc.file);
      const planned = PLANNED.test(text.slice(m.index + m[0].length));
      if (!existsSync(abs)) {
        if (planned) skip('plan', where, `${target} (planned: not there yet)`);
        else fail('link', where, `${target}: ${relative(ROOT, abs)} does not exist`);
        continue;
      }
      if (planned) { ok('link', where, `${target} (marked planned but exists now: drop the marker)`); continue; }
      if (anchor && abs.endsWith('.md') && !anchorsOf(abs).has(decodeURIComponent(anchor).toLowerCase())) {
        fail('link', where, `${target}: no heading with anchor #${anchor} in ${relative(ROOT, abs)}`);
        continue;
      }
      ok('link', where, target);
    }
    // Code spans.
    for (const m of text.matchAll(/(`+)([^`]+?)\1/g)) {
      const code = m[2].trim();
      const after = text.slice(m.index + m[0].length);
      const where = `${doc.file}:${line}`;
      if (PLANNED.test(after)) { skip('plan', where, `${code} (planned: not checked)`); continue; }
      const isFile = /\.(js|mjs|json|md|cpp|cppm|hpp|html|wasm|txt|sh|svg|png)$/.test(code);
      if (!isFile && /^cblab(\.[a-z_]+)*(:[a-z_]+)?$/.test(code) && (code.includes('.') || code.includes(':'))) {
        const at = moduleDeclared(code);
        if (at) ok('module', where, `${code} (${at})`);
        else fail('module', where, `module ${code}: no "export module ${code};" in ${SOURCE_DIRS.join(', ')}`);
        continue;
      }
      const sym = code.match(/^(?:[A-Za-z_]\w*::)+~?[A-Za-z_]\w*(?:\(\))?$/);
      if (sym && !THIRD_PARTY.has(code.split('::')[0])) {
        const at = symbolDeclared(code);
        if (at) ok('symbol', where, `${code} (${at})`);
        else fail('symbol', where, `${code}: not declared in ${SOURCE_DIRS.join(', ')}`);
        continue;
      }
      for (const word of code.split(/\s+/)) checkPath(doc, line, word, 'in backticks');
    }
  }
  // Paths inside shell blocks (runnable or not).
  for (const b of doc.blocks) {
    if (!/^(sh|bash|shell|console)\b/.test(b.info)) continue;
    b.lines.forEach((l, i) => {
      const code = l.replace(/#.*$/, '');
      for (const word of code.split(/[\s=]+/)) checkPath(doc, b.start + i, word, 'in a shell block');
    });
  }
}

// twin: the same ## sections, and the same runnable commands in each.
function runnable(doc) {
  const out = [];  // {line, cmd, section, block}
  for (const [block, b] of doc.blocks.entries()) {
    if (!/^(sh|bash)\s+run\b/.test(b.info)) continue;
    const section = doc.sections.filter((s) => s.line < b.start).length;
    let cmd = '', first = 0;
    b.lines.forEach((l, i) => {
      if (!cmd && (/^\s*#/.test(l) || !l.trim())) return;
      if (!cmd) first = b.start + i;
      cmd += l.replace(/\\\s*$/, ' ');
      if (/\\\s*$/.test(l)) return;
      out.push({ line: first, cmd: cmd.trim(), section, block });
      cmd = '';
    });
    if (cmd) out.push({ line: first, cmd: cmd.trim(), section, block });
  }
  return out;
}
const byFile = new Map(docs.map((d) => [d.file, d]));
for (const doc of docs) {
  if (doc.file.endsWith('_zh.md') || !doc.file.startsWith('docs/')) continue;
  const twinFile = doc.file.replace(/\.md$/, '_zh.md');
  const twin = byFile.get(twinFile) ?? (existsSync(join(ROOT, twinFile)) ? parseDoc(twinFile) : null);
  if (!twin) {
    if (TWINS_REQUIRED.includes(doc.file)) fail('twin', doc.file, `no Chinese twin ${twinFile}`);
    else skip('twin', doc.file, `no Chinese twin ${twinFile} (not required by this checker)`);
    continue;
  }
  const a = doc.sections, b = twin.sections;
  if (a.length !== b.length) {
    const rows = [];
    for (let i = 0; i < Math.max(a.length, b.length); ++i)
      rows.push(`${String(i + 1).padStart(2)}. ${(a[i]?.title ?? '—').padEnd(44)} ${b[i]?.title ?? '—'}`);
    fail('twin', `${doc.file} ~ ${twinFile}`, `${a.length} sections vs ${b.length}`, rows.join('\n'));
    continue;
  }
  const ra = runnable(doc), rb = runnable(twin);
  const key = (r) => `${r.section}\t${r.cmd}`;
  const ka = ra.map(key).join('\n'), kb = rb.map(key).join('\n');
  if (ka !== kb) {
    const diff = [];
    for (let i = 0; i < Math.max(ra.length, rb.length); ++i)
      if (key(ra[i] ?? {}) !== key(rb[i] ?? {}))
        diff.push(`en ${ra[i] ? `§${ra[i].section} ${ra[i].cmd}` : '—'}\nzh ${rb[i] ? `§${rb[i].section} ${rb[i].cmd}` : '—'}`);
    fail('twin', `${doc.file} ~ ${twinFile}`, 'the runnable commands differ', diff.slice(0, 3).join('\n'));
    continue;
  }
  ok('twin', `${doc.file} ~ ${twinFile}`, `${a.length} sections, ${ra.length} runnable commands`);
}

// run: every runnable command, once.
if (run) {
  const done = new Map();  // command -> result
  const needsBuild = (c) => /\bbuild\/native\//.test(c);
  // A `text expect` block: each of its lines is a line of the previous command's output, with
  // any number before "us" or "ms" (a time) free to differ.
  const checkShown = (doc, b, last) => {
    const where = `${doc.file}:${b.start - 1}`;
    if (!last) { fail('shown', where, 'a "text expect" block with no runnable command before it'); return; }
    const lines = last.out.split('\n').map((l) => l.trim());
    const missing = b.lines.map((l) => l.trim()).filter(Boolean).filter((want) => {
      const re = new RegExp('^' + esc(want).replace(/\d+(us|ms)\b/g, '\\d+$1') + '$');
      return !lines.some((l) => re.test(l));
    });
    if (missing.length) fail('shown', where, `output shown is not what \`${last.cmd}\` prints`, 'missing:\n' + missing.join('\n'));
    else ok('shown', where, `${b.lines.filter((l) => l.trim()).length} lines, as \`${last.cmd}\` prints them`);
  };
  for (const doc of docs) {
    const cmds = runnable(doc);
    let last = null;
    for (const [bi, b] of doc.blocks.entries()) {
    if (/^text\s+expect\b/.test(b.info)) checkShown(doc, b, last);
    for (const { line, cmd } of cmds.filter((c) => c.block === bi)) {
      const where = `${doc.file}:${line}`;
      const expect = cmd.match(/#\s*expect:\s*(.+?)\s*(#|$)/)?.[1];
      const expectExit = Number(cmd.match(/#\s*expect-exit:\s*(\d+)/)?.[1] ?? 0);
      let shellCmd = cmd.replace(/\s#\s*expect(-exit)?:.*$/, '').trim();
      if (buildDir) shellCmd = shellCmd.replace(/\bbuild\/native\//g, buildDir.replace(/\/?$/, '/'));
      let r = done.get(shellCmd);
      if (!r) {
        const t0 = Date.now();
        const p = spawnSync('bash', ['-c', `set -o pipefail; ${shellCmd}`], {
          cwd: ROOT, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20,
          env: { ...process.env, TERM: 'dumb' },
        });
        r = { status: p.status === 141 ? 0 : p.status, signal: p.signal, error: p.error,
              out: (p.stdout ?? '') + (p.stderr ?? ''), ms: Date.now() - t0 };
        done.set(shellCmd, r);
      }
      const tail = r.out.split('\n').slice(-15).join('\n');
      const hint = needsBuild(shellCmd) && /No such file/.test(r.out)
        ? '\n(build first: cmake --preset native && cmake --build --preset native)' : '';
      if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM')
        fail('run', where, `${shellCmd}: timed out after ${timeoutS} s`, tail);
      else if (r.status !== expectExit)
        fail('run', where, `${shellCmd}: exit ${r.status ?? r.signal}, expected ${expectExit}`, tail + hint);
      else if (expect && !new RegExp(expect, 'm').test(r.out))
        fail('run', where, `${shellCmd}: output does not match /${expect}/`, tail);
      else ok('run', where, `${shellCmd} (${r.ms} ms)`);
      last = { cmd: shellCmd, out: r.out };
    }
    }
  }
}

console.log(`docs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

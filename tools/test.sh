#!/usr/bin/env bash
# tools/test.sh — runs every cb-lab test on a fresh machine, set-up included:
#   1. native   (clang-19 + libc++, Release): Catch2 through ctest
#   2. docs     every runnable command, path and name in docs/ (tools/check-docs.mjs)
#   3. wasm     (Emscripten, simd128): the same Catch2 sources under Node through ctest
#   4. browser  (the page in headless Chromium, driven by playwright-core)
#   5. native-debug (AddressSanitizer + UndefinedBehaviorSanitizer): the native tests again,
#               and the fuzzer over the engine's invariants for a bounded time
# Each stage prints its runner's own summary; the last line totals them all.
# Usage: tools/test.sh [native|wasm|browser|docs|native-debug ...]   (default: all five)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${CBLAB_JOBS:-$(nproc)}

"$ROOT/tools/setup.sh" || exit 1

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(native docs wasm browser native-debug)

total_pass=0 total_fail=0 failed_stages=()
log_dir="$ROOT/build/test-logs"; mkdir -p "$log_dir"

banner() { printf '\n==== %s ====\n' "$*"; }
timer_start() { stage_t0=$(date +%s); }
timer_end() { echo "[$1 took $(( $(date +%s) - stage_t0 )) s]"; }

# ctest_stage NAME PRESET: configure, build and run ctest for one preset.
ctest_stage() {
  local name=$1 preset=$2 log="$log_dir/$1.log"
  banner "$name: configure + build (preset $preset)"
  timer_start
  if ! { cmake --preset "$preset" > "$log" 2>&1 && cmake --build --preset "$preset" -j "$JOBS" >> "$log" 2>&1; }; then
    grep -E "error|FAILED" -A3 "$log" | head -40
    echo "$name: build FAILED (full log: $log)"
    failed_stages+=("$name (build)"); total_fail=$((total_fail + 1)); timer_end "$name"; return
  fi
  banner "$name: ctest"
  # Tests are independent single-process runs: two at a time keeps both cores busy (the
  # fuzzer's fixed 60 s and the embed example's install + build overlap the Catch2 areas).
  ctest --preset "$preset" -j "$JOBS" 2>&1 | tee "$log_dir/$name-ctest.log" | grep -vE '^\s+Start ' 
  local rc=${PIPESTATUS[0]}
  local line; line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log_dir/$name-ctest.log" | tail -n1)
  local n_total n_fail
  n_total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line"); n_fail=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then n_total=0 n_fail=1; fi
  total_pass=$((total_pass + n_total - n_fail)); total_fail=$((total_fail + n_fail))
  [ "$rc" = 0 ] && [ "$n_fail" = 0 ] || failed_stages+=("$name")
  timer_end "$name"
}

browser_stage() {
  local log="$log_dir/browser.log"
  banner "browser: build the page (preset wasm)"
  timer_start
  if ! { cmake --preset wasm > "$log" 2>&1 && cmake --build --preset wasm -j "$JOBS" --target cblab_web >> "$log" 2>&1; }; then
    grep -E "error|FAILED" -A3 "$log" | head -40
    failed_stages+=("browser (build)"); total_fail=$((total_fail + 1)); timer_end browser; return
  fi
  banner "browser: node --test web/tests (headless Chromium)"
  node --test --test-reporter=spec web/tests/ 2>&1 | tee "$log_dir/browser-node.log"
  local rc=${PIPESTATUS[0]}
  local n_pass n_fail
  n_pass=$(grep -E '^ℹ pass [0-9]+' "$log_dir/browser-node.log" | awk '{print $3}')
  n_fail=$(grep -E '^ℹ fail [0-9]+' "$log_dir/browser-node.log" | awk '{print $3}')
  total_pass=$((total_pass + ${n_pass:-0})); total_fail=$((total_fail + ${n_fail:-1}))
  [ "$rc" = 0 ] || failed_stages+=("browser")
  timer_end browser
}

docs_stage() {
  banner "docs: node tools/check-docs.mjs (commands run against build/native)"
  timer_start
  if [ ! -x build/native/native/cblab ]; then
    echo "docs: build/native is not built; run the native stage first"
    failed_stages+=("docs"); total_fail=$((total_fail + 1)); timer_end docs; return
  fi
  node tools/check-docs.mjs > "$log_dir/docs.log" 2>&1
  local rc=$?
  grep -vE '^ok ' "$log_dir/docs.log"
  local line; line=$(grep -E '^docs: [0-9]+ passed, [0-9]+ failed' "$log_dir/docs.log" | tail -n1)
  local n_pass n_fail
  n_pass=$(sed -E 's/docs: ([0-9]+) passed.*/\1/' <<<"$line"); n_fail=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  total_pass=$((total_pass + ${n_pass:-0})); total_fail=$((total_fail + ${n_fail:-1}))
  [ "$rc" = 0 ] || failed_stages+=("docs")
  timer_end docs
}

for s in "${stages[@]}"; do
  case "$s" in
    native) ctest_stage native native ;;
    wasm) ctest_stage wasm wasm ;;
    browser) browser_stage ;;
    docs) docs_stage ;;
    native-debug) ctest_stage native-debug native-debug ;;
    *) echo "test.sh: unknown stage '$s'; stages: native docs wasm browser native-debug"; exit 2 ;;
  esac
done

echo
if [ ${#failed_stages[@]} -gt 0 ]; then echo "FAILED stages: ${failed_stages[*]}"; fi
echo "tests: $total_pass passed, $total_fail failed"
[ ${#failed_stages[@]} -eq 0 ] && [ "$total_fail" -eq 0 ]

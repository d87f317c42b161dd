#!/usr/bin/env bash
# tools/test.sh — runs every cb-lab test on a fresh machine, set-up included:
#   1. native   (clang-19 + libc++, Release): Catch2 through ctest
#   2. docs     every runnable command, path and name in docs/ (tools/check-docs.mjs)
#   3. wasm     (Emscripten, simd128): the same Catch2 sources under Node through ctest
#   4. browser  (the page in headless Chromium, driven by playwright-core)
#   5. native-debug (AddressSanitizer + UndefinedBehaviorSanitizer): the native tests again,
#               and the fuzzer over the engine's invariants for a bounded time
# Each stage prints its runner's own summary; the last line totals them all. When more stages
# follow, the native ctest runs in the background during the docs and wasm stages (its embed
# example leaves a core idle for a minute) and is reported after the wasm stage.
# Usage: tools/test.sh [native|wasm|browser|docs|native-debug ...]   (default: all five)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${CBLAB_JOBS:-$(nproc)}

"$ROOT/tools/setup.sh" || exit 1

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(native docs wasm browser native-debug)

total_pass=0 total_fail=0 failed_stages=() failed_tests=()
declare -A background_ctest=()
log_dir="$ROOT/build/test-logs"; mkdir -p "$log_dir"

banner() { printf '\n==== %s ====\n' "$*"; }
timer_start() { stage_t0=$(date +%s); }
timer_end() { echo "[$1 took $(( $(date +%s) - stage_t0 )) s]"; }

# ctest_stage NAME PRESET [background]: configure, build and run ctest for one preset.
# With "background", ctest runs while the next stages build (collect_ctest NAME reports it): the
# native ctest is mostly the embed example's single-threaded 75 s, which leaves a core idle.
ctest_stage() {
  local name=$1 preset=$2 mode=${3:-} log="$log_dir/$1.log"
  banner "$name: configure + build (preset $preset)"
  timer_start
  if ! { cmake --preset "$preset" > "$log" 2>&1 && cmake --build --preset "$preset" -j "$JOBS" >> "$log" 2>&1; }; then
    grep -E "error|FAILED" -A3 "$log" | head -40
    echo "$name: build FAILED (full log: $log)"
    failed_stages+=("$name (build)"); total_fail=$((total_fail + 1)); timer_end "$name"; return
  fi
  # Tests are independent single-process runs: two at a time keeps both cores busy (the
  # fuzzer's fixed 60 s and the embed example's install + build overlap the Catch2 areas).
  if [ "$mode" = background ]; then
    banner "$name: ctest (in the background; reported after the next build)"
    ctest --preset "$preset" -j "$JOBS" > "$log_dir/$name-ctest.log" 2>&1 &
    background_ctest[$name]=$!
    timer_end "$name build"
    return
  fi
  banner "$name: ctest"
  ctest --preset "$preset" -j "$JOBS" 2>&1 | tee "$log_dir/$name-ctest.log" | grep -vE '^\s+Start '
  count_ctest "$name" "${PIPESTATUS[0]}"
  timer_end "$name"
}

# collect_ctest NAME: wait for a background ctest and report it.
collect_ctest() {
  local name=$1 pid=${background_ctest[$1]:-}
  [ -n "$pid" ] || return 0
  banner "$name: ctest (ran in the background)"
  timer_start
  wait "$pid"
  local rc=$?
  grep -vE '^\s+Start ' "$log_dir/$name-ctest.log"
  count_ctest "$name" "$rc"
  unset "background_ctest[$name]"
  timer_end "$name ctest wait"
}

# count_ctest NAME RC: add up the counts of ctest's log.
count_ctest() {
  local name=$1 rc=$2
  local line; line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log_dir/$name-ctest.log" | tail -n1)
  local n_total n_fail
  n_total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line"); n_fail=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then n_total=0 n_fail=1; fi
  total_pass=$((total_pass + n_total - n_fail)); total_fail=$((total_fail + n_fail))
  local t
  while IFS= read -r t; do failed_tests+=("$name: $t"); done < <(
    sed -n '/The following tests FAILED:/,$p' "$log_dir/$name-ctest.log" | grep -E '^\s+[0-9]+ - ' | sed -E 's/^\s+[0-9]+ - //')
  [ "$rc" = 0 ] && [ "$n_fail" = 0 ] || failed_stages+=("$name")
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
  local t
  while IFS= read -r t; do failed_tests+=("browser: $t"); done < <(
    grep -E '^✖ ' "$log_dir/browser-node.log" | grep -v '^✖ failing tests' | sed -E 's/^✖ //; s/ \([0-9.]+ms\)$//' | sort -u)
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
  local t
  while IFS= read -r t; do failed_tests+=("docs: $t"); done < <(grep -E '^FAIL' "$log_dir/docs.log" | sed -E 's/^FAIL +//')
  [ "$rc" = 0 ] || failed_stages+=("docs")
  timer_end docs
}

# The native ctest runs in the background when another stage follows (see ctest_stage); it is
# reported before the first stage that tests something else (the browser stage needs the
# machine to itself: the page's frames and the tests' waits share the two cores).
background=""; [ ${#stages[@]} -gt 1 ] && background=background
for s in "${stages[@]}"; do
  case "$s" in
    native) ctest_stage native native $background ;;
    wasm) ctest_stage wasm wasm; collect_ctest native ;;
    browser) collect_ctest native; browser_stage ;;
    docs) docs_stage ;;
    native-debug) collect_ctest native; ctest_stage native-debug native-debug ;;
    *) echo "test.sh: unknown stage '$s'; stages: native docs wasm browser native-debug"; exit 2 ;;
  esac
done
collect_ctest native

echo
# The failing tests' names last, where a log cut to its tail still shows them.
if [ ${#failed_tests[@]} -gt 0 ]; then
  echo "FAILED tests:"
  printf '  %s\n' "${failed_tests[@]:0:20}"
  [ ${#failed_tests[@]} -le 20 ] || echo "  ... and $(( ${#failed_tests[@]} - 20 )) more"
fi
if [ ${#failed_stages[@]} -gt 0 ]; then echo "FAILED stages: ${failed_stages[*]}"; fi
echo "tests: $total_pass passed, $total_fail failed"
[ ${#failed_stages[@]} -eq 0 ] && [ "$total_fail" -eq 0 ]

#!/usr/bin/env bash
# Module dependency scanner for the wasm build. CMake calls
#   wasm-scan-deps.sh -format=p1689 -- <em++> <flags...>
# clang-scan-deps-19 would treat em++ as a host compiler, so we swap em++ for clang++-19 plus
# the flags em++ itself adds (em++ --cflags, cached: em++ starts slowly) and drop em-only -s flags.
set -euo pipefail
args=() compiler="" seen_dashdash=0
for a in "$@"; do
  if [ "$seen_dashdash" = 1 ] && [ -z "$compiler" ]; then compiler=$a; continue; fi
  [ "$a" = "--" ] && seen_dashdash=1
  if [ -n "$compiler" ]; then
    case "$a" in -s[A-Z]*|-Wno-version-check) continue ;; esac
  fi
  args+=("$a")
done
cache="$(dirname "$compiler")/.cblab-cflags"
if [ ! -s "$cache" ] || [ "$compiler" -nt "$cache" ]; then
  "$compiler" --cflags -msimd128 > "$cache.$$" && mv "$cache.$$" "$cache"  # atomic: scans run in parallel
fi
read -r -a emflags < "$cache"
# args = [-format=p1689 ... --] [flags...]: insert clang++-19 and em++'s flags after "--".
out=() done_insert=0
for a in "${args[@]}"; do
  out+=("$a")
  if [ "$a" = "--" ] && [ "$done_insert" = 0 ]; then out+=(clang++-19 "${emflags[@]}"); done_insert=1; fi
done
exec clang-scan-deps-19 "${out[@]}"

#!/usr/bin/env bash
# tools/kernel-ab.sh — interleaved A/B timing of up to 4 variants of the kernels
# (modules/kernels/arch), each a git revision or a directory, in one program.
#
#   tools/kernel-ab.sh [--arch ARCH] [--rounds N] VARIANT VARIANT [VARIANT [VARIANT]] -- CASE
#   ARCH:    avx512f (default), avx2, sse2: a native program; wasm, wasm+relaxed: built with
#            Emscripten and run under Node (wasm+relaxed needs variants that have madd.hpp)
#   VARIANT: a git revision (HEAD, main~3, a1b2c3d), or a directory holding make_table.hpp
#            ("." is this work tree's modules/kernels/arch, uncommitted edits included)
#   CASE:    prefill D C | decode Q HKV D C | gemm M K N
#
# Example: tools/kernel-ab.sh HEAD . . -- prefill 128 4096
# compares the work tree against HEAD and against itself (the null A/B, which shows the noise).
# Variant 0 is the baseline; each other variant gets the median over rounds of its per-round
# speed ratio to it, with quartiles. See tools/kernel-ab/main.cpp for the method.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage="usage: tools/kernel-ab.sh [--arch avx512f|avx2|sse2|wasm|wasm+relaxed] [--rounds N] VARIANT VARIANT [VARIANT [VARIANT]] -- prefill D C | decode Q HKV D C | gemm M K N"
arch=avx512f rounds=30 variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=${2:?"--arch needs avx512f, avx2, sse2, wasm or wasm+relaxed"}; shift 2 ;;
    --rounds) rounds=${2:?"--rounds needs a number"}; shift 2 ;;
    --) shift; break ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) variants+=("$1"); shift ;;
  esac
done
if [ ${#variants[@]} -lt 2 ] || [ ${#variants[@]} -gt 4 ] || [ $# -lt 1 ]; then
  echo "kernel-ab: give 2 to 4 variants, then -- and a case" >&2; echo "$usage" >&2; exit 2
fi
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "kernel-ab: --rounds $rounds is not a whole number of at least 1" >&2; exit 2; }
case "$1" in prefill) n=3 ;; decode) n=5 ;; gemm) n=4 ;; *) n=0 ;; esac
if [ "$n" = 0 ] || [ $# -ne "$n" ]; then
  echo "kernel-ab: the case must be prefill D C, decode Q HKV D C or gemm M K N, not '$*'" >&2; exit 2
fi
cpu="" link=() run=()
case "$arch" in
  avx512f) flags="-mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw -mavx2 -mfma"; xarch=xsimd::avx512dq; cpu=avx512dq ;;
  avx2) flags="-mavx2 -mfma"; xarch="xsimd::fma3<xsimd::avx2>"; cpu=avx2 ;;
  sse2) flags="-msse2"; xarch=xsimd::sse2; cpu=sse2 ;;
  # As the wasm build links them (modules/kernels/arch/arches.cmake): -O0 at link keeps emcc
  # from running Debian's binaryen, which cannot read relaxed SIMD.
  wasm) flags="-msimd128"; xarch=xsimd::wasm ;;
  wasm+relaxed) flags="-msimd128 -mrelaxed-simd"; xarch=cblab::kernels::simd::wasm_relaxed
    link=(--pre-js "$ROOT/modules/kernels/arch/relaxed-simd.pre.js") ;;
  *) echo "kernel-ab: --arch $arch is not one of avx512f, avx2, sse2, wasm, wasm+relaxed" >&2; exit 2 ;;
esac
[ -z "$cpu" ] || grep -qw "$cpu" /proc/cpuinfo || { echo "kernel-ab: this CPU has no $cpu" >&2; exit 2; }
xsimd="$ROOT/.deps/xsimd/usr/include"
[ -f "$xsimd/xsimd/xsimd.hpp" ] || { echo "kernel-ab: xsimd not found under .deps: run tools/setup.sh first" >&2; exit 2; }

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ -z "$cpu" ]; then
  emxx="$ROOT/.deps/emscripten/usr/share/emscripten/em++"
  [ -x "$emxx" ] || { echo "kernel-ab: Emscripten not found under .deps: run tools/setup.sh first" >&2; exit 2; }
  cxx=("$emxx" -std=c++20 -O3 -DNDEBUG -fexceptions $flags -Wno-version-check -isystem "$xsimd")
  link+=(-O0 -sASSERTIONS=0 -sWASM_BIGINT -sALLOW_MEMORY_GROWTH=1 -sNODERAWFS=1 -sEXIT_RUNTIME=1)
  run=(node) out="$work/kernel-ab.js"
else
  cxx=(clang++-19 -std=c++20 -O3 -DNDEBUG -stdlib=libc++ $flags -isystem "$xsimd")
  out="$work/kernel-ab"
fi
objects=()
for i in "${!variants[@]}"; do
  v=${variants[$i]}
  if [ "$v" = . ]; then
    dir="$ROOT/modules/kernels/arch"
  elif [ -f "$v/make_table.hpp" ]; then
    dir=$(cd "$v" && pwd)
  else
    mkdir -p "$work/v$i"
    git -C "$ROOT" archive "$v" modules/kernels/arch | tar -x -C "$work/v$i" \
      || { echo "kernel-ab: '$v' is neither a directory with make_table.hpp nor a git revision" >&2; exit 2; }
    dir="$work/v$i/modules/kernels/arch"
  fi
  echo "v$i = $v"
  "${cxx[@]}" -I "$dir" -Dcblab=cblab_v$i -DAB_VARIANT=v$i "-DAB_ARCH=$xarch" \
    -c "$ROOT/tools/kernel-ab/variant.cpp" -o "$work/v$i.o" &
  objects+=("$work/v$i.o")
done
# The program links 4 variants; unused slots repeat variant 0.
for i in $(seq ${#variants[@]} 3); do
  "${cxx[@]}" -I "$ROOT/modules/kernels/arch" -Dcblab=cblab_v$i -DAB_VARIANT=v$i "-DAB_ARCH=$xarch" \
    -c "$ROOT/tools/kernel-ab/variant.cpp" -o "$work/v$i.o" &
  objects+=("$work/v$i.o")
done
wait
"${cxx[@]}" "$ROOT/tools/kernel-ab/main.cpp" "${objects[@]}" "${link[@]}" -o "$out"
"${run[@]}" "$out" "${#variants[@]}" "$rounds" "$@"

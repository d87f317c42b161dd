#!/usr/bin/env bash
# tools/setup.sh — brings cb-lab's whole toolchain into place. Idempotent: a second run with
# everything present only checks and takes seconds.
#
# What it does (see docs/get_started.md for why each piece is needed):
#   1. apt: clang-19 + libc++, lld, ninja, binaryen, node-acorn, nlohmann-json, chromium
#   2. bookworm-backports: cmake >= 3.28 (C++20 modules) and the Catch2 3.7.1 sources
#   3. trixie, downloaded only (never installed): emscripten 3.1.69, xsimd 13 headers and the
#      Dear ImGui 1.90.1 sources, unpacked into the git-ignored prefix .deps/
#   4. npm: playwright-core for the browser tests (drives Debian's /usr/bin/chromium)
#
# The package mirror is read from the system's own apt configuration; no host is written here.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX="$ROOT/.deps"
export DEBIAN_FRONTEND=noninteractive

say()  { echo "[setup] $*"; }
fail() { echo "[setup] FAILED: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || fail "step '$1' needs root (apt-get); run as root or install: $2"; }

mkdir -p "$PREFIX"

# --- the mirror, from the system's apt configuration -------------------------------------
mirror_uri() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || fail "step 'mirror': no Debian URI found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  echo "$uri"
}

# --- 1. packages from the system's own suite ---------------------------------------------
APT_PACKAGES=(clang-19 clang-tools-19 lld-19 llvm-19 libc++-19-dev libc++abi-19-dev
              libclang-rt-19-dev ninja-build binaryen node-acorn nlohmann-json3-dev
              libcli11-dev chromium dpkg-dev xz-utils)
missing=()
# Node.js and npm may come from elsewhere than Debian: only ask apt when the commands are absent.
command -v node >/dev/null || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null || APT_PACKAGES+=(npm)
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 1 ] && return 0
  apt-get update -q >/dev/null || fail "step 'apt-get update' failed"
  APT_UPDATED=1
}
if [ ${#missing[@]} -gt 0 ]; then
  need_root "apt install" "${missing[*]}"
  say "apt: installing ${missing[*]}"
  apt_update
  for p in "${missing[@]}"; do
    apt-get install -y -q --no-install-recommends "$p" >/dev/null \
      || fail "step 'apt install': package '$p' did not install"
  done
fi

# The wasm CLI and tests run the wasm+relaxed kernels: WebAssembly relaxed SIMD, with the
# opcodes the compiler emits, needs Node 20 or newer (modules/kernels/arch/relaxed-simd.pre.js).
# The page does not use it, so an older Node is told, not refused.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || say "WARNING: Node $(node --version 2>/dev/null || echo '(none)') is too old for the wasm CLI and tests, which need Node 20 or newer (WebAssembly relaxed SIMD); the page does not use it"

# --- 2. bookworm-backports: cmake and the Catch2 sources ---------------------------------
BACKPORTS=/etc/apt/sources.list.d/cblab-backports.sources
cmake_ok() {
  local v; v=$(cmake --version 2>/dev/null | awk 'NR==1 {print $3}')
  [ -n "$v" ] && [ "$(printf '%s\n3.28\n' "$v" | sort -V | head -n1)" = "3.28" ]
}
if ! cmake_ok || [ ! -f "$PREFIX/catch2/catch_amalgamated.cpp" ]; then
  if [ ! -f "$BACKPORTS" ]; then
    need_root "backports" "cmake >= 3.28"
    say "apt: adding bookworm-backports (deb and deb-src) from the system mirror"
    printf 'Types: deb deb-src\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$(mirror_uri)" > "$BACKPORTS"
    APT_UPDATED=0
  fi
  apt_update
fi
if ! cmake_ok; then
  say "apt: installing cmake from bookworm-backports"
  apt-get install -y -q -t bookworm-backports cmake >/dev/null \
    || fail "step 'backports': package 'cmake' did not install from bookworm-backports"
  hash -r
  cmake_ok || fail "step 'backports': cmake is still older than 3.28 ($(cmake --version | head -n1))"
fi
if [ ! -f "$PREFIX/catch2/catch_amalgamated.cpp" ]; then
  say "catch2: downloading the 3.7.1 sources from bookworm-backports"
  rm -rf "$PREFIX/src/catch2" && mkdir -p "$PREFIX/src/catch2" "$PREFIX/catch2"
  (cd "$PREFIX/src/catch2" && apt-get source --download-only -q -o APT::Sandbox::User=root -t bookworm-backports catch2 >/dev/null) \
    || fail "step 'catch2': 'apt-get source catch2' from bookworm-backports failed"
  tarball=$(ls "$PREFIX"/src/catch2/catch2_*.orig.tar.* | head -n1)
  tar -xf "$tarball" -C "$PREFIX/src/catch2" || fail "step 'catch2': could not unpack $tarball"
  cp "$PREFIX"/src/catch2/*/extras/catch_amalgamated.hpp "$PREFIX"/src/catch2/*/extras/catch_amalgamated.cpp "$PREFIX/catch2/" \
    || fail "step 'catch2': the source package has no extras/catch_amalgamated.{hpp,cpp}"
  rm -rf "$PREFIX/src/catch2"
fi

# --- 3. trixie, downloaded into a private apt state (never installed) --------------------
TRIXIE="$PREFIX/apt-trixie"
trixie_apt() {
  apt-get -q -o Dir::Etc::SourceList="$TRIXIE/sources.list" -o Dir::Etc::SourceParts="$TRIXIE/parts" \
    -o Dir::State::Lists="$TRIXIE/lists" -o Dir::Cache="$TRIXIE/cache" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
trixie_ready=0
trixie_update() {
  [ "$trixie_ready" = 1 ] && return 0
  mkdir -p "$TRIXIE/parts" "$TRIXIE/lists/partial" "$TRIXIE/cache/archives/partial"
  local m; m=$(mirror_uri)
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\ndeb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$m" "$m" \
    > "$TRIXIE/sources.list"
  say "trixie: reading the package lists (private apt state in .deps/)"
  trixie_apt update >/dev/null || fail "step 'trixie lists': apt-get update of the private trixie state failed"
  trixie_ready=1
}
# fetch_deb PACKAGE DEST: download PACKAGE's .deb from trixie and unpack it into DEST
fetch_deb() {
  local pkg=$1 dest=$2 dir="$PREFIX/src/$1"
  trixie_update
  say "trixie: downloading $pkg"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && trixie_apt download "$pkg" >/dev/null) || fail "step 'trixie download': package '$pkg' could not be downloaded"
  mkdir -p "$dest"
  dpkg -x "$dir"/"$pkg"_*.deb "$dest" || fail "step 'trixie unpack': package '$pkg' could not be unpacked"
  rm -rf "$dir"
}

EMSDK="$PREFIX/emscripten/usr/share/emscripten"
if [ ! -x "$EMSDK/em++" ]; then
  rm -rf "$PREFIX/emscripten"
  fetch_deb emscripten "$PREFIX/emscripten"
fi
# Emscripten's own config: the system's clang-19 / binaryen / node, the shipped (frozen) cache.
# emcc reads .emscripten beside itself, so no environment variable is needed at build time.
cat > "$EMSDK/.emscripten" <<EOF
LLVM_ROOT = '/usr/bin'
LLVM_ADD_VERSION = '19'
CLANG_ADD_VERSION = '19'
BINARYEN_ROOT = '/usr'
NODE_JS = '/usr/bin/node'
CACHE = '$EMSDK/cache'
FROZEN_CACHE = True
EOF
mkdir -p "$EMSDK/node_modules"
[ -e "$EMSDK/node_modules/acorn" ] || ln -s /usr/share/nodejs/acorn "$EMSDK/node_modules/acorn"

if [ ! -f "$PREFIX/xsimd/usr/include/xsimd/xsimd.hpp" ]; then
  rm -rf "$PREFIX/xsimd"
  fetch_deb libxsimd-dev "$PREFIX/xsimd"
fi

if [ ! -f "$PREFIX/imgui/imgui.cpp" ]; then
  trixie_update
  say "trixie: downloading the imgui sources"
  rm -rf "$PREFIX/src/imgui" && mkdir -p "$PREFIX/src/imgui"
  (cd "$PREFIX/src/imgui" && trixie_apt source --download-only imgui >/dev/null) \
    || fail "step 'imgui': 'apt-get source imgui' from trixie failed"
  tarball=$(ls "$PREFIX"/src/imgui/imgui_*.orig.tar.* | head -n1)
  tar -xf "$tarball" -C "$PREFIX/src/imgui" || fail "step 'imgui': could not unpack $tarball"
  src=$(dirname "$(ls "$PREFIX"/src/imgui/*/imgui.cpp | head -n1)")
  rm -rf "$PREFIX/imgui" && mv "$src" "$PREFIX/imgui"
  rm -rf "$PREFIX/src/imgui"
fi

# --- 4. npm: playwright-core for the browser tests ---------------------------------------
if [ ! -d "$ROOT/web/tests/node_modules/playwright-core" ]; then
  say "npm: installing the browser-test dependencies (web/tests/package-lock.json)"
  (cd "$ROOT/web/tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || fail "step 'npm': 'npm ci' in web/tests failed"
fi

say "ready: $(cmake --version | head -n1), $(clang++-19 --version | head -n1), emscripten $(cat "$EMSDK/emscripten-version.txt" 2>/dev/null | tr -d '"'), xsimd $(awk '/define XSIMD_VERSION_(MAJOR|MINOR|PATCH)/ {printf "%s%s", sep, $3; sep="."}' "$PREFIX/xsimd/usr/include/xsimd/config/xsimd_config.hpp"), imgui $(awk '/define IMGUI_VERSION / {gsub(/"/, "", $3); print $3}' "$PREFIX/imgui/imgui.h")"

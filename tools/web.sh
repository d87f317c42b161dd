#!/usr/bin/env bash
# tools/web.sh — builds the cb-lab page (the engine compiled to WebAssembly) and serves it on
# http://127.0.0.1:8080/ (set-up included on a fresh machine). Usage: tools/web.sh [--port N]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
port=8080
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=${2:?"--port needs a number"}; shift 2 ;;
    *) echo "web.sh: unknown argument '$1'; usage: tools/web.sh [--port N]" >&2; exit 2 ;;
  esac
done
"$ROOT/tools/setup.sh"
echo "[web] building the page (preset wasm; log in build/web-build.log)"
mkdir -p build
if ! { cmake --preset wasm && cmake --build --preset wasm --target cblab_web; } > build/web-build.log 2>&1; then
  grep -E "error|FAILED" -A3 build/web-build.log | head -40
  echo "[web] the build failed; full log: build/web-build.log" >&2
  exit 1
fi
exec node tools/serve.mjs build/wasm/site --port "$port"

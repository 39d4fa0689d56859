#!/usr/bin/env bash
# Builds the release Workers bundle into crates/cloudflare/build/ with the tools setup.sh installed
# (worker-build would otherwise try to download wasm-bindgen and wasm-opt from GitHub), and prints
# the bundle size so a regression is seen.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}
export WASM_OPT_BIN=${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}
export ESBUILD_BIN=${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}

cd crates/cloudflare
# A failed build leaves the previous build/ behind: remove it so nothing stale is ever served.
rm -rf build
worker-build --release
test -f build/index.js && test -f build/index_bg.wasm
# Our own entry (js/entry.mjs) over worker-build's bundle: same wasm, without its per-request
# proxies. The result is one ES module again, build/index.js, next to build/index_bg.wasm.
mv build/index.js build/generated.js
cp js/entry.mjs build/entry.mjs
"$ESBUILD_BIN" build/entry.mjs --bundle --format=esm --minify --log-level=warning \
  --external:./index_bg.wasm '--external:cloudflare:*' --outfile=build/index.js
rm build/generated.js build/entry.mjs

raw=$(stat -c %s build/index_bg.wasm)
gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
printf '[build-worker] wasm bundle: %d KB raw, %d KB gzip\n' $((raw / 1024)) $((gz / 1024)) >&2

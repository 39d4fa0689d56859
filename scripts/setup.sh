#!/usr/bin/env bash
# Installs everything the build and the tests need, idempotently, from the package registries only.
# Tools land in ~/.cargo/bin (Rust) and ./node_modules + .tools/ (Node); a second run is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7

log() { printf '[setup] %s\n' "$*" >&2; }

# Workers build for wasm32-unknown-unknown, the Spin component for wasm32-wasip2. One rustup call:
# two concurrent ones can corrupt rustup's record of installed targets.
rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown wasm32-wasip2
# The test command runs clippy (in the default rustup profile, but not in the minimal one).
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
# The fuzz targets (scripts/fuzz.sh): a nightly toolchain (minimal profile) and cargo-fuzz.
./scripts/fuzz.sh setup

# worker-build: its major.minor must equal the `worker` crate's.
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "=$WORKER_BUILD_VERSION" --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly (no --locked: its lockfile
# names a crate version the index lacks).
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock 2>/dev/null || true)
WB_VERSION=${WB_VERSION:-0.2.130}
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
  log "installing wasm-bindgen-cli $WB_VERSION"
  cargo install wasm-bindgen-cli --version "=$WB_VERSION"
fi

# Node >= 22.12 for wrangler 4: the npm package `node` ships a real binary.
NODE_DIR=.tools/node
if ! [ -x "$NODE_DIR/node_modules/node/bin/node" ]; then
  log "installing Node 22 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund node@22 >/dev/null
fi
export PATH="$PWD/$NODE_DIR/node_modules/node/bin:$PATH"

# The project's npm packages (wrangler, miniflare, client libraries, playwright-core, axe-core, esbuild, binaryen).
# `npm ci` rejects wrangler's lockfile (workerd's other-platform packages are absent here).
if ! [ -d node_modules/wrangler ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm install"
  npm install --no-audit --no-fund >/dev/null
fi

# schemathesis (PyPI) for the management API's contract test, in a venv of its own.
SCHEMATHESIS_VERSION=4.32.5
if ! .tools/schemathesis/bin/st --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into .tools/schemathesis"
  python3 -m venv .tools/schemathesis
  .tools/schemathesis/bin/pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# A real headless browser for the page tests (Debian's Chromium; playwright-core drives it).
if ! [ -x /usr/bin/chromium ]; then
  log "installing chromium"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
log "ready"

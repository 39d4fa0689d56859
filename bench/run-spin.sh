#!/usr/bin/env bash
# The Spin benchmark in one command (a benchmark, not a test: scripts/test.sh does not run it):
#   ./bench/run-spin.sh
# Builds the release Spin component and the test host (scripts/build-spin.sh) and the floor
# component (bench/spin-floor), serves both with edgeauth-spin-host, loads them with wrk on loopback,
# bounded in time, and prints req/s, p50, p99, CPU per request and the ratio to the floor. See
# BENCHMARKS.md ("Spin").
# Environment: BENCH_SKIP_BUILD=1 reuses the built components and host; BENCH_DURATION, BENCH_WARMUP,
# BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_ONLY, BENCH_JSON, BENCH_PROFILE (see bench/common.mjs and
# bench/spin.mjs). With BENCH_PROFILE, build with CARGO_PROFILE_RELEASE_STRIP=false to keep the
# component's function names.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/setup.sh
export PATH="$ROOT/.tools/node/node_modules/node/bin:$PATH"

if ! command -v wrk >/dev/null; then
  echo "[bench] installing wrk" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  ./scripts/build-spin.sh
  cargo build --quiet --profile spin-bench -p edgeauth-spin-host --bin edgeauth-spin-host
  FLOOR=target/bench-floor/wasm32-wasip2/release/edgeauth_bench_floor.wasm
  rm -f "$FLOOR"
  cargo build --quiet --release --target wasm32-wasip2 --manifest-path bench/spin-floor/Cargo.toml --target-dir target/bench-floor
fi

# Its own process group, so every host it starts stops with it.
exec setsid --wait node bench/spin.mjs

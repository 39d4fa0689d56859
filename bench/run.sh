#!/usr/bin/env bash
# The edge benchmark in one command (a benchmark, not a test: scripts/test.sh does not run it):
#   ./bench/run.sh
# Builds the release Workers bundle, serves it under workerd through miniflare's API and, in the
# same run, panva's oidc-provider configured equivalently (bench/oidc-provider.mjs) and the edge peers
# (bench/peers.mjs: workers-oauth-provider and OpenAuth under workerd); loads them with
# wrk on loopback, bounded in time, and prints req/s, p50, p99, CPU per request from /proc, the
# ratios, the wasm bundle size and the cold start. See BENCHMARKS.md.
# Environment: BENCH_SKIP_BUILD=1 reuses crates/cloudflare/build; BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS,
# BENCH_CONNECTIONS, BENCH_ONLY, BENCH_JSON (see bench/bench.mjs); BENCH_PEERS=0 skips the peers (bench/peers.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/setup.sh
export PATH="$ROOT/.tools/node/node_modules/node/bin:$PATH"

# The benchmark's own dependencies: wrk (Debian); oidc-provider and the edge peers,
# @cloudflare/workers-oauth-provider and @openauthjs/openauth (bench/package.json, exact versions).
if ! command -v wrk >/dev/null; then
  echo "[bench] installing wrk" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
if ! [ -d bench/node_modules/oidc-provider ] || ! [ -d bench/node_modules/@cloudflare/workers-oauth-provider ] \
  || ! [ -d bench/node_modules/@openauthjs/openauth ] || [ bench/package.json -nt bench/node_modules/.package-lock.json ]; then
  echo "[bench] npm install (bench/)" >&2
  (cd bench && npm install --no-audit --no-fund >/dev/null)
fi

if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  ./scripts/build-worker.sh
fi

# Its own process group, so every server it starts (miniflare's workerd, oidc-provider) stops with it.
exec setsid --wait node bench/bench.mjs

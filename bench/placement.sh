#!/usr/bin/env bash
# The placement benchmark (a benchmark, not a test: scripts/test.sh does not run it):
#   ./bench/placement.sh
# Serves the release Workers bundle (crates/cloudflare/build, as scripts/build-worker.sh leaves it)
# under workerd through miniflare's API, behind bench/placement-worker.mjs, which delays each D1,
# KV, Durable Object and outbound call by a regional round trip and counts them per request; prints
# per profile the p50/p99 latency and the storage calls and sequential waves per workload. See
# BENCHMARKS.md, "Placement model".
# Environment: BENCH_BUILD=1 builds the bundle first; BENCH_PLACEMENT_REQUESTS, BENCH_PLACEMENT_WARMUP,
# BENCH_PLACEMENT_CONNECTIONS, BENCH_PLACEMENT_PROFILES, BENCH_PLACEMENT_ONLY, BENCH_JSON (see bench/placement.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.tools/node/node_modules/node/bin:$PATH"
if [ "${BENCH_BUILD:-}" = 1 ]; then
  ./scripts/setup.sh
  ./scripts/build-worker.sh
fi
# Its own process group, so workerd stops with it.
exec setsid --wait node bench/placement.mjs

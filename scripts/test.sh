#!/usr/bin/env bash
# Runs every test: native unit and flow tests of the core, the HTTP scenario suite against the
# native runtime, against the real Workers bundle under workerd (miniflare) and against the Spin
# component under a wasmtime host, the client-library interoperability tests, the browser tests of
# the pages, and one smoke test through `wrangler dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n[test] %s (%ss)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

step "setup"
./scripts/setup.sh
export PATH="$PWD/.tools/node/node_modules/node/bin:$PATH"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false

step "native: clippy, warnings denied (core, test kit)"
# Not the Spin test host: clippy checks its dependencies apart from the build, and for wasmtime
# that cost about 7 of the CI run's minutes for a few hundred lines of test harness.
cargo clippy -p edgeauth-core -p edgeauth-testkit --all-targets --quiet -- -D warnings

step "native: cargo test (core units, the layout check, core flows, test kit, Spin test host)"
# The Spin component links for wasm32-wasip2 only; it is built and tested below. The test host is
# tested on its own: resolved alone, its features match `scripts/build-spin.sh`'s build of it, so
# wasmtime is compiled once (with the workspace, dev-dependency features would differ and build it twice).
cargo test --workspace --exclude edgeauth-spin --exclude edgeauth-spin-host --quiet
cargo test -p edgeauth-spin-host --quiet

step "native: fuzz the parsers of untrusted bytes, 10 s per target (cargo-fuzz, libFuzzer; a crash fails)"
./scripts/fuzz.sh short

step "native: scenario suite over HTTP"
cargo build --quiet -p edgeauth-testkit --bin edgeauth-native
TARGET=native node --test --test-concurrency=1 'tests/scenarios/*.test.mjs'

step "workers: build the release bundle"
./scripts/build-worker.sh

step "workers: the same scenario suite under workerd (miniflare)"
TARGET=worker node --test --test-concurrency=1 'tests/scenarios/*.test.mjs'

step "management API: the OpenAPI contract test (schemathesis) against native and workerd"
TARGET=native node --test 'tests/contract/*.test.mjs'
TARGET=worker node --test 'tests/contract/*.test.mjs'

step "spin: build the component and its test host"
./scripts/build-spin.sh

step "spin: the same scenario suite, the host tests, interoperability and browser tests under the Spin host"
# Not the contract test: the management API is the core's, contract-tested above on native and
# workerd; on the Spin host it cost over two minutes and found nothing the scenarios do not.
TARGET=spin node --test --test-concurrency=1 'tests/scenarios/*.test.mjs' 'tests/spin/*.test.mjs' tests/e2e/interop.test.mjs tests/e2e/browser.test.mjs tests/e2e/federation.test.mjs tests/e2e/extensions.test.mjs tests/e2e/passkeys.test.mjs tests/e2e/stepup.test.mjs tests/e2e/branding.test.mjs tests/e2e/a11y.test.mjs tests/e2e/self-service.test.mjs

step "workers: wrangler dev smoke, client-library interoperability, browser tests"
TARGET=worker node --test --test-concurrency=1 'tests/e2e/*.test.mjs'

step "all tests passed"

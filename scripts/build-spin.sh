#!/usr/bin/env bash
# Builds the Spin component (wasm32-wasip2, release: what `spin build` runs, see spin.toml) and the
# test host that serves it (`edgeauth-spin-host`, native), and prints the component's size so a
# regression is seen.
set -euo pipefail
cd "$(dirname "$0")/.."
# setup.sh installs the target; this keeps `scripts/dev-spin.sh` working on its own.
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

WASM=target/wasm32-wasip2/release/edgeauth_spin.wasm
# A failed build must not leave an older component to be tested.
rm -f "$WASM"
# The RSA bignum at opt-level 3 here only (spin.toml's build command says the same): Spin has no
# WebCrypto, so a workspace's two RSA-2048 keys are generated in wasm, and at 3 instead of "s"
# creating 12 workspaces under the test host took 28-46 s instead of 48-61 s (same busy machine,
# alternating builds). The Workers bundle, which must stay under 1 MB, keeps "s".
cargo build --quiet --release --target wasm32-wasip2 -p edgeauth-spin --config profile.release.package.num-bigint-dig.opt-level=3
cargo build --quiet -p edgeauth-spin-host --bin edgeauth-spin-host

raw=$(stat -c %s "$WASM")
gz=$(gzip -9 -c "$WASM" | wc -c)
printf '[build-spin] spin component: %d KB raw, %d KB gzip\n' $((raw / 1024)) $((gz / 1024)) >&2

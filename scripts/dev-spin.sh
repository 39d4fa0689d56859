#!/usr/bin/env bash
# Builds the Spin component and serves it locally on http://127.0.0.1:3000 with a demo tenant,
# under the project's wasmtime host (the Spin CLI cannot be installed here). With the Spin CLI,
# the equivalent is (see the README's "Running on Spin"):
#   spin build && SPIN_VARIABLE_MASTER_SECRET=... SPIN_VARIABLE_ROOT_SECRET=... scripts/spin-up.sh
# which runs `spin up` with every migration, in order:
#   args=(); for f in migrations/*.sql; do args+=(--sqlite "@$f"); done; spin up "${args[@]}"
# then, in a second terminal, the scripts/seed-demo.sh line that spin-up.sh prints.
# Every start begins from an empty state.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3000}

./scripts/build-spin.sh
export SPIN_VARIABLE_ROOT_SECRET=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
export SPIN_VARIABLE_MASTER_SECRET=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
MIGRATIONS=()
for f in migrations/*.sql; do MIGRATIONS+=(--sqlite "@$f"); done

target/debug/edgeauth-spin-host --from spin.toml --listen "127.0.0.1:$PORT" "${MIGRATIONS[@]}" &
HOST=$!
trap 'kill $HOST 2>/dev/null || true' EXIT INT TERM

printf '\nedgeauth is running as a Spin component (edgeauth-spin-host)\n'
./scripts/seed-demo.sh "http://127.0.0.1:$PORT" "$SPIN_VARIABLE_ROOT_SECRET"
printf '\nPress Ctrl-C to stop.\n'
wait $HOST

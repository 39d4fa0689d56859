#!/usr/bin/env bash
# Serves the built component with the Spin CLI (SPIN_BIN, else `spin` on PATH): `spin up` with one
# `--sqlite @file` per file in migrations/, in order (they are idempotent), and any further
# arguments passed through (paths in them are relative to the repository root). The same as:
#   args=(); for f in migrations/*.sql; do args+=(--sqlite "@$f"); done; spin up "${args[@]}"
# Before it starts, it prints the seed-demo.sh line to paste into a second terminal.
# Usage: SPIN_VARIABLE_MASTER_SECRET=... SPIN_VARIABLE_ROOT_SECRET=... scripts/spin-up.sh [spin up arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
SPIN=${SPIN_BIN:-spin}
if ! command -v "$SPIN" >/dev/null; then
  echo "spin-up.sh: no Spin CLI ($SPIN): install it, or set SPIN_BIN to its path" >&2
  exit 1
fi

MIGRATIONS=()
for f in migrations/*.sql; do MIGRATIONS+=(--sqlite "@$f"); done

# The address `spin up` will serve on: --listen from the arguments, else Spin's default.
LISTEN=127.0.0.1:3000
prev=
for a in "$@"; do
  case $a in --listen=*) LISTEN=${a#--listen=} ;; esac
  if [ "$prev" = --listen ]; then LISTEN=$a; fi
  prev=$a
done

if [ -n "${SPIN_VARIABLE_ROOT_SECRET:-}" ]; then
  printf '\nWhen Spin serves, seed the demo tenant from a second terminal (in %s):\n\n  ./scripts/seed-demo.sh http://%s %q\n\n' "$PWD" "$LISTEN" "$SPIN_VARIABLE_ROOT_SECRET"
else
  printf '\nSPIN_VARIABLE_ROOT_SECRET is not set: the bootstrap API (and scripts/seed-demo.sh) is off.\n\n'
fi

exec "$SPIN" up "${MIGRATIONS[@]}" "$@"

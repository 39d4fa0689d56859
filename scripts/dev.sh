#!/usr/bin/env bash
# Installs what is needed, builds the worker, and serves it locally with `wrangler dev` on
# http://127.0.0.1:8787 with a demo tenant, workspace, client and user (printed below).
# Every start begins from an empty local state, so the printed client secret is always valid.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8787}

./scripts/setup.sh
export PATH="$PWD/.tools/node/node_modules/node/bin:$PATH"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false
./scripts/build-worker.sh

STATE=.wrangler/dev-state
rm -rf "$STATE"
ROOT_SECRET=$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')
MASTER_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
printf 'MASTER_SECRET=%s\nROOT_SECRET=%s\n' "$MASTER_SECRET" "$ROOT_SECRET" > .dev.vars

npx wrangler d1 migrations apply DB --local --persist-to "$STATE" >/dev/null
setsid npx wrangler dev --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" --show-interactive-dev-session=false > .wrangler/dev.log 2>&1 &
WRANGLER=$!
trap 'kill -- -$WRANGLER 2>/dev/null || true' EXIT INT TERM

BASE="http://127.0.0.1:$PORT"
printf '\nedgeauth is running under wrangler dev (log: .wrangler/dev.log)\n'
./scripts/seed-demo.sh "$BASE" "$ROOT_SECRET"
cat <<EOF

Press Ctrl-C to stop.
EOF
wait $WRANGLER

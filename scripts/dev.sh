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
for _ in $(seq 1 120); do
  curl -s -o /dev/null "$BASE/" && break
  sleep 0.5
done

admin() { curl -sf -X "$1" "$BASE$2" -H "authorization: Bearer $ROOT_SECRET" -H 'content-type: application/json' -d "$3"; }
admin PUT /admin/tenants/demo '{"name":"Demo tenant"}' >/dev/null
admin PUT /admin/tenants/demo/workspaces/main '{"name":"Demo workspace"}' >/dev/null
CLIENT=$(admin POST /admin/tenants/demo/workspaces/main/clients '{"client_id":"demo-app","client_name":"Demo app","redirect_uris":["http://localhost:3000/callback","https://oauth.pstmn.io/v1/callback"],"post_logout_redirect_uris":["http://localhost:3000/"],"grant_types":["authorization_code","refresh_token","client_credentials"],"scope":"openid profile email offline_access"}')
admin POST /admin/tenants/demo/workspaces/main/users '{"username":"demo","password":"demo-password","claims":{"name":"Demo User","email":"demo@example.com","email_verified":true}}' >/dev/null
SECRET=$(node -e 'console.log(JSON.parse(process.argv[1]).client_secret)' "$CLIENT")

cat <<EOF

edgeauth is running under wrangler dev (log: .wrangler/dev.log)

  issuer         $BASE/demo/main
  discovery      $BASE/demo/main/.well-known/openid-configuration
  client         demo-app / $SECRET   (client_secret_basic)
  user           demo / demo-password
  root secret    $ROOT_SECRET   (bootstrap API: $BASE/admin/...)

  sign in:       $BASE/demo/main/authorize?response_type=code&client_id=demo-app&redirect_uri=https%3A%2F%2Foauth.pstmn.io%2Fv1%2Fcallback&scope=openid%20profile%20email&state=xyz
  client token:  curl -u demo-app:$SECRET -d grant_type=client_credentials $BASE/demo/main/token

Press Ctrl-C to stop.
EOF
wait $WRANGLER

#!/usr/bin/env bash
# Seeds the demo tenant `demo`, workspace `main`, client `demo-app` and user `demo` through the
# bootstrap API of a running server, and prints how to use them. Works against any target
# (wrangler dev, `spin up`, the Spin test host, edgeauth-native).
# Usage: scripts/seed-demo.sh BASE_URL ROOT_SECRET
set -euo pipefail
BASE=${1:?usage: seed-demo.sh BASE_URL ROOT_SECRET}
ROOT_SECRET=${2:?usage: seed-demo.sh BASE_URL ROOT_SECRET}

for i in $(seq 1 120); do
  curl -s -o /dev/null "$BASE/" && break
  if [ "$i" = 120 ]; then
    echo "seed-demo.sh: nothing answers at $BASE after 60 s: is the server running, on that address?" >&2
    exit 1
  fi
  sleep 0.5
done

# One bootstrap API call: prints the response body, or the status and body of a refusal and exits.
admin() {
  local out status
  out=$(curl -s -w '\n%{http_code}' -X "$1" "$BASE$2" -H "authorization: Bearer $ROOT_SECRET" -H 'content-type: application/json' -d "$3") || true
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$status" = 000 ]; then
    echo "seed-demo.sh: $1 $2: no answer from $BASE" >&2
    exit 1
  elif [ "$status" -ge 300 ]; then
    printf 'seed-demo.sh: %s %s answered %s:\n%s\n' "$1" "$2" "$status" "$out" >&2
    [ "$status" = 401 ] && echo "seed-demo.sh: is ROOT_SECRET the server's root secret (SPIN_VARIABLE_ROOT_SECRET / ROOT_SECRET)?" >&2
    [ "$status" -ge 500 ] && echo "seed-demo.sh: a server error: its log says why; on Spin, were all migrations applied (scripts/spin-up.sh)?" >&2
    exit 1
  fi
  printf '%s' "$out"
}
admin PUT /admin/tenants/demo '{"name":"Demo tenant"}' >/dev/null
admin PUT /admin/tenants/demo/workspaces/main '{"name":"Demo workspace"}' >/dev/null
CLIENT=$(admin POST /admin/tenants/demo/workspaces/main/clients '{"client_id":"demo-app","client_name":"Demo app","redirect_uris":["http://localhost:3000/callback","https://oauth.pstmn.io/v1/callback"],"post_logout_redirect_uris":["http://localhost:3000/"],"grant_types":["authorization_code","refresh_token","client_credentials"],"scope":"openid profile email offline_access"}')
admin POST /admin/tenants/demo/workspaces/main/users '{"username":"demo","password":"demo-password","claims":{"name":"Demo User","email":"demo@example.com","email_verified":true}}' >/dev/null
SECRET=$(printf '%s' "$CLIENT" | sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p')

cat <<EOT

  issuer         $BASE/demo/main
  discovery      $BASE/demo/main/.well-known/openid-configuration
  client         demo-app / $SECRET   (client_secret_basic)
  user           demo / demo-password
  root secret    $ROOT_SECRET   (bootstrap API: $BASE/admin/...)

  sign in:       $BASE/demo/main/authorize?response_type=code&client_id=demo-app&redirect_uri=https%3A%2F%2Foauth.pstmn.io%2Fv1%2Fcallback&scope=openid%20profile%20email&state=xyz
  client token:  curl -u demo-app:$SECRET -d grant_type=client_credentials $BASE/demo/main/token
EOT

// panva's oidc-provider, configured as close to the edgeauth benchmark workspace as it allows, as
// the baseline of bench/run.sh. Run as its own process so the OS accounts its CPU alone:
//   NODE_ENV=production node bench/oidc-provider.mjs   -> prints "READY <port> <secrets JSON>"
//
// Equivalences (edgeauth on the left):
// - keys: one P-256 (ES256) and two RSA-2048 (RS256, PS256) signing keys, all in the JWKS;
// - clients (client_secret_basic): `svc` (client_credentials), `web` (authorization_code only),
//   `app` (authorization_code + refresh_token, rotated on every use);
// - client_credentials gives an RFC 9068 JWT access token, ES256 or PS256 by resource indicator
//   (edgeauth: two workspaces whose default_signing_alg is ES256 or PS256);
// - ID tokens ES256 with the scope's claims (conformIdTokenClaims off, as edgeauth puts them in);
// - PKCE S256 required; code 60 s, access token 600 s, ID token 3600 s, refresh 30 days;
// - storage: SQLite in memory (node:sqlite), as miniflare's D1 is SQLite in memory.
// Where they cannot match: oidc-provider's userinfo accepts only its own opaque access tokens, so
// the code flow and the refresh grant give an opaque (stored) access token here and a JWT there.
import http from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import Provider from "oidc-provider";

export const RESOURCE_ES256 = "https://api.example/es256";
export const RESOURCE_PS256 = "https://api.example/ps256";
const REDIRECT_URI = "https://app.example/cb";

// ---- storage: one table, prepared statements -------------------------------------------------
const db = new DatabaseSync(":memory:");
db.exec(`CREATE TABLE oidc (model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL, grant_id TEXT,
  user_code TEXT, uid TEXT, expires_at INTEGER, consumed_at INTEGER, PRIMARY KEY (model, id));
  CREATE INDEX oidc_grant ON oidc (grant_id); CREATE INDEX oidc_uid ON oidc (model, uid);
  CREATE INDEX oidc_user_code ON oidc (model, user_code);`);
const q = {
  upsert: db.prepare(`INSERT INTO oidc (model, id, payload, grant_id, user_code, uid, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
    user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`),
  find: db.prepare(`SELECT payload, consumed_at, expires_at FROM oidc WHERE model = ? AND id = ?`),
  findByUid: db.prepare(`SELECT payload, consumed_at, expires_at FROM oidc WHERE model = ? AND uid = ?`),
  findByUserCode: db.prepare(`SELECT payload, consumed_at, expires_at FROM oidc WHERE model = ? AND user_code = ?`),
  consume: db.prepare(`UPDATE oidc SET consumed_at = ? WHERE model = ? AND id = ?`),
  destroy: db.prepare(`DELETE FROM oidc WHERE model = ? AND id = ?`),
  revokeByGrantId: db.prepare(`DELETE FROM oidc WHERE grant_id = ?`),
};
function row(r) {
  if (!r || (r.expires_at != null && r.expires_at <= Date.now())) return undefined;
  const p = JSON.parse(r.payload);
  if (r.consumed_at != null) p.consumed = r.consumed_at;
  return p;
}
class SqliteAdapter {
  constructor(model) { this.model = model; }
  async upsert(id, payload, expiresIn) {
    q.upsert.run(this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null,
      expiresIn ? Date.now() + expiresIn * 1000 : null);
  }
  async find(id) { return row(q.find.get(this.model, id)); }
  async findByUid(uid) { return row(q.findByUid.get(this.model, uid)); }
  async findByUserCode(userCode) { return row(q.findByUserCode.get(this.model, userCode)); }
  async consume(id) { q.consume.run(Math.floor(Date.now() / 1000), this.model, id); }
  async destroy(id) { q.destroy.run(this.model, id); }
  async revokeByGrantId(grantId) { q.revokeByGrantId.run(grantId); }
}

// ---- keys, clients, account -------------------------------------------------------------------
function jwk(alg, kid) {
  const pair = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...pair.privateKey.export({ format: "jwk" }), kid, alg, use: "sig" };
}
const secrets = { svc: randomBytes(32).toString("base64url"), web: randomBytes(32).toString("base64url"), app: randomBytes(32).toString("base64url") };
const client = (client_id, grant_types, extra = {}) => ({
  client_id, client_secret: secrets[client_id], grant_types, token_endpoint_auth_method: "client_secret_basic",
  id_token_signed_response_alg: "ES256", ...extra,
});
const account = {
  accountId: "bench-user",
  async claims() {
    return { sub: "bench-user", name: "Bench User", preferred_username: "bench", email: "bench@example.com", email_verified: true };
  },
};

const port = Number(process.env.PORT ?? 0);
const server = http.createServer();
await new Promise((r) => server.listen(port, "127.0.0.1", r));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: SqliteAdapter,
  jwks: { keys: [jwk("ES256", "es256-1"), jwk("RS256", "rs256-1"), jwk("PS256", "ps256-1")] },
  clients: [
    client("svc", ["client_credentials"], { response_types: [], redirect_uris: [], scope: "api" }),
    client("web", ["authorization_code"], { response_types: ["code"], redirect_uris: [REDIRECT_URI], scope: "openid profile email" }),
    client("app", ["authorization_code", "refresh_token"], { response_types: ["code"], redirect_uris: [REDIRECT_URI], scope: "openid profile email offline_access" }),
  ],
  claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email", "email_verified"] },
  scopes: ["openid", "offline_access", "profile", "email", "api"],
  conformIdTokenClaims: false,
  cookies: { keys: [randomBytes(32).toString("base64url")] },
  findAccount: async (_ctx, id) => (id === account.accountId ? account : undefined),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 600, ClientCredentials: 600, IdToken: 3600, AuthorizationCode: 60, RefreshToken: 30 * 86400,
    Grant: 30 * 86400, Session: 8 * 3600, Interaction: 3600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: () => false,
      getResourceServerInfo: (_ctx, resource) => {
        const alg = { [RESOURCE_ES256]: "ES256", [RESOURCE_PS256]: "PS256" }[resource];
        if (!alg) throw new Provider.errors.InvalidTarget();
        return { scope: "api", audience: resource, accessTokenTTL: 600, accessTokenFormat: "jwt", jwt: { sign: { alg } } };
      },
    },
  },
});
provider.on("server_error", (_ctx, err) => process.stderr.write(`[oidc-provider] server_error: ${err?.stack ?? err}\n`));

// The one interaction: the user is signed in and consents to whatever was asked (the benchmark
// does this once; later authorizations reuse the SSO session and the stored grant).
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params, session } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: account.accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  const result = { consent: { grantId } };
  if (!session?.accountId) result.login = { accountId: account.accountId };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on("request", (req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((e) => { res.statusCode = 500; res.end(String(e)); });
  } else {
    callback(req, res);
  }
});
process.stdout.write(`READY ${server.address().port} ${JSON.stringify(secrets)}\n`);

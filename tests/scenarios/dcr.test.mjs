// Dynamic client registration (RFC 7591) and management (RFC 7592) at /{tenant}/{workspace}/fdx/dcr/register:
// discovery, open and initial-access-token registration, software statements (inline and fetched
// issuer keys; wrong signature, expired, untrusted), every bad-metadata case (nothing stored, no
// token used up), the fapi_br profile's rules, the registration access token (another client's is
// 401 and changes nothing), replace and delete, registered clients in the management API and at the
// token endpoint (client_secret_basic, private_key_jwt, the code flow), and the management API's
// DCR settings and initial access tokens.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { startTarget, basic, form } from "../support/target.mjs";
import { api, systemClient, must, assertProblem } from "../support/management.mjs";
import { authorizeCode } from "../support/signin.mjs";
import { keyPair, signJwt, clientAssertion } from "../support/fapi.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
const DIRECTORY = "https://directory.example";
const REMOTE = "https://remote-directory.example";
const now = () => Math.floor(Date.now() / 1000);

let t, sys, call, jwksServer, port;
let dirKey, impostorKey, remoteKey, clientKey, psKey;
const issuers = {};

/** POST a registration; `token` is the initial access token (or a raw Authorization value in `raw`). */
async function register(ws, body, { token, raw, contentType = "application/json" } = {}) {
  const headers = { "content-type": contentType };
  if (raw !== undefined) headers.authorization = raw;
  else if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${issuers[ws]}/fdx/dcr/register`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

/** A call to a client configuration endpoint (RFC 7592) with a registration access token. */
async function configure(uri, token, method = "GET", body) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(uri, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

const clientsOf = async (ws) => (await call("GET", `/api/tenants/acme/workspaces/${ws}/clients?limit=100`)).items.map((c) => c.client_id).sort();
const cc = (ws, id, secret, scope) => form(`${issuers[ws]}/token`, { grant_type: "client_credentials", ...(scope ? { scope } : {}) }, { authorization: basic(id, secret) });

function assertOAuthError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error, code, r.text);
  assert.equal(typeof r.json.error_description, "string");
}

before(async () => {
  dirKey = await keyPair("ES256", "dir-1");
  impostorKey = await keyPair("ES256", "dir-1"); // same kid, another key
  remoteKey = await keyPair("ES256", "remote-1");
  clientKey = await keyPair("ES256", "client-1");
  psKey = await keyPair("PS256", "tpp-1");
  jwksServer = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    res.writeHead(path === "/directory/jwks" || path === "/client/jwks" ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(path === "/directory/jwks" ? { keys: [remoteKey.jwk] } : path === "/client/jwks" ? { keys: [clientKey.jwk] } : {}));
  });
  await new Promise((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  port = jwksServer.address().port;
  t = await startTarget();
  sys = await systemClient(t, { client_id: "ops" });
  call = must(t, sys.token);
  const trusted = [
    { issuer: DIRECTORY, jwks: { keys: [dirKey.jwk] } },
    { issuer: REMOTE, jwks_uri: `http://127.0.0.1:${port}/directory/jwks` },
  ];
  issuers.open = await t.workspace("acme", "open", { dcr: { enabled: true, initial_access_token_required: false, trusted_issuers: trusted } });
  issuers.gated = await t.workspace("acme", "gated", { dcr: { enabled: true } });
  issuers.ssa = await t.workspace("acme", "ssa", { dcr: { enabled: true, initial_access_token_required: false, software_statement_required: true, trusted_issuers: trusted, allowed_scopes: ["openid", "accounts"] } });
  issuers.off = await t.workspace("acme", "off");
  issuers.fapi = await t.workspace("acme", "fapi", { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300, dcr: { enabled: true, initial_access_token_required: false } });
  await t.user("acme", "open", USER);
});
after(async () => {
  await t.stop();
  jwksServer.close();
});

test("discovery advertises registration_endpoint only where registration is on; other paths are not served", async () => {
  const doc = await (await fetch(`${issuers.open}/.well-known/openid-configuration`)).json();
  assert.equal(doc.registration_endpoint, `${issuers.open}/fdx/dcr/register`);
  const off = await (await fetch(`${issuers.off}/.well-known/openid-configuration`)).json();
  assert.equal(off.registration_endpoint, undefined);
  assertOAuthError(await register("off", { redirect_uris: [REDIRECT] }), 404, "not_found");
  for (const path of ["/oauth2/register", "/register"]) {
    const r = await fetch(`${issuers.open}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
    assert.equal(r.status, 404, path);
  }
  assertOAuthError(await configure(`${issuers.open}/fdx/dcr/register`, null, "GET"), 405, "method_not_allowed");
  assert.deepEqual(await clientsOf("off"), []);
});

test("the system workspace never serves registration, even switched on", async () => {
  const path = "/api/tenants/system/workspaces/system/dcr";
  const before_ = await call("GET", path);
  await call("PUT", path, { enabled: true, initial_access_token_required: false });
  const doc = await (await fetch(`${t.base}/system/system/.well-known/openid-configuration`)).json();
  assert.equal(doc.registration_endpoint, undefined);
  const r = await fetch(`${t.base}/system/system/fdx/dcr/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_types: ["client_credentials"] }) });
  assert.equal(r.status, 404);
  await call("PUT", path, before_);
});

test("open registration: the secret and registration token are shown once; the client works with client_secret_basic and the code flow", async () => {
  const r = await register("open", {
    client_name: "Shop", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token", "client_credentials"], scope: "openid profile offline_access",
    // Fields only an administrator may set, and one nobody knows: ignored (RFC 7591 §2).
    skip_consent: true, resource_server: true, managed_tenant: "acme", client_id: "chosen", made_up: 1,
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get("cache-control"), "no-store");
  const c = r.json;
  assert.notEqual(c.client_id, "chosen", "the server assigns the client_id");
  assert.ok(c.client_secret.length >= 43 && c.registration_access_token.length >= 43);
  assert.equal(c.registration_client_uri, `${issuers.open}/fdx/dcr/register/${c.client_id}`);
  assert.equal(c.client_secret_expires_at, 0);
  assert.ok(Math.abs(c.client_id_issued_at - now()) < 600);
  assert.deepEqual([c.client_name, c.token_endpoint_auth_method, c.response_types, c.application_type], ["Shop", "client_secret_basic", ["code"], "web"]);
  assert.equal(c.skip_consent, false);
  assert.equal(c.resource_server, undefined);
  assert.equal(c.managed_tenant, undefined);
  assert.equal(c.made_up, undefined);
  // In the management API, without the secret or the registration token.
  const got = await call("GET", `/api/tenants/acme/workspaces/open/clients/${c.client_id}`);
  assert.equal(got.client_name, "Shop");
  const listed = JSON.stringify(await call("GET", "/api/tenants/acme/workspaces/open/clients"));
  for (const secret of [c.client_secret, c.registration_access_token]) {
    assert.ok(!JSON.stringify(got).includes(secret) && !listed.includes(secret));
  }
  // client_credentials with client_secret_basic.
  const tok = await cc("open", c.client_id, c.client_secret, "profile");
  assert.equal(tok.status, 200, tok.text);
  assert.equal(tok.json.scope, "profile");
  assertOAuthError(await cc("open", c.client_id, c.client_secret, "admin"), 400, "invalid_scope");
  // The authorization code flow, to tokens.
  const { code, verifier } = await authorizeCode(issuers.open, { client_id: c.client_id, redirect_uri: REDIRECT, scope: "openid offline_access", ...USER });
  const tokens = await form(`${issuers.open}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic(c.client_id, c.client_secret) });
  assert.equal(tokens.status, 200, tokens.text);
  assert.ok(tokens.json.id_token && tokens.json.refresh_token);
});

test("private_key_jwt with registered jwks or jwks_uri authenticates; a native app may use loopback http", async () => {
  for (const keys of [{ jwks: { keys: [clientKey.jwk] } }, { jwks_uri: `http://127.0.0.1:${port}/client/jwks` }]) {
    const r = await register("open", { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256", scope: "openid", ...keys });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.client_secret, undefined, "no secret for private_key_jwt");
    assert.deepEqual(r.json.response_types, [], "no response types without the code grant");
    const id = r.json.client_id;
    const ok = await form(`${issuers.open}/token`, { grant_type: "client_credentials", ...(await clientAssertion(clientKey, id, issuers.open)) });
    assert.equal(ok.status, 200, ok.text);
    const forged = await form(`${issuers.open}/token`, { grant_type: "client_credentials", ...(await clientAssertion(await keyPair("ES256", "client-1"), id, issuers.open)) });
    assertOAuthError(forged, 401, "invalid_client");
  }
  const native = await register("open", { application_type: "native", redirect_uris: ["http://127.0.0.1:7777/cb", "com.example.app:/cb"], token_endpoint_auth_method: "none" });
  assert.equal(native.status, 201, native.text);
  assert.equal(native.json.client_secret, undefined);
});

test("every bad metadata case is a 400 with its RFC 7591 code, and stores nothing", async () => {
  const before_ = await clientsOf("open");
  const web = (extra) => ({ redirect_uris: [REDIRECT], ...extra });
  const cases = [
    [{ redirect_uris: ["https://rp.example/cb#fragment"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["http://rp.example/cb"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["http://127.0.0.1:7777/cb"] }, "invalid_redirect_uri"], // a web client: https only
    [{ redirect_uris: ["https://127.0.0.1:80@evil.example/cb"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["javascript:alert(1)"], application_type: "native" }, "invalid_redirect_uri"],
    [{}, "invalid_redirect_uri"], // the code grant needs redirect URIs
    [{ post_logout_redirect_uris: ["http://evil.example/"], redirect_uris: [REDIRECT] }, "invalid_redirect_uri"],
    [web({ response_types: [] }), "invalid_client_metadata"],
    [{ grant_types: ["client_credentials"], response_types: ["code"] }, "invalid_client_metadata"],
    [{ grant_types: ["client_credentials", "refresh_token"] }, "invalid_client_metadata"],
    [web({ grant_types: ["implicit"], response_types: ["token"] }), "invalid_client_metadata"],
    [web({ response_types: ["token"] }), "invalid_client_metadata"],
    [web({ grant_types: ["urn:ietf:params:oauth:grant-type:device_code"] }), "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [clientKey.jwk] }, jwks_uri: `http://127.0.0.1:${port}/client/jwks` }), "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "client_secret_basic", jwks: { keys: [clientKey.jwk] }, jwks_uri: `http://127.0.0.1:${port}/client/jwks` }), "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "private_key_jwt" }), "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "private_key_jwt", jwks: { not: "a set" } }), "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://evil.example/jwks" }), "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "client_secret_jwt" }), "invalid_client_metadata"],
    [{ token_endpoint_auth_method: "none", grant_types: ["client_credentials"] }, "invalid_client_metadata"],
    [web({ token_endpoint_auth_method: "tls_client_auth" }), "invalid_client_metadata"],
    [web({ scope: "openid admin" }), "invalid_client_metadata"],
    [web({ id_token_signed_response_alg: "none" }), "invalid_client_metadata"],
    [web({ id_token_signed_response_alg: "HS256" }), "invalid_client_metadata"],
    [{ redirect_uris: REDIRECT }, "invalid_client_metadata"],
    [web({ grant_types: "authorization_code" }), "invalid_client_metadata"],
    [web({ application_type: "desktop" }), "invalid_client_metadata"],
    [web({ client_name: "x".repeat(300) }), "invalid_client_metadata"],
    [web({ software_statement: 42 }), "invalid_software_statement"],
    [web({ software_statement: "not.a.jwt" }), "invalid_software_statement"],
  ];
  for (const [body, code] of cases) {
    assertOAuthError(await register("open", body), 400, code);
  }
  for (const [body, contentType] of [["{", "application/json"], ["[]", "application/json"], ["null", "application/json"], ["redirect_uris=https://rp.example/cb", "application/x-www-form-urlencoded"]]) {
    assertOAuthError(await register("open", body, { contentType }), 400, "invalid_client_metadata");
  }
  assert.deepEqual(await clientsOf("open"), before_, "nothing was stored");
});

test("the fapi_br profile: only private_key_jwt and tls_client_auth, PS256, PAR required", async () => {
  const jwks = { keys: [psKey.jwk] };
  const ok = { redirect_uris: [REDIRECT], token_endpoint_auth_method: "private_key_jwt", jwks, scope: "openid" };
  const r = await register("fapi", ok);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.require_pushed_authorization_requests, true);
  assert.equal(r.json.require_signed_request_object, true);
  assert.equal(r.json.id_token_signed_response_alg, "PS256");
  assert.equal(r.json.client_secret, undefined);
  const before_ = await clientsOf("fapi");
  for (const bad of [
    { ...ok, token_endpoint_auth_method: "client_secret_basic", jwks: undefined },
    { ...ok, token_endpoint_auth_method: "client_secret_post", jwks: undefined },
    { ...ok, token_endpoint_auth_method: "self_signed_tls_client_auth", jwks: undefined },
    { ...ok, token_endpoint_auth_method: "none", jwks: undefined },
    { ...ok, id_token_signed_response_alg: "ES256" },
    { ...ok, request_object_signing_alg: "RS256" },
    { ...ok, token_endpoint_auth_signing_alg: "ES256" },
    { ...ok, require_pushed_authorization_requests: false },
  ]) {
    assertOAuthError(await register("fapi", bad), 400, "invalid_client_metadata");
  }
  assert.deepEqual(await clientsOf("fapi"), before_);
  const mtls = await register("fapi", { redirect_uris: [REDIRECT], token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: "CN=tpp,O=Banco Teste,C=BR" });
  assert.equal(mtls.status, 201, mtls.text);
  assert.equal(mtls.json.tls_client_certificate_bound_access_tokens, true);
});

test("initial access tokens: required, absent, wrong, used up, deleted; a refused registration uses none", async () => {
  const IAT = "/api/tenants/acme/workspaces/gated/dcr/initial-access-tokens";
  const minted = await api(t, sys.token, "POST", IAT, { description: "partner onboarding", expires_in: 3600, max_uses: 1 });
  assert.equal(minted.status, 201, minted.text);
  assert.equal(minted.headers.get("location"), `${IAT}/${minted.json.id}`);
  const iat = minted.json.token;
  assert.ok(iat.length >= 43);
  assert.deepEqual([minted.json.uses, minted.json.max_uses, minted.json.description], [0, 1, "partner onboarding"]);
  const listed = await call("GET", IAT);
  assert.equal(listed.items.length, 1);
  assert.ok(!JSON.stringify(listed).includes(iat), "the list never shows a token");

  const body = { grant_types: ["client_credentials"], scope: "openid" };
  const absent = await register("gated", body);
  assert.equal(absent.status, 401, absent.text);
  assert.equal(absent.headers.get("www-authenticate"), "Bearer");
  const wrong = await register("gated", body, { token: "not-the-token" });
  assertOAuthError(wrong, 401, "invalid_token");
  assert.match(wrong.headers.get("www-authenticate"), /^Bearer error="invalid_token"/);
  assertOAuthError(await register("gated", body, { raw: `Basic ${iat}` }), 401, "invalid_request");
  // Another workspace's token does not open this one.
  const foreign = await call("POST", "/api/tenants/acme/workspaces/open/dcr/initial-access-tokens", {});
  assertOAuthError(await register("gated", body, { token: foreign.token }), 401, "invalid_token");
  // Bad metadata with a good token: refused, and the token's one use is still there.
  assertOAuthError(await register("gated", { grant_types: ["implicit"] }, { token: iat }), 400, "invalid_client_metadata");
  assert.deepEqual(await clientsOf("gated"), []);
  const ok = await register("gated", body, { token: iat });
  assert.equal(ok.status, 201, ok.text);
  assert.equal((await cc("gated", ok.json.client_id, ok.json.client_secret)).status, 200);
  assert.equal((await call("GET", IAT)).items[0].uses, 1);
  assertOAuthError(await register("gated", body, { token: iat }), 401, "invalid_token");
  assert.deepEqual(await clientsOf("gated"), [ok.json.client_id]);
  // A deleted token stops at once.
  const two = await call("POST", IAT, { max_uses: 5 });
  assert.equal((await api(t, sys.token, "DELETE", `${IAT}/${two.id}`)).status, 204);
  assertProblem(assert, await api(t, sys.token, "DELETE", `${IAT}/${two.id}`), 404, "not-found");
  assertOAuthError(await register("gated", body, { token: two.token }), 401, "invalid_token");
  assert.deepEqual(await clientsOf("gated"), [ok.json.client_id]);
});

test("software statements: verified, and their claims take precedence; wrong signature, expired, untrusted are refused", async () => {
  const claims = (extra = {}) => ({ iss: DIRECTORY, iat: now(), exp: now() + 600, jti: randomUUID(), software_id: "shop-app", client_name: "Directory Shop", redirect_uris: ["https://shop.example/cb"], scope: "openid accounts", ...extra });
  const request = { client_name: "Request Name", redirect_uris: ["https://request.example/cb"], scope: "openid" };
  const statement = await signJwt(dirKey, claims());
  const r = await register("ssa", { ...request, software_statement: statement });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.client_name, "Directory Shop");
  assert.deepEqual(r.json.redirect_uris, ["https://shop.example/cb"]);
  assert.equal(r.json.scope, "openid accounts");
  assert.equal(r.json.software_id, "shop-app");
  assert.equal(r.json.software_statement, statement);
  assert.equal(r.json.iss, undefined);
  // Keys at the issuer's jwks_uri, fetched through the guarded path.
  const remote = await register("ssa", { ...request, software_statement: await signJwt(remoteKey, claims({ iss: REMOTE })) });
  assert.equal(remote.status, 201, remote.text);

  const before_ = await clientsOf("ssa");
  const untrustedKey = await keyPair("ES256", "evil-1");
  for (const [why, body] of [
    ["absent where required", request],
    ["wrong signature", { ...request, software_statement: await signJwt(impostorKey, claims()) }],
    ["tampered payload", { ...request, software_statement: statement.replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify(claims({ scope: "openid accounts" }))).toString("base64url")}.`) }],
    ["expired", { ...request, software_statement: await signJwt(dirKey, claims({ exp: now() - 5 })) }],
    ["no exp", { ...request, software_statement: await signJwt(dirKey, claims({ exp: undefined })) }],
    ["not yet valid", { ...request, software_statement: await signJwt(dirKey, claims({ nbf: now() + 3600 })) }],
    ["untrusted issuer", { ...request, software_statement: await signJwt(untrustedKey, claims({ iss: "https://evil.example" })) }],
    ["trusted iss, another key", { ...request, software_statement: await signJwt(untrustedKey, claims()) }],
    ["no iss", { ...request, software_statement: await signJwt(dirKey, claims({ iss: undefined })) }],
    ["alg none", { ...request, software_statement: `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims())).toString("base64url")}.` }],
  ]) {
    const res = await register("ssa", body);
    assert.equal(res.status, 400, `${why}: ${res.text}`);
    assert.equal(res.json.error, "invalid_software_statement", why);
  }
  // A verified statement still obeys the workspace: its scope must be allowed.
  assertOAuthError(await register("ssa", { software_statement: await signJwt(dirKey, claims({ scope: "openid admin" })) }), 400, "invalid_client_metadata");
  assert.deepEqual(await clientsOf("ssa"), before_, "nothing was stored");
});

test("the registration access token reads, replaces and deletes its own client only", async () => {
  const a = (await register("open", { client_name: "A", grant_types: ["client_credentials"], scope: "profile email" })).json;
  const b = (await register("open", { client_name: "B", grant_types: ["client_credentials"], scope: "openid" })).json;
  // Read (RFC 7592 §2.1): the metadata, never the secret.
  const read = await configure(a.registration_client_uri, a.registration_access_token);
  assert.equal(read.status, 200, read.text);
  assert.equal(read.headers.get("cache-control"), "no-store");
  assert.deepEqual([read.json.client_id, read.json.client_name, read.json.registration_client_uri, read.json.registration_access_token], [a.client_id, "A", a.registration_client_uri, a.registration_access_token]);
  assert.equal(read.json.client_secret, undefined);
  // Another client's token, no token, a wrong one, an unknown client, another workspace: 401, nothing changes.
  const put = { client_id: a.client_id, client_name: "Hijacked", grant_types: ["client_credentials"], scope: "profile" };
  for (const [uri, token, method, body] of [
    [a.registration_client_uri, b.registration_access_token, "GET"],
    [a.registration_client_uri, b.registration_access_token, "PUT", put],
    [a.registration_client_uri, b.registration_access_token, "DELETE"],
    [a.registration_client_uri, "wrong", "DELETE"],
    [`${issuers.open}/fdx/dcr/register/nobody`, a.registration_access_token, "GET"],
    [`${issuers.gated}/fdx/dcr/register/${a.client_id}`, a.registration_access_token, "GET"],
  ]) {
    const r = await configure(uri, token, method, body);
    assertOAuthError(r, 401, "invalid_token");
    assert.match(r.headers.get("www-authenticate"), /^Bearer /);
  }
  const none = await configure(a.registration_client_uri, null, "DELETE");
  assert.equal(none.status, 401);
  assert.equal((await configure(a.registration_client_uri, a.registration_access_token)).json.client_name, "A");
  assert.equal((await cc("open", a.client_id, a.client_secret)).status, 200);

  // Replace (RFC 7592 §2.2): the metadata changes; the secret stays, and a wrong one is refused.
  assertOAuthError(await configure(a.registration_client_uri, a.registration_access_token, "PUT", { ...put, client_id: b.client_id }), 400, "invalid_client_metadata");
  assertOAuthError(await configure(a.registration_client_uri, a.registration_access_token, "PUT", { ...put, client_secret: "chosen-by-client" }), 400, "invalid_client_metadata");
  assertOAuthError(await configure(a.registration_client_uri, a.registration_access_token, "PUT", { ...put, scope: "profile admin" }), 400, "invalid_client_metadata");
  assert.equal((await configure(a.registration_client_uri, a.registration_access_token)).json.client_name, "A");
  const replaced = await configure(a.registration_client_uri, a.registration_access_token, "PUT", { ...put, client_name: "A2", client_secret: a.client_secret, skip_consent: true });
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.json.client_name, "A2");
  assert.equal(replaced.json.skip_consent, false);
  assert.equal(replaced.json.client_secret, undefined, "the secret is kept, not shown");
  assert.equal((await cc("open", a.client_id, a.client_secret, "profile")).status, 200);
  assertOAuthError(await cc("open", a.client_id, a.client_secret, "email"), 400, "invalid_scope");
  // Switching to private_key_jwt drops the secret; switching back makes a new one, shown once.
  const pkj = await configure(a.registration_client_uri, a.registration_access_token, "PUT", { ...put, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [clientKey.jwk] } });
  assert.equal(pkj.status, 200, pkj.text);
  assertOAuthError(await cc("open", a.client_id, a.client_secret), 401, "invalid_client");
  const back = await configure(a.registration_client_uri, a.registration_access_token, "PUT", put);
  assert.ok(back.json.client_secret);
  assert.equal((await cc("open", a.client_id, back.json.client_secret)).status, 200);

  // Delete (RFC 7592 §2.3): the client, its registration and its tokens' grants go.
  const del = await configure(a.registration_client_uri, a.registration_access_token, "DELETE");
  assert.equal(del.status, 204);
  assertOAuthError(await cc("open", a.client_id, back.json.client_secret), 401, "invalid_client");
  assertOAuthError(await configure(a.registration_client_uri, a.registration_access_token), 401, "invalid_token");
  assertProblem(assert, await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/open/clients/${a.client_id}`), 404, "not-found");
  // B was never touched.
  assert.equal((await configure(b.registration_client_uri, b.registration_access_token)).json.client_name, "B");
});

test("deleting a registered client revokes its grants; deleting it through the management API ends its registration", async () => {
  const c = (await register("open", { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid offline_access" })).json;
  const { code, verifier } = await authorizeCode(issuers.open, { client_id: c.client_id, redirect_uri: REDIRECT, scope: "openid offline_access", ...USER });
  const tokens = (await form(`${issuers.open}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic(c.client_id, c.client_secret) })).json;
  assert.ok(tokens.refresh_token);
  const live = await form(`${issuers.open}/introspect`, { token: tokens.access_token }, { authorization: basic(c.client_id, c.client_secret) });
  assert.equal(live.json.active, true);
  assert.equal((await configure(c.registration_client_uri, c.registration_access_token, "DELETE")).status, 204);
  // A client of the same workspace asks about the old token: the grant is revoked.
  const other = (await register("open", { grant_types: ["client_credentials"], scope: "openid" })).json;
  const dead = await form(`${issuers.open}/introspect`, { token: tokens.access_token }, { authorization: basic(other.client_id, other.client_secret) });
  assert.equal(dead.json.active, false);
  // The management API's delete ends the registration too.
  assert.equal((await api(t, sys.token, "DELETE", `/api/tenants/acme/workspaces/open/clients/${other.client_id}`)).status, 204);
  assertOAuthError(await configure(other.registration_client_uri, other.registration_access_token), 401, "invalid_token");
});

test("the management API: DCR settings validated like the configuration; initial access tokens' terms checked", async () => {
  const S = "/api/tenants/acme/workspaces/off/dcr";
  assert.deepEqual(await call("GET", S), { enabled: false, initial_access_token_required: true, software_statement_required: false, trusted_issuers: [], allowed_scopes: [] });
  for (const bad of [
    { trusted_issuers: [{ issuer: DIRECTORY }] },
    { trusted_issuers: [{ issuer: DIRECTORY, jwks: { keys: [] }, jwks_uri: "https://directory.example/jwks" }] },
    { trusted_issuers: [{ issuer: DIRECTORY, jwks_uri: "http://directory.example/jwks" }] },
    { allowed_scopes: ["has space"] },
  ]) {
    const r = await api(t, sys.token, "PUT", S, bad);
    assertProblem(assert, r, 400, "invalid-configuration");
    assert.ok(r.json.field.startsWith("dcr."), r.text);
  }
  assertProblem(assert, await api(t, sys.token, "PUT", S, { enabled: true, unknown: 1 }), 400, "invalid-configuration");
  assertProblem(assert, await api(t, sys.token, "PUT", S, []), 400, "invalid-request");
  assert.equal((await call("GET", S)).enabled, false, "nothing was written");
  const on = await call("PUT", S, { enabled: true, initial_access_token_required: false });
  assert.equal(on.enabled, true);
  const doc = await (await fetch(`${issuers.off}/.well-known/openid-configuration`)).json();
  assert.equal(doc.registration_endpoint, `${issuers.off}/fdx/dcr/register`);
  assert.equal((await call("GET", "/api/tenants/acme/workspaces/off/config")).dcr.enabled, true);
  await call("PUT", S, { enabled: false });
  const IAT = "/api/tenants/acme/workspaces/off/dcr/initial-access-tokens";
  for (const bad of [{ expires_in: 10 }, { max_uses: 0 }, { max_uses: 10001 }, { description: "x".repeat(201) }, { other: 1 }]) {
    assertProblem(assert, await api(t, sys.token, "POST", IAT, bad), 400, "invalid-request");
  }
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants/acme/workspaces/nowhere/dcr/initial-access-tokens", {}), 404, "not-found");
  assert.deepEqual((await call("GET", IAT)).items, []);
  // Scopes: the settings need manage_workspaces, the tokens manage_clients.
  const clientsOnly = await systemClient(t, { client_id: "clients-only", scope: "manage_clients" });
  assertProblem(assert, await api(t, clientsOnly.token, "PUT", S, { enabled: true }), 403, "forbidden");
  assert.equal((await api(t, clientsOnly.token, "POST", IAT, {})).status, 201);
  const noClients = await systemClient(t, { client_id: "ws-only", scope: "manage_workspaces" });
  assertProblem(assert, await api(t, noClients.token, "POST", IAT, {}), 403, "forbidden");
});

test("a deleted workspace takes its registrations and initial access tokens with it", async () => {
  issuers.temp = await t.workspace("acme", "temp", { dcr: { enabled: true } });
  const iat = await call("POST", "/api/tenants/acme/workspaces/temp/dcr/initial-access-tokens", { max_uses: 5 });
  const c = (await register("temp", { grant_types: ["client_credentials"], scope: "openid" }, { token: iat.token })).json;
  assert.equal((await api(t, sys.token, "DELETE", "/api/tenants/acme/workspaces/temp")).status, 204);
  // The same name again: nothing of the old workspace opens the new one.
  await t.workspace("acme", "temp", { dcr: { enabled: true } });
  assertOAuthError(await register("temp", { grant_types: ["client_credentials"] }, { token: iat.token }), 401, "invalid_token");
  assertOAuthError(await configure(c.registration_client_uri, c.registration_access_token), 401, "invalid_token");
  assert.deepEqual((await call("GET", "/api/tenants/acme/workspaces/temp/dcr/initial-access-tokens")).items, []);
});

// Last: it moves the target's clock.
test("an initial access token stops at its expiry", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const iat = await call("POST", "/api/tenants/acme/workspaces/gated/dcr/initial-access-tokens", { expires_in: 120, max_uses: 10 });
  await t.advanceClock(121);
  assertOAuthError(await register("gated", { grant_types: ["client_credentials"] }, { token: iat.token }), 401, "invalid_token");
});

test("authorization_details_types at registration: known types only, each allowed by its DCR policy (the software statement's org_id)", async () => {
  issuers.rar = await t.workspace("acme", "rar", { dcr: { enabled: true, initial_access_token_required: false, trusted_issuers: [{ issuer: DIRECTORY, jwks: { keys: [dirKey.jwk] } }] } });
  await call("PUT", "/api/tenants/acme/features", { rich_authorization_requests: true });
  await call("POST", "/api/tenants/acme/workspaces/rar/authorization-details-types", {
    type: "payment_initiation", service: "https://bank.example/payments", description: "Payments",
    schema: { type: "object", required: ["type"], properties: { type: { const: "payment_initiation" } } },
    policies: { dcr: { rules: [{ when: { path: "client.software_statement.org_id", op: "in", value: ["org-1"] }, effect: "allow" }], otherwise: { effect: "deny", reason: "this organisation may not initiate payments" } } },
  });
  await call("POST", "/api/tenants/acme/workspaces/rar/authorization-details-types", {
    type: "account_information", service: "https://bank.example/accounts", schema: { type: "object", required: ["type"], properties: { type: { const: "account_information" } } },
  });
  const statement = (org) => signJwt(dirKey, { iss: DIRECTORY, iat: now(), exp: now() + 600, jti: randomUUID(), org_id: org, redirect_uris: [REDIRECT] });
  const body = (types, org) => statement(org).then((s) => ({ grant_types: ["authorization_code"], authorization_details_types: types, software_statement: s }));
  const ok = await register("rar", await body(["payment_initiation", "account_information"], "org-1"));
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(ok.json.authorization_details_types, ["payment_initiation", "account_information"]);
  const before_ = await clientsOf("rar");
  const denied = await register("rar", await body(["payment_initiation"], "org-2"));
  assertOAuthError(denied, 400, "invalid_client_metadata");
  assert.match(denied.json.error_description, /payment_initiation.*not allowed: this organisation may not initiate payments/);
  assertOAuthError(await register("rar", await body(["unknown_type"], "org-1")), 400, "invalid_client_metadata");
  // A type without a DCR policy is open to any registering client.
  assert.equal((await register("rar", await body(["account_information"], "org-2"))).status, 201);
  // Where the workspace has switched RAR off, no type can be subscribed.
  await call("PATCH", "/api/tenants/acme/workspaces/rar/config", [{ op: "add", path: "/rich_authorization_requests", value: false }]);
  const off = await register("rar", await body(["account_information"], "org-1"));
  assertOAuthError(off, 400, "invalid_client_metadata");
  assert.match(off.json.error_description, /not enabled/);
  assert.equal((await clientsOf("rar")).length, before_.length + 1, "only the allowed registration was stored");
});

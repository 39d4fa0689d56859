// The token endpoint beyond the code exchange: client_credentials, the refresh_token grant
// (rotation, reuse detection, concurrency), grant and client checks, and per-client ID token
// signing algorithms, each verified with `jose` against the workspace JWKS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as jose from "jose";
import { startTarget, basic, form, Agent } from "../support/target.mjs";
import { userTokens, authorizeCode, decodeJwt } from "../support/signin.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
let t, issuer, jwks;
const secrets = {};

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "tok");
  jwks = jose.createRemoteJWKSet(new URL(`${issuer}/jwks`));
  await t.user("acme", "tok", { ...USER, claims: { name: "Ada Lovelace", email: "ada@example.com" } });
  const code = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile email offline_access" };
  const clients = [
    { client_id: "svc", grant_types: ["client_credentials"], scope: "openid offline_access api read" },
    { client_id: "web", ...code },
    { client_id: "web2", ...code },
    { client_id: "sticky", ...code, refresh_token_rotation: false },
    { client_id: "code-only", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid api" },
    { client_id: "rs", ...code, id_token_signed_response_alg: "RS256" },
    { client_id: "ps", ...code, id_token_signed_response_alg: "PS256" },
  ];
  for (const c of clients) secrets[c.client_id] = (await t.client("acme", "tok", c)).client_secret;
});
after(() => t.stop());

const auth = (id) => ({ authorization: basic(id, secrets[id]) });
const token = (id, fields, i = issuer) => form(`${i}/token`, fields, auth(id));
const signIn = (client_id, { scope = "openid profile offline_access", agent } = {}) =>
  userTokens(issuer, { client_id, redirect_uri: REDIRECT, scope, ...USER, agent, auth: { headers: auth(client_id) } });
const refresh = (id, refresh_token, extra = {}) => token(id, { grant_type: "refresh_token", refresh_token, ...extra });

/** A refused token request: status, error code, and nothing issued. */
function refused(r, status, error) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error, error, r.text);
  for (const k of ["access_token", "refresh_token", "id_token"]) assert.equal(r.json[k], undefined, `${k} issued on failure`);
}

test("client_credentials: an ES256 at+jwt that verifies against the JWKS, with the client's scopes", async () => {
  const r = await token("svc", { grant_type: "client_credentials" });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get("cache-control"), /no-store/);
  assert.equal(r.json.token_type, "Bearer");
  // openid and offline_access mean nothing without a user: they are not granted to the client.
  assert.equal(r.json.scope, "api read");
  assert.equal(r.json.refresh_token, undefined);
  assert.equal(r.json.id_token, undefined);
  const { payload, protectedHeader } = await jose.jwtVerify(r.json.access_token, jwks, { issuer, typ: "at+jwt", audience: issuer });
  assert.equal(protectedHeader.alg, "ES256");
  assert.equal(protectedHeader.typ, "at+jwt");
  assert.ok(protectedHeader.kid);
  assert.equal(payload.client_id, "svc");
  assert.equal(payload.sub, "svc");
  assert.equal(payload.scope, "api read");
  assert.equal(payload.gid, undefined);
  assert.ok(payload.jti);
  assert.equal(payload.exp - payload.iat, r.json.expires_in);
});

test("client_credentials: a requested subset is granted exactly; anything else is invalid_scope", async () => {
  const r = await token("svc", { grant_type: "client_credentials", scope: "read" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.scope, "read");
  const { payload } = await jose.jwtVerify(r.json.access_token, jwks, { issuer, typ: "at+jwt" });
  assert.equal(payload.scope, "read");
  for (const scope of ["api admin", "openid", "offline_access", "read write"]) {
    refused(await token("svc", { grant_type: "client_credentials", scope }), 400, "invalid_scope");
  }
});

test("a grant the client is not registered for is unauthorized_client", async () => {
  refused(await token("code-only", { grant_type: "client_credentials" }), 400, "unauthorized_client");
  refused(await token("svc", { grant_type: "refresh_token", refresh_token: "whatever" }), 400, "unauthorized_client");
  refused(await token("svc", { grant_type: "authorization_code", code: "x", redirect_uri: REDIRECT }), 400, "unauthorized_client");
});

test("unknown grant types, and grants the workspace switched off, are unsupported_grant_type", async () => {
  for (const grant_type of ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]) {
    refused(await token("svc", { grant_type }), 400, "unsupported_grant_type");
  }
  refused(await token("svc", {}), 400, "invalid_request");
  const other = await t.workspace("acme", "no-cc", { grant_types: ["authorization_code", "refresh_token"] });
  const s = (await t.client("acme", "no-cc", { client_id: "svc", grant_types: ["client_credentials"], scope: "api" })).client_secret;
  refused(await form(`${other}/token`, { grant_type: "client_credentials" }, { authorization: basic("svc", s) }), 400, "unsupported_grant_type");
});

test("wrong or missing client credentials: 401 invalid_client with a Basic challenge", async () => {
  const cases = [
    { authorization: basic("svc", "not-the-secret") },
    { authorization: basic("nobody", secrets.svc) },
    { authorization: basic("svc", secrets.web) },
    {},
  ];
  for (const headers of cases) {
    const r = await form(`${issuer}/token`, { grant_type: "client_credentials" }, headers);
    refused(r, 401, "invalid_client");
    assert.match(r.headers.get("www-authenticate") ?? "", /^Basic /i, JSON.stringify(headers));
  }
  // A client of one workspace is unknown in another.
  const other = await t.workspace("acme", "elsewhere");
  refused(await form(`${other}/token`, { grant_type: "client_credentials" }, auth("svc")), 401, "invalid_client");
});

test("refresh rotation: a new token each time; reusing an old one fails and revokes the whole family", async () => {
  const first = await signIn("web");
  assert.ok(first.refresh_token);
  const second = await refresh("web", first.refresh_token);
  assert.equal(second.status, 200, second.text);
  assert.ok(second.json.refresh_token && second.json.refresh_token !== first.refresh_token);
  assert.notEqual(second.json.access_token, first.access_token);
  assert.equal(second.json.scope, "openid profile offline_access");
  const idt = await jose.jwtVerify(second.json.id_token, jwks, { issuer, audience: "web" });
  assert.equal(idt.payload.sub, decodeJwt(first.id_token).payload.sub);
  const third = await refresh("web", second.json.refresh_token);
  assert.equal(third.status, 200, third.text);

  // The first token was rotated away: presenting it again is a theft signal.
  refused(await refresh("web", first.refresh_token), 400, "invalid_grant");
  // ... so the newest token of the family is dead too, and so are its access tokens.
  refused(await refresh("web", third.json.refresh_token), 400, "invalid_grant");
  const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${third.json.access_token}` } });
  assert.equal(ui.status, 401);
  assert.match(ui.headers.get("www-authenticate") ?? "", /invalid_token/);
});

test("refresh may narrow the scope, never widen it, and a refused widening does not burn the token", async () => {
  const tokens = await signIn("web");
  refused(await refresh("web", tokens.refresh_token, { scope: "openid profile email" }), 400, "invalid_scope");
  // The refused request changed nothing: the same token still refreshes, with its full scope.
  const full = await refresh("web", tokens.refresh_token);
  assert.equal(full.status, 200, full.text);
  assert.equal(full.json.scope, "openid profile offline_access");
  const narrow = await refresh("web", full.json.refresh_token, { scope: "openid" });
  assert.equal(narrow.status, 200, narrow.text);
  assert.equal(narrow.json.scope, "openid");
  assert.equal((await jose.jwtVerify(narrow.json.access_token, jwks, { issuer, typ: "at+jwt" })).payload.scope, "openid");
});

test("a client with refresh_token_rotation: false keeps its refresh token", async () => {
  const tokens = await signIn("sticky");
  for (let i = 0; i < 3; i++) {
    const r = await refresh("sticky", tokens.refresh_token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.refresh_token, tokens.refresh_token);
    assert.ok(r.json.access_token);
  }
});

test("a refresh token presented by another client fails, and stays good for its own client", async () => {
  const tokens = await signIn("web");
  refused(await refresh("web2", tokens.refresh_token), 400, "invalid_grant");
  const stickyTokens = await signIn("sticky");
  refused(await refresh("web", stickyTokens.refresh_token), 400, "invalid_grant");
  const own = await refresh("web", tokens.refresh_token);
  assert.equal(own.status, 200, own.text);
  const stickyOwn = await refresh("sticky", stickyTokens.refresh_token);
  assert.equal(stickyOwn.status, 200, stickyOwn.text);
});

test("an authorization code redeemed by another client fails, and stays good for its own client", async () => {
  const { code, verifier } = await authorizeCode(issuer, { client_id: "web", redirect_uri: REDIRECT, scope: "openid", ...USER });
  const fields = { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier };
  refused(await token("web2", fields), 400, "invalid_grant");
  const own = await token("web", fields);
  assert.equal(own.status, 200, own.text);
  assert.equal(decodeJwt(own.json.id_token).payload.aud, "web");
});

test("garbage and missing refresh tokens are invalid_grant / invalid_request", async () => {
  refused(await refresh("web", "not-a-token"), 400, "invalid_grant");
  refused(await token("web", { grant_type: "refresh_token" }), 400, "invalid_request");
});

// The losers present a token that was just rotated, which reuse detection cannot tell from theft
// (RFC 9700 §4.14.2): they fail, and the family (the winner's new token included) is revoked.
test("concurrent refreshes of the same token: exactly one wins", async () => {
  const agent = new Agent();
  for (let round = 0; round < 3; round++) {
    const tokens = await signIn("web", { agent });
    const results = await Promise.all(Array.from({ length: 8 }, () => refresh("web", tokens.refresh_token)));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => `${r.status} ${r.text}`).join("\n"));
    for (const r of results.filter((r) => r.status !== 200)) refused(r, 400, "invalid_grant");
  }
});

test("concurrent refreshes of different tokens all succeed", async () => {
  const agent = new Agent();
  const sets = [];
  for (let i = 0; i < 8; i++) sets.push(await signIn("web", { agent }));
  const results = await Promise.all(sets.map((s) => refresh("web", s.refresh_token)));
  for (const r of results) assert.equal(r.status, 200, r.text);
  assert.equal(new Set(results.map((r) => r.json.refresh_token)).size, sets.length);
  // And each new token works in turn.
  const again = await Promise.all(results.map((r) => refresh("web", r.json.refresh_token)));
  for (const r of again) assert.equal(r.status, 200, r.text);
});

for (const [client, alg] of [["web", "ES256"], ["rs", "RS256"], ["ps", "PS256"]]) {
  test(`id_token_signed_response_alg ${alg}: ID tokens carry and verify with ${alg}`, async () => {
    const tokens = await signIn(client);
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, { issuer, audience: client, algorithms: [alg] });
    assert.equal(protectedHeader.alg, alg);
    assert.equal(payload.azp, client);
    // The published key for that kid is of the matching type.
    const set = await (await fetch(`${issuer}/jwks`)).json();
    const jwk = set.keys.find((k) => k.kid === protectedHeader.kid);
    assert.ok(jwk, "the signing key is published");
    assert.equal(jwk.kty, alg === "ES256" ? "EC" : "RSA");
    // Access tokens keep the workspace default; refreshed ID tokens keep the client's alg.
    assert.equal(decodeJwt(tokens.access_token).header.alg, "ES256");
    const r = await refresh(client, tokens.refresh_token);
    assert.equal(r.status, 200, r.text);
    const again = await jose.jwtVerify(r.json.id_token, jwks, { issuer, audience: client, algorithms: [alg] });
    assert.equal(again.protectedHeader.alg, alg);
  });
}

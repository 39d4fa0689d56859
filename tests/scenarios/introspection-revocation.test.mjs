// What happens to tokens after they are issued: introspection (RFC 7662), revocation (RFC 7009)
// and the UserInfo endpoint (OIDC Core §5.3, RFC 6750 bearer usage).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, basic, form, Agent } from "../support/target.mjs";
import { userTokens, decodeJwt } from "../support/signin.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
let t, issuer, otherIssuer, otherSvcSecret;
const secrets = {};

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "ir");
  await t.user("acme", "ir", { ...USER, claims: { name: "Ada Lovelace", email: "ada@example.com", email_verified: true } });
  const code = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile email offline_access" };
  const clients = [
    { client_id: "web", ...code },
    { client_id: "other", ...code },
    { client_id: "svc", grant_types: ["client_credentials"], scope: "openid api" },
    { client_id: "spa", ...code, token_endpoint_auth_method: "none" },
  ];
  for (const c of clients) secrets[c.client_id] = (await t.client("acme", "ir", c)).client_secret;
  otherIssuer = await t.workspace("acme", "ir-other");
  otherSvcSecret = (await t.client("acme", "ir-other", { client_id: "svc", grant_types: ["client_credentials"], scope: "api" })).client_secret;
});
after(() => t.stop());

const auth = (id) => ({ authorization: basic(id, secrets[id]) });
const agent = new Agent(); // one signed-in browser: later sign-ins use SSO
const signIn = (client_id = "web", scope = "openid profile email offline_access") =>
  userTokens(issuer, { client_id, redirect_uri: REDIRECT, scope, ...USER, agent, auth: { headers: auth(client_id) } });
const introspect = (token, as = "web") => form(`${issuer}/introspect`, { token }, auth(as));
const revoke = (token, as = "web", extra = {}) => form(`${issuer}/revoke`, { token, ...extra }, auth(as));
const refresh = (refresh_token, as = "web") => form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token }, auth(as));
const userinfo = (token) => fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
const ccToken = async (id = "svc") => {
  const r = await form(`${issuer}/token`, { grant_type: "client_credentials" }, auth(id));
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
};

/** A 401 from a resource endpoint: the Bearer challenge names the error. */
async function bearerRefused(r, status, error) {
  assert.equal(r.status, status);
  const challenge = r.headers.get("www-authenticate") ?? "";
  assert.match(challenge, /^Bearer\b/);
  if (error) assert.match(challenge, new RegExp(`error="${error}"`));
  const body = await r.text();
  assert.ok(!body.includes('"sub"'), `claims leaked: ${body}`);
}

test("introspection requires an authenticated confidential client", async () => {
  const { access_token } = await signIn();
  const cases = [
    [{}, {}],
    [{ authorization: basic("web", "wrong") }, {}],
    [{ authorization: basic("nobody", secrets.web) }, {}],
    [{}, { client_id: "spa" }], // a public client has nothing to authenticate with
  ];
  for (const [headers, fields] of cases) {
    const r = await form(`${issuer}/introspect`, { token: access_token, ...fields }, headers);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, "invalid_client");
    assert.equal(r.json.active, undefined);
    assert.ok(!r.text.includes("ada"), r.text);
    assert.match(r.headers.get("www-authenticate") ?? "", /^Basic /i);
  }
});

test("introspection of an active access token and refresh token reports their claims", async () => {
  const tokens = await signIn();
  const sub = decodeJwt(tokens.id_token).payload.sub;
  const at = await introspect(tokens.access_token);
  assert.equal(at.status, 200, at.text);
  assert.match(at.headers.get("cache-control"), /no-store/);
  assert.equal(at.json.active, true);
  assert.equal(at.json.token_type, "Bearer");
  assert.equal(at.json.client_id, "web");
  assert.equal(at.json.sub, sub);
  assert.equal(at.json.scope, "openid profile email offline_access");
  assert.equal(at.json.iss, issuer);
  assert.ok(at.json.exp > at.json.iat && at.json.jti && at.json.aud);
  const rt = await introspect(tokens.refresh_token);
  assert.equal(rt.status, 200, rt.text);
  assert.equal(rt.json.active, true);
  assert.equal(rt.json.client_id, "web");
  assert.equal(rt.json.sub, sub);
  const cc = await introspect(await ccToken());
  assert.equal(cc.json.active, true);
  assert.equal(cc.json.client_id, "svc");
  assert.equal(cc.json.scope, "api");
});

test("garbage, foreign and unknown tokens are simply inactive", async () => {
  const foreign = await form(`${otherIssuer}/token`, { grant_type: "client_credentials" }, { authorization: basic("svc", otherSvcSecret) });
  assert.equal(foreign.status, 200, foreign.text);
  const { id_token, access_token } = await signIn();
  const [h, p] = access_token.split(".");
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(access_token).payload, scope: "admin" })).toString("base64url")}.${access_token.split(".")[2]}`;
  for (const token of ["garbage", "a.b.c", "x".repeat(43), foreign.json.access_token, tampered, id_token, `${h}.${p}.`]) {
    const r = await introspect(token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { active: false }, token);
  }
  const missing = await form(`${issuer}/introspect`, {}, auth("web"));
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error, "invalid_request");
});

test("revoking a refresh token: it no longer refreshes, introspects inactive, and its grant's access tokens die", async () => {
  const tokens = await signIn();
  const r = await revoke(tokens.refresh_token, "web", { token_type_hint: "refresh_token" });
  assert.equal(r.status, 200, r.text);
  const again = await refresh(tokens.refresh_token);
  assert.equal(again.status, 400);
  assert.equal(again.json.error, "invalid_grant");
  assert.equal(again.json.access_token, undefined);
  assert.deepEqual((await introspect(tokens.refresh_token)).json, { active: false });
  assert.deepEqual((await introspect(tokens.access_token)).json, { active: false });
  await bearerRefused(await userinfo(tokens.access_token), 401, "invalid_token");
});

test("revoking an access token: userinfo answers invalid_token and introspection inactive", async () => {
  const tokens = await signIn();
  assert.equal((await userinfo(tokens.access_token)).status, 200);
  const r = await revoke(tokens.access_token, "web", { token_type_hint: "access_token" });
  assert.equal(r.status, 200, r.text);
  await bearerRefused(await userinfo(tokens.access_token), 401, "invalid_token");
  assert.deepEqual((await introspect(tokens.access_token)).json, { active: false });
  // Only that access token: the refresh token still works and gives a working access token.
  const fresh = await refresh(tokens.refresh_token);
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal((await userinfo(fresh.json.access_token)).status, 200);
  // client_credentials tokens are revoked the same way, by their owner.
  const cc = await ccToken();
  assert.equal((await revoke(cc, "svc")).status, 200);
  assert.deepEqual((await introspect(cc)).json, { active: false });
});

test("revoking an unknown or malformed token answers 200; an unknown hint is unsupported_token_type", async () => {
  for (const token of ["unknown", "a.b.c", "x".repeat(43)]) {
    const r = await revoke(token);
    assert.equal(r.status, 200, r.text);
  }
  const { refresh_token } = await signIn();
  const hint = await revoke(refresh_token, "web", { token_type_hint: "id_token" });
  assert.equal(hint.status, 400, hint.text);
  assert.equal(hint.json.error, "unsupported_token_type");
  // The refused request revoked nothing.
  assert.equal((await refresh(refresh_token)).status, 200);
  const missing = await form(`${issuer}/revoke`, {}, auth("web"));
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error, "invalid_request");
});

test("revocation requires client authentication", async () => {
  const tokens = await signIn();
  for (const headers of [{}, { authorization: basic("web", "wrong") }]) {
    const r = await form(`${issuer}/revoke`, { token: tokens.refresh_token }, headers);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, "invalid_client");
    assert.match(r.headers.get("www-authenticate") ?? "", /^Basic /i);
  }
  assert.equal((await refresh(tokens.refresh_token)).status, 200);
});

test("a client cannot revoke another client's tokens (it is told 200 all the same)", async () => {
  const tokens = await signIn("web");
  assert.equal((await revoke(tokens.refresh_token, "other")).status, 200);
  assert.equal((await revoke(tokens.access_token, "other")).status, 200);
  const cc = await ccToken();
  assert.equal((await revoke(cc, "web")).status, 200);
  assert.equal((await introspect(tokens.access_token)).json.active, true);
  assert.equal((await introspect(tokens.refresh_token)).json.active, true);
  assert.equal((await introspect(cc)).json.active, true);
  assert.equal((await userinfo(tokens.access_token)).status, 200);
  const r = await refresh(tokens.refresh_token, "web");
  assert.equal(r.status, 200, r.text);
});

test("a public client revokes its own refresh token with its client_id alone", async () => {
  const tokens = await userTokens(issuer, { client_id: "spa", redirect_uri: REDIRECT, scope: "openid offline_access", ...USER, agent, auth: { fields: { client_id: "spa" } } });
  // A public client may revoke (RFC 7009 §2.1) but not introspect.
  assert.equal((await form(`${issuer}/revoke`, { token: tokens.refresh_token, client_id: "web" })).status, 401);
  const r = await form(`${issuer}/revoke`, { token: tokens.refresh_token, client_id: "spa" });
  assert.equal(r.status, 200, r.text);
  const again = await form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "spa" });
  assert.equal(again.status, 400, again.text);
  assert.equal(again.json.error, "invalid_grant");
  await bearerRefused(await userinfo(tokens.access_token), 401, "invalid_token");
});

test("userinfo: GET or POST with the Bearer header, or POST with access_token in the form", async () => {
  const { access_token, id_token } = await signIn();
  const sub = decodeJwt(id_token).payload.sub;
  const expected = { sub, name: "Ada Lovelace", email: "ada@example.com", email_verified: true, preferred_username: "ada" };
  const get = await userinfo(access_token);
  const postHeader = await fetch(`${issuer}/userinfo`, { method: "POST", headers: { authorization: `Bearer ${access_token}` } });
  const postForm = await fetch(`${issuer}/userinfo`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ access_token }).toString() });
  for (const r of [get, postHeader, postForm]) {
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /application\/json/);
    assert.deepEqual(await r.json(), expected);
  }
  // Scope decides the claims: an openid-only token releases sub alone.
  const narrow = await signIn("web", "openid");
  assert.deepEqual(await (await userinfo(narrow.access_token)).json(), { sub });
});

test("userinfo refuses missing, doubled, garbage and non-access tokens", async () => {
  await bearerRefused(await fetch(`${issuer}/userinfo`), 401);
  // No credentials at all: a bare challenge, no error code (RFC 6750 section 3.1).
  assert.equal((await fetch(`${issuer}/userinfo`)).headers.get("www-authenticate"), "Bearer");
  await bearerRefused(await fetch(`${issuer}/userinfo`, { headers: { authorization: "Bearer " } }), 401);
  await bearerRefused(await fetch(`${issuer}/userinfo`, { method: "POST" }), 401);
  await bearerRefused(await userinfo("garbage"), 401, "invalid_token");
  await bearerRefused(await userinfo("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"), 401, "invalid_token");
  const { access_token, id_token } = await signIn();
  // An ID token is not an access token (typ JWT, not at+jwt).
  await bearerRefused(await userinfo(id_token), 401, "invalid_token");
  // A token of another workspace.
  const foreign = await form(`${otherIssuer}/token`, { grant_type: "client_credentials" }, { authorization: basic("svc", otherSvcSecret) });
  await bearerRefused(await userinfo(foreign.json.access_token), 401, "invalid_token");
  // The token in both places at once.
  const both = await fetch(`${issuer}/userinfo`, { method: "POST", headers: { authorization: `Bearer ${access_token}`, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ access_token }).toString() });
  assert.equal(both.status, 400);
  assert.equal((await both.json()).error, "invalid_request");
});

test("userinfo with a client_credentials token (no user): insufficient_scope", async () => {
  const r = await userinfo(await ccToken());
  await bearerRefused(r, 403, "insufficient_scope");
});

// Last: it moves the server's clock past every access token's expiry.
test("expired access and refresh tokens: invalid_token / invalid_grant, introspection inactive (movable clock only)", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const { access_token, refresh_token } = await signIn();
  await t.advanceClock(601);
  await bearerRefused(await userinfo(access_token), 401, "invalid_token");
  assert.deepEqual((await introspect(access_token)).json, { active: false });
  // The refresh token outlives it and gets a fresh one.
  const r = await refresh(refresh_token);
  assert.equal(r.status, 200, r.text);
  assert.equal((await userinfo(r.json.access_token)).status, 200);
  // Past the refresh token lifetime (30 days) it is inactive and refuses to refresh.
  await t.advanceClock(31 * 86400);
  assert.deepEqual((await introspect(r.json.refresh_token)).json, { active: false });
  const late = await refresh(r.json.refresh_token);
  assert.equal(late.status, 400, late.text);
  assert.equal(late.json.error, "invalid_grant");
  assert.equal(late.json.access_token, undefined);
});

test("restrict_introspection: only the token's own client and resource servers see a token as active", async () => {
  const strict = await t.workspace("acme", "ir-strict", { restrict_introspection: true });
  const s = {};
  for (const c of [
    { client_id: "owner", grant_types: ["client_credentials"], scope: "api" },
    { client_id: "nosy", grant_types: ["client_credentials"], scope: "api" },
    { client_id: "api", grant_types: ["client_credentials"], scope: "api", resource_server: true },
  ]) s[c.client_id] = (await t.client("acme", "ir-strict", c)).client_secret;
  const token = (await form(`${strict}/token`, { grant_type: "client_credentials", scope: "api" }, { authorization: basic("owner", s.owner) })).json.access_token;
  const as = async (id) => (await form(`${strict}/introspect`, { token }, { authorization: basic(id, s[id]) })).json;
  assert.equal((await as("nosy")).active, false, "another client learns nothing");
  assert.deepEqual(Object.keys(await as("nosy")), ["active"]);
  assert.equal((await as("owner")).active, true);
  const seen = await as("api");
  assert.equal(seen.active, true, "a resource server");
  assert.equal(seen.client_id, "owner");
});

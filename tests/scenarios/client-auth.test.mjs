// Client authentication at the token endpoint: client_secret_basic, client_secret_post,
// private_key_jwt (RFC 7523, with inline jwks and with a jwks_uri served from this test), and
// public clients (none), which must use PKCE. A refused client gets 401 invalid_client and nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import * as jose from "jose";
import { startTarget, basic, form, Agent, pkce } from "../support/target.mjs";
import { authorizeCode } from "../support/signin.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
let t, issuer, tokenUrl, key, otherKey, uriKey, jwksServer, served, jwksHits = 0;
const secrets = {};

async function keyPair(alg, kid) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { privateKey, kid, alg, jwk: { ...(await jose.exportJWK(publicKey)), alg, use: "sig", kid } };
}

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "ca");
  tokenUrl = `${issuer}/token`;
  await t.user("acme", "ca", USER);
  key = await keyPair("ES256", "jwt-1");
  otherKey = await keyPair("ES256", "jwt-1"); // same kid, different key: an impostor
  uriKey = await keyPair("PS256", "uri-1");
  // The jwks_uri document, served on loopback.
  served = { status: 200, body: { keys: [uriKey.jwk] } };
  jwksServer = createServer((req, res) => {
    jwksHits++;
    res.writeHead(served.status, { "content-type": "application/json" });
    res.end(JSON.stringify(served.body));
  });
  await new Promise((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  const cc = { grant_types: ["client_credentials"], scope: "api" };
  const clients = [
    { client_id: "basic-svc", ...cc },
    { client_id: "post-svc", ...cc, token_endpoint_auth_method: "client_secret_post" },
    { client_id: "jwt-svc", ...cc, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.jwk] } },
    { client_id: "uri-svc", ...cc, token_endpoint_auth_method: "private_key_jwt", jwks_uri: `http://127.0.0.1:${jwksServer.address().port}/jwks` },
    { client_id: "dead-uri-svc", ...cc, token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://127.0.0.1:9/jwks" },
    { client_id: "spa", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid", token_endpoint_auth_method: "none" },
  ];
  for (const c of clients) secrets[c.client_id] = (await t.client("acme", "ca", c)).client_secret;
});
after(async () => {
  await t.stop();
  await new Promise((resolve) => jwksServer.close(resolve));
});

/** A refused request: status, error code, and nothing issued. */
function refused(r, status, error) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error, error, r.text);
  for (const k of ["access_token", "refresh_token", "id_token"]) assert.equal(r.json[k], undefined, `${k} issued on failure`);
  if (status === 401) assert.match(r.headers.get("www-authenticate") ?? "", /^Basic /i);
}

const cc = (fields = {}, headers = {}) => form(tokenUrl, { grant_type: "client_credentials", ...fields }, headers);

/** An RFC 7523 client assertion; `claims` override the defaults, `undefined` removes one. */
async function assertion(k, client_id, claims = {}) {
  const now = Math.floor(Date.now() / 1000);
  const all = { iss: client_id, sub: client_id, aud: tokenUrl, jti: randomUUID(), iat: now, exp: now + 120, ...claims };
  for (const [n, v] of Object.entries(all)) if (v === undefined) delete all[n];
  return new jose.SignJWT(all).setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT" }).sign(k.privateKey);
}
const withAssertion = (jwt, extra = {}) => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: jwt, ...extra });

test("client_secret_basic: the right secret gets a token; a wrong one, or the post method, does not", async () => {
  const ok = await cc({}, { authorization: basic("basic-svc", secrets["basic-svc"]) });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(decodePayload(ok.json.access_token).client_id, "basic-svc");
  refused(await cc({}, { authorization: basic("basic-svc", secrets["basic-svc"] + "x") }), 401, "invalid_client");
  refused(await cc({}, { authorization: basic("basic-svc", "") }), 401, "invalid_client");
  refused(await cc({ client_id: "basic-svc", client_secret: secrets["basic-svc"] }), 401, "invalid_client");
  refused(await cc({ client_id: "basic-svc" }), 401, "invalid_client");
  refused(await cc({}, { authorization: "Basic !!!not-base64" }), 401, "invalid_client");
});

test("two authentication methods at once, or a client_id that contradicts Basic, is invalid_request", async () => {
  const r = await cc({ client_id: "basic-svc", client_secret: secrets["basic-svc"] }, { authorization: basic("basic-svc", secrets["basic-svc"]) });
  refused(r, 400, "invalid_request");
  refused(await cc({ client_id: "post-svc" }, { authorization: basic("basic-svc", secrets["basic-svc"]) }), 400, "invalid_request");
});

test("client_secret_post: secret in the form works; Basic or a wrong secret is refused", async () => {
  const ok = await cc({ client_id: "post-svc", client_secret: secrets["post-svc"] });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(decodePayload(ok.json.access_token).client_id, "post-svc");
  refused(await cc({}, { authorization: basic("post-svc", secrets["post-svc"]) }), 401, "invalid_client");
  refused(await cc({ client_id: "post-svc", client_secret: "wrong" }), 401, "invalid_client");
  refused(await cc({ client_id: "post-svc" }), 401, "invalid_client");
  refused(await cc({ client_id: "nobody", client_secret: secrets["post-svc"] }), 401, "invalid_client");
});

test("private_key_jwt: an assertion for the token endpoint or the issuer authenticates the client", async () => {
  for (const aud of [tokenUrl, issuer, [tokenUrl, "https://elsewhere.example"]]) {
    const r = await cc(withAssertion(await assertion(key, "jwt-svc", { aud })));
    assert.equal(r.status, 200, `${JSON.stringify(aud)}: ${r.text}`);
    assert.equal(decodePayload(r.json.access_token).client_id, "jwt-svc");
  }
  // client_id may accompany the assertion when it agrees with it.
  const r = await cc(withAssertion(await assertion(key, "jwt-svc"), { client_id: "jwt-svc" }));
  assert.equal(r.status, 200, r.text);
});

test("private_key_jwt: a replayed jti is invalid_client", async () => {
  const jwt = await assertion(key, "jwt-svc");
  assert.equal((await cc(withAssertion(jwt))).status, 200);
  refused(await cc(withAssertion(jwt)), 401, "invalid_client");
  // Same jti in a freshly signed assertion: still a replay.
  const jti = randomUUID();
  assert.equal((await cc(withAssertion(await assertion(key, "jwt-svc", { jti })))).status, 200);
  refused(await cc(withAssertion(await assertion(key, "jwt-svc", { jti }))), 401, "invalid_client");
});

test("private_key_jwt: wrong aud, expired, too long-lived, no jti, wrong iss, or another key is invalid_client", async () => {
  const now = Math.floor(Date.now() / 1000);
  const bad = {
    "aud of another endpoint": { aud: `${issuer}/introspect` },
    "aud of another issuer": { aud: `${t.base}/acme/other` },
    "no aud": { aud: undefined },
    expired: { iat: now - 300, exp: now - 60 },
    "lives an hour": { exp: now + 3600 },
    "no exp": { exp: undefined },
    "no jti": { jti: undefined },
    "iss is someone else": { iss: "basic-svc" },
  };
  for (const [why, claims] of Object.entries(bad)) {
    const r = await cc(withAssertion(await assertion(key, "jwt-svc", claims)));
    assert.equal(r.status, 401, `${why}: ${r.text}`);
    refused(r, 401, "invalid_client");
  }
  refused(await cc(withAssertion(await assertion(otherKey, "jwt-svc"))), 401, "invalid_client");
  // An unsigned assertion (alg none) is never accepted.
  const unsigned = new jose.UnsecuredJWT({ iss: "jwt-svc", sub: "jwt-svc", aud: tokenUrl, jti: randomUUID(), exp: now + 60 }).encode();
  refused(await cc(withAssertion(unsigned)), 401, "invalid_client");
  refused(await cc(withAssertion("not.a.jwt")), 401, "invalid_client");
  // The assertion type is required; a secret is not how this client authenticates.
  refused(await cc({ client_assertion: await assertion(key, "jwt-svc") }), 400, "invalid_request");
  refused(await cc({ client_id: "jwt-svc", client_secret: "anything" }), 401, "invalid_client");
  // A client that authenticates with a secret cannot switch to assertions.
  refused(await cc(withAssertion(await assertion(key, "basic-svc"))), 401, "invalid_client");
});

// The native runtime fetches loopback http URLs itself; under miniflare, workerd's fetch reaches
// the loopback server too, so this case runs on both targets.
// The fetch's own rules (timeout, redirects, size, cache, refresh) are tested in outbound.test.mjs.
test("private_key_jwt with a jwks_uri: keys are fetched; an unreachable jwks_uri or a key it lacks is invalid_client", async () => {
  const ok = await cc(withAssertion(await assertion(uriKey, "uri-svc")));
  assert.equal(ok.status, 200, ok.text);
  assert.ok(jwksHits > 0, "the server fetched the jwks_uri");
  assert.equal(decodePayload(ok.json.access_token).client_id, "uri-svc");
  refused(await cc(withAssertion(await assertion(key, "uri-svc"))), 401, "invalid_client");
  refused(await cc(withAssertion(await assertion(key, "dead-uri-svc"))), 401, "invalid_client");
});

test("public client: PKCE is required; the code is redeemed with client_id alone and the verifier", async () => {
  // Without a code_challenge the authorization request is refused at the redirect URI.
  const agent = new Agent();
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "spa", redirect_uri: REDIRECT, scope: "openid", state: "s1" })) u.searchParams.set(k, v);
  const r = await agent.request(u.toString());
  assert.equal(r.status, 303, r.text_);
  const loc = new URL(r.headers.get("location"));
  assert.equal(loc.origin + loc.pathname, REDIRECT);
  assert.equal(loc.searchParams.get("error"), "invalid_request");
  assert.equal(loc.searchParams.get("state"), "s1");
  assert.equal(loc.searchParams.get("code"), null);

  // Codes issued with PKCE are refused without the verifier, or with a wrong one.
  for (const fields of [{}, { code_verifier: pkce().verifier }]) {
    const { code } = await authorizeCode(issuer, { client_id: "spa", redirect_uri: REDIRECT, scope: "openid", ...USER, agent });
    refused(await form(tokenUrl, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: "spa", ...fields }), 400, "invalid_grant");
  }
  const tokens = await redeemFresh("spa");
  assert.ok(tokens.access_token && tokens.id_token && tokens.refresh_token);
  // A public client refreshes with its client_id alone.
  const again = await form(tokenUrl, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "spa" });
  assert.equal(again.status, 200, again.text);
  // Without client_id nobody is identified; with a secret it claims a method it does not have.
  refused(await form(tokenUrl, { grant_type: "refresh_token", refresh_token: again.json.refresh_token }), 401, "invalid_client");
  refused(await form(tokenUrl, { grant_type: "refresh_token", refresh_token: again.json.refresh_token, client_id: "spa", client_secret: "x" }), 401, "invalid_client");
});

test("a public client cannot be registered for client_credentials", async () => {
  const r = await t.admin("POST", "/admin/tenants/acme/workspaces/ca/clients", { client_id: "spa-cc", token_endpoint_auth_method: "none", grant_types: ["client_credentials"] });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, "invalid_client_metadata");
});

/** A fresh code for `client_id` (public), redeemed with client_id and the right verifier. */
async function redeemFresh(client_id) {
  const { code, verifier } = await authorizeCode(issuer, { client_id, redirect_uri: REDIRECT, scope: "openid", ...USER });
  const r = await form(tokenUrl, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

function decodePayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
}

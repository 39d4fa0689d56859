// Pushed authorization requests (RFC 9126) and signed request objects (RFC 9101) on a workspace
// without any profile: the request_uri is single use (one winner under concurrency), bound to the
// client that pushed it, and short-lived; PAR and JAR can be required per workspace or per client;
// a request object is verified with the client's keys and its claims win over loose parameters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, basic, form, Agent } from "../support/target.mjs";
import { keyPair, clientAssertion, requestObject, codeRequest, push, browse, redirected, authorizeUrl, REQUEST_URI_PREFIX } from "../support/fapi.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
let t, issuer, key, otherKey, psKey;
const secrets = {};

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "par");
  await t.user("acme", "par", USER);
  key = await keyPair("ES256", "rp-1");
  otherKey = await keyPair("ES256", "rp-1");
  psKey = await keyPair("PS256", "rp-ps");
  const code = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile" };
  for (const c of [
    { client_id: "web", ...code },
    { client_id: "web2", ...code },
    { client_id: "par-only", ...code, require_pushed_authorization_requests: true },
    { client_id: "jar", ...code, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.jwk, psKey.jwk] } },
    { client_id: "jar-only", ...code, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.jwk, psKey.jwk] }, require_signed_request_object: true, request_object_signing_alg: "PS256" },
    { client_id: "spa", ...code, token_endpoint_auth_method: "none" },
  ]) secrets[c.client_id] = (await t.client("acme", "par", c)).client_secret;
});
after(() => t.stop());

const auth = (id) => ({ authorization: basic(id, secrets[id]) });

/** Pushes a plain request for `client` with Basic authentication; returns { request_uri, verifier, params }. */
async function pushed(client = "web", extra = {}) {
  const { params, verifier } = codeRequest(client, REDIRECT, "openid profile", extra);
  const r = await push(issuer, params, auth(client));
  assert.equal(r.status, 201, r.text);
  return { request_uri: r.json.request_uri, verifier, params, response: r };
}

function errorPage(r, status, code) {
  assert.equal(r.status, status, r.text_);
  assert.match(r.headers.get("content-type"), /text\/html/);
  assert.ok(r.text_.includes(`<code>${code}</code>`), r.text_.slice(0, 800));
}

test("discovery advertises PAR and request objects; PAR is not required by default", async () => {
  const d = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(d.pushed_authorization_request_endpoint, `${issuer}/par`);
  assert.equal(d.require_pushed_authorization_requests, false);
  assert.equal(d.request_parameter_supported, true);
  assert.equal(d.require_signed_request_object, false);
  assert.equal(d.request_uri_parameter_supported, false);
  assert.deepEqual(d.request_object_signing_alg_values_supported, ["ES256", "RS256", "PS256"]);
});

test("PAR: 201 with a request_uri URN living at least 60 s, then authorize -> login -> consent -> code -> tokens", async () => {
  const { request_uri, verifier, params, response } = await pushed();
  assert.ok(request_uri.startsWith(REQUEST_URI_PREFIX), request_uri);
  assert.ok(response.json.expires_in >= 60 && response.json.expires_in <= 600, response.text);
  assert.equal(response.headers.get("cache-control"), "no-store");
  const { r } = await browse(issuer, authorizeUrl(issuer, { client_id: "web", request_uri }), USER);
  const q = redirected(r);
  assert.equal(q.get("state"), params.state);
  assert.equal(q.get("iss"), issuer);
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code: q.get("code"), redirect_uri: REDIRECT, code_verifier: verifier }, auth("web"));
  assert.equal(tok.status, 200, tok.text);
  assert.ok(tok.json.id_token && tok.json.access_token);
});

test("a request_uri is single use: of five concurrent authorizations exactly one continues", async () => {
  const { request_uri } = await pushed();
  const url = authorizeUrl(issuer, { client_id: "web", request_uri });
  const rs = await Promise.all([1, 2, 3, 4, 5].map(() => new Agent().request(url)));
  const won = rs.filter((r) => r.status === 200 && r.text_.includes('name="password"'));
  assert.equal(won.length, 1, rs.map((r) => r.status).join(","));
  for (const r of rs.filter((x) => !won.includes(x))) errorPage(r, 400, "invalid_request_uri");
  errorPage(await new Agent().request(url), 400, "invalid_request_uri");
});

test("a request_uri is bound to the client that pushed it; another client's attempt does not consume it", async () => {
  const { request_uri } = await pushed("web");
  errorPage(await new Agent().request(authorizeUrl(issuer, { client_id: "web2", request_uri })), 400, "invalid_request_uri");
  const r = await new Agent().request(authorizeUrl(issuer, { client_id: "web", request_uri }));
  assert.equal(r.status, 200);
  assert.ok(r.text_.includes('name="password"'));
});

test("unknown, foreign and malformed request_uri values, and request with request_uri, are refused on a page", async () => {
  errorPage(await new Agent().request(authorizeUrl(issuer, { client_id: "web", request_uri: `${REQUEST_URI_PREFIX}nope` })), 400, "invalid_request_uri");
  errorPage(await new Agent().request(authorizeUrl(issuer, { client_id: "web", request_uri: "https://rp.example/request.jwt" })), 400, "invalid_request_uri");
  const { request_uri } = await pushed();
  errorPage(await new Agent().request(authorizeUrl(issuer, { client_id: "web", request_uri, request: "a.b.c" })), 400, "invalid_request");
  // That refusal did not consume it.
  assert.equal((await new Agent().request(authorizeUrl(issuer, { client_id: "web", request_uri }))).status, 200);
});

test("a request_uri expires (clock advanced past expires_in)", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const { request_uri, response } = await pushed();
  await t.advanceClock(response.json.expires_in + 1);
  errorPage(await new Agent().request(authorizeUrl(issuer, { client_id: "web", request_uri })), 400, "invalid_request_uri");
});

test("PAR refusals answer JSON and hand out nothing", async () => {
  const refused = (r, status, error) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json?.error, error, r.text);
    assert.equal(r.json.request_uri, undefined);
  };
  const { params } = codeRequest("web", REDIRECT, "openid");
  refused(await push(issuer, params), 401, "invalid_client");
  refused(await push(issuer, params, { authorization: basic("web", "wrong") }), 401, "invalid_client");
  refused(await push(issuer, { ...params, redirect_uri: "https://evil.example/cb" }, auth("web")), 400, "invalid_request");
  refused(await push(issuer, { ...params, scope: "openid admin" }, auth("web")), 400, "invalid_scope");
  refused(await push(issuer, { ...params, response_type: "token" }, auth("web")), 400, "unsupported_response_type");
  refused(await push(issuer, { ...params, request_uri: `${REQUEST_URI_PREFIX}x` }, auth("web")), 400, "invalid_request");
  refused(await push(issuer, { ...params, client_id: "spa" }), 401, "invalid_client");
  const get = await fetch(`${issuer}/par`);
  assert.equal(get.status, 405);
});

test("a client that requires PAR is refused at the authorization endpoint without it, and served with it", async () => {
  const { params } = codeRequest("par-only", REDIRECT, "openid");
  const q = redirected(await new Agent().request(authorizeUrl(issuer, params)));
  assert.equal(q.get("error"), "invalid_request");
  assert.match(q.get("error_description"), /PAR/);
  assert.equal(q.get("state"), params.state);
  const { request_uri } = await pushed("par-only");
  assert.equal((await new Agent().request(authorizeUrl(issuer, { client_id: "par-only", request_uri }))).status, 200);
});

test("the workspace switch require_pushed_authorization_requests refuses every direct request and shows in discovery", async () => {
  const iss2 = await t.workspace("acme", "par-ws", { require_pushed_authorization_requests: true });
  await t.client("acme", "par-ws", { client_id: "web", redirect_uris: [REDIRECT], scope: "openid" });
  const d = await (await fetch(`${iss2}/.well-known/openid-configuration`)).json();
  assert.equal(d.require_pushed_authorization_requests, true);
  const { params } = codeRequest("web", REDIRECT, "openid");
  assert.equal(redirected(await new Agent().request(authorizeUrl(iss2, params))).get("error"), "invalid_request");
});

test("JAR at PAR: a signed request object with private_key_jwt; its claims are the request", async () => {
  const { params, verifier } = codeRequest("jar", REDIRECT, "openid profile");
  const request = await requestObject(key, "jar", issuer, params);
  const r = await push(issuer, { client_id: "jar", request, ...(await clientAssertion(key, "jar", `${issuer}/par`)) });
  assert.equal(r.status, 201, r.text);
  const { r: done } = await browse(issuer, authorizeUrl(issuer, { client_id: "jar", request_uri: r.json.request_uri }), USER);
  const q = redirected(done);
  assert.equal(q.get("state"), params.state);
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code: q.get("code"), redirect_uri: REDIRECT, code_verifier: verifier, ...(await clientAssertion(key, "jar", `${issuer}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  assert.equal(tok.json.scope, "openid profile");
});

test("JAR at the authorization endpoint: a valid request object continues; a bad one is shown, not redirected", async () => {
  const { params } = codeRequest("jar", REDIRECT, "openid");
  const ok = await new Agent().request(authorizeUrl(issuer, { client_id: "jar", request: await requestObject(key, "jar", issuer, params) }));
  assert.equal(ok.status, 200);
  assert.ok(ok.text_.includes('name="password"'));
  const forged = await requestObject(otherKey, "jar", issuer, params);
  errorPage(await new Agent().request(authorizeUrl(issuer, { client_id: "jar", request: forged })), 400, "invalid_request_object");
});

test("JAR refusals: signature, iss, aud, expiry, lifetime, contradicting parameters, client_id, per-client alg", async () => {
  const { params } = codeRequest("jar", REDIRECT, "openid");
  const withAuth = async (fields) => push(issuer, { client_id: "jar", ...fields, ...(await clientAssertion(key, "jar", `${issuer}/par`)) });
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    [await requestObject(otherKey, "jar", issuer, params), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, params, { iss: "web" }), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, params, { aud: "https://other.example" }), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, params, { exp: now - 5, nbf: now - 100 }), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, params, { exp: undefined }), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, params, { exp: now + 3700, nbf: now }), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, params, { nbf: now + 600 }), "invalid_request_object"],
    [await requestObject(key, "jar", issuer, { ...params, client_id: "web" }), "invalid_request_object"],
    ["not-a-jwt", "invalid_request_object"],
  ];
  for (const [request, error] of cases) {
    const r = await withAuth({ request });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, error, r.text);
    assert.equal(r.json.request_uri, undefined);
  }
  // Loose parameters may repeat the request object's, never contradict them.
  const request = await requestObject(key, "jar", issuer, params);
  assert.equal((await withAuth({ request, scope: "openid" })).status, 201);
  const contradicted = await withAuth({ request: await requestObject(key, "jar", issuer, params), scope: "openid profile" });
  assert.equal(contradicted.status, 400, contradicted.text);
  assert.equal(contradicted.json.error, "invalid_request");
  // A client that requires signed request objects, with PS256 only.
  const p2 = codeRequest("jar-only", REDIRECT, "openid").params;
  const a2 = async () => clientAssertion(key, "jar-only", `${issuer}/par`);
  const plain = await push(issuer, { ...p2, ...(await a2()) });
  assert.equal(plain.json?.error, "invalid_request_object", plain.text);
  const es = await push(issuer, { client_id: "jar-only", request: await requestObject(key, "jar-only", issuer, p2), ...(await a2()) });
  assert.equal(es.json?.error, "invalid_request_object", es.text);
  const ps = await push(issuer, { client_id: "jar-only", request: await requestObject(psKey, "jar-only", issuer, p2), ...(await a2()) });
  assert.equal(ps.status, 201, ps.text);
});

// JARM (JWT Secured Authorization Response Mode: response_mode=jwt, query.jwt, fragment.jwt,
// form_post.jwt) and the OIDC hybrid flow (response_type=code id_token) at the authorization
// endpoint: responses verified with jose against the workspace JWKS, errors as signed responses,
// c_hash / s_hash computed here, the refusals (no nonce, query for an ID token, a client that did
// not register code id_token), and the fapi_br profile (PS256 only, code id_token off unless the
// workspace switches it on, PAR + JAR requests whose response_mode travels inside them).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import * as jose from "jose";
import { startTarget, form, basic, hidden, Agent } from "../support/target.mjs";
import { keyPair, clientAssertion, requestObject, codeRequest, push, browse, authorizeUrl } from "../support/fapi.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery", claims: { name: "Ada", email: "ada@example.com" } };
const PROFILE = { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 };
const ALL_MODES = ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"];
let t, issuer, brIssuer, brHybridIssuer, tppKey;
const secrets = {};
const jwks = {};

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "jarm");
  await t.user("acme", "jarm", USER);
  const base = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile" };
  for (const c of [
    { client_id: "web", ...base },
    { client_id: "hybrid", ...base, response_types: ["code", "code id_token"] },
    { client_id: "rs", ...base, response_types: ["code", "code id_token"], authorization_signed_response_alg: "RS256", id_token_signed_response_alg: "PS256" },
  ]) secrets[c.client_id] = (await t.client("acme", "jarm", c)).client_secret;

  tppKey = await keyPair("PS256", "tpp-ps");
  const tpp = {
    client_id: "tpp",
    redirect_uris: [REDIRECT],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code", "code id_token"],
    scope: "openid profile",
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [tppKey.jwk] },
    // The profile overrides both: everything it signs is PS256.
    authorization_signed_response_alg: "ES256",
    id_token_signed_response_alg: "ES256",
  };
  brIssuer = await t.workspace("bank", "ob", PROFILE);
  await t.user("bank", "ob", USER);
  await t.client("bank", "ob", tpp);
  brHybridIssuer = await t.workspace("bank", "ob-hybrid", { ...PROFILE, response_type_code_id_token: true });
  await t.user("bank", "ob-hybrid", USER);
  await t.client("bank", "ob-hybrid", tpp);
});
after(() => t.stop());

/** The left half of SHA-256, base64url: at_hash, c_hash and s_hash for ES256/RS256/PS256. */
const halfHash = (s) => createHash("sha256").update(s).digest().subarray(0, 16).toString("base64url");
const keySet = (iss) => (jwks[iss] ??= jose.createRemoteJWKSet(new URL(`${iss}/jwks`)));

/** Verifies a JARM response JWT (signature by the workspace JWKS, iss, aud, exp) and returns { payload, header }. */
async function verifyJarm(iss, jwt, client_id, alg) {
  const { payload, protectedHeader } = await jose.jwtVerify(jwt, keySet(iss), { issuer: iss, audience: client_id, algorithms: alg ? [alg] : undefined });
  const now = Math.floor(Date.now() / 1000);
  assert.equal(typeof payload.exp, "number");
  assert.equal(typeof payload.iat, "number");
  assert.ok(payload.exp > now, "not expired");
  assert.ok(payload.exp - payload.iat <= 600 && payload.exp - payload.iat > 0, `short-lived: ${payload.exp - payload.iat}`);
  assert.equal(payload.aud, client_id);
  return { payload, header: protectedHeader };
}

/** Verifies an ID token from the authorization endpoint and returns its payload. */
async function verifyIdToken(iss, jwt, client_id, alg) {
  const { payload, protectedHeader } = await jose.jwtVerify(jwt, keySet(iss), { issuer: iss, audience: client_id, algorithms: alg ? [alg] : undefined });
  assert.equal(protectedHeader.typ, "JWT");
  return payload;
}

/** The final redirect's location, split: { url, query, fragment }. */
function location(r) {
  assert.equal(r.status, 303, `${r.status} ${r.text_?.slice(0, 500)}`);
  const url = new URL(r.headers.get("location"));
  assert.equal(url.origin + url.pathname, REDIRECT);
  return { url, query: url.searchParams, fragment: new URLSearchParams(url.hash.slice(1)) };
}

/** The only parameter of a JARM response is `response`. */
function onlyResponse(params) {
  assert.deepEqual([...params.keys()], ["response"], params.toString().slice(0, 300));
  return params.get("response");
}

/** A plain-workspace authorization request (PKCE, state, nonce); `extra` undefined values drop a parameter. */
function request(client_id, extra = {}) {
  const { params, verifier } = codeRequest(client_id, REDIRECT, "openid profile", extra);
  for (const [k, v] of Object.entries(params)) if (v === undefined) delete params[k];
  return { params, verifier, url: authorizeUrl(issuer, params) };
}

const redeem = (client_id, code, verifier) => form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic(client_id, secrets[client_id]) });

test("discovery lists the JARM response modes, the signing algorithms and code id_token", async () => {
  const d = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  for (const m of ["query", "fragment", "form_post", ...ALL_MODES]) assert.ok(d.response_modes_supported.includes(m), m);
  assert.deepEqual(d.response_types_supported, ["code", "code id_token"]);
  assert.deepEqual(d.authorization_signing_alg_values_supported, ["ES256", "RS256", "PS256"]);
  assert.deepEqual(d.authorization_signing_alg_values_supported, d.id_token_signing_alg_values_supported);
  const rfc8414 = await (await fetch(`${new URL(issuer).origin}/.well-known/oauth-authorization-server${new URL(issuer).pathname}`)).json();
  assert.deepEqual(rfc8414.response_modes_supported, d.response_modes_supported);
});

test("response_mode=jwt with code: one signed `response` in the query (iss, aud, exp, state, code); the code redeems", async () => {
  const { params, verifier, url } = request("web", { response_mode: "jwt" });
  const { r } = await browse(issuer, url, USER);
  const { query, url: loc } = location(r);
  assert.equal(loc.hash, "");
  const { payload, header } = await verifyJarm(issuer, onlyResponse(query), "web", "ES256");
  assert.equal(header.alg, "ES256"); // the workspace default: the client named no algorithm
  assert.equal(payload.iss, issuer);
  assert.equal(payload.state, params.state);
  assert.ok(payload.code);
  assert.equal(payload.error, undefined);
  const tok = await redeem("web", payload.code, verifier);
  assert.equal(tok.status, 200, tok.text);
  assert.ok(tok.json.access_token && tok.json.id_token);
  // A response signed by anyone else, or altered, does not verify.
  const [h, , s] = onlyResponse(query).split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, code: "stolen" })).toString("base64url")}.${s}`;
  await assert.rejects(jose.jwtVerify(forged, keySet(issuer)));
  // A JARM response is signed by the server too, but it is not an ID token: no id_token_hint.
  const logout = await new Agent().request(`${issuer}/logout?id_token_hint=${onlyResponse(query)}`);
  assert.equal(logout.status, 400);
  assert.match(logout.text_, /not an ID token/);
  const withAccessToken = await new Agent().request(`${issuer}/logout?id_token_hint=${tok.json.access_token}`);
  assert.equal(withAccessToken.status, 400);
  const withIdToken = await new Agent().request(`${issuer}/logout?id_token_hint=${tok.json.id_token}`);
  assert.equal(withIdToken.status, 303, "an ID token is a hint");
});

test("query.jwt with the client's authorization_signed_response_alg (RS256)", async () => {
  const { params, verifier, url } = request("rs", { response_mode: "query.jwt" });
  const { r } = await browse(issuer, url, USER);
  const { payload, header } = await verifyJarm(issuer, onlyResponse(location(r).query), "rs", "RS256");
  assert.equal(header.alg, "RS256");
  assert.equal(payload.state, params.state);
  assert.equal((await redeem("rs", payload.code, verifier)).status, 200);
});

test("fragment.jwt puts the response in the fragment; form_post.jwt posts only `response`", async () => {
  const frag = request("web", { response_mode: "fragment.jwt" });
  const { r, agent } = await browse(issuer, frag.url, USER);
  const loc = location(r);
  assert.equal(loc.query.toString(), "");
  const f = await verifyJarm(issuer, onlyResponse(loc.fragment), "web");
  assert.equal(f.payload.state, frag.params.state);
  assert.equal((await redeem("web", f.payload.code, frag.verifier)).status, 200);

  const post = request("web", { response_mode: "form_post.jwt" });
  const { r: page } = await browse(issuer, post.url, { ...USER, agent });
  assert.equal(page.status, 200, page.text_.slice(0, 500));
  assert.match(page.text_, new RegExp(`<form method="post" action="${REDIRECT}"`));
  assert.equal([...page.text_.matchAll(/<input type="hidden" name="([^"]+)"/g)].map((m) => m[1]).join(","), "response");
  const p = await verifyJarm(issuer, hidden(page.text_, "response"), "web");
  assert.equal(p.payload.state, post.params.state);
  assert.equal((await redeem("web", p.payload.code, post.verifier)).status, 200);
});

test("errors go as JARM when JARM was asked: invalid scope, access denied on the consent page, login_required", async () => {
  const scope = request("web", { response_mode: "jwt", scope: "openid admin" });
  const bad = await verifyJarm(issuer, onlyResponse(location(await new Agent().request(scope.url)).query), "web");
  assert.equal(bad.payload.error, "invalid_scope");
  assert.ok(bad.payload.error_description);
  assert.equal(bad.payload.state, scope.params.state);
  assert.equal(bad.payload.code, undefined);

  const deny = request("web", { response_mode: "fragment.jwt", prompt: "consent" });
  const { r, consentPage } = await browse(issuer, deny.url, { ...USER, decision: "deny" });
  assert.ok(consentPage, "the consent page was shown");
  const denied = await verifyJarm(issuer, onlyResponse(location(r).fragment), "web");
  assert.equal(denied.payload.error, "access_denied");
  assert.equal(denied.payload.state, deny.params.state);
  assert.equal(denied.payload.code, undefined);

  const none = request("web", { response_mode: "form_post.jwt", prompt: "none" });
  const page = await new Agent().request(none.url);
  assert.equal(page.status, 200);
  const lr = await verifyJarm(issuer, hidden(page.text_, "response"), "web");
  assert.equal(lr.payload.error, "login_required");

  // A JARM request for an unregistered redirect_uri still gets an error page, never a redirect.
  const evil = await new Agent().request(request("web", { response_mode: "jwt", redirect_uri: "https://evil.example/cb" }).url);
  assert.equal(evil.status, 400);
  assert.equal(evil.headers.get("location"), null);
  // An unknown response mode is refused (plainly: the client asked for no mode we know).
  const unknown = location(await new Agent().request(request("web", { response_mode: "web_message" }).url));
  assert.equal(unknown.query.get("error"), "invalid_request");
  assert.match(unknown.query.get("error_description"), /response_mode/);
});

test("code id_token: code, id_token, state and iss in the fragment; the ID token carries nonce, c_hash, s_hash, auth_time", async () => {
  const { params, verifier, url } = request("hybrid", { response_type: "code id_token" });
  const { r } = await browse(issuer, url, USER);
  const { query, fragment } = location(r);
  assert.equal(query.toString(), "", "nothing in the query");
  assert.equal(fragment.get("state"), params.state);
  assert.equal(fragment.get("iss"), issuer);
  const code = fragment.get("code");
  const id = await verifyIdToken(issuer, fragment.get("id_token"), "hybrid", "ES256");
  assert.equal(id.nonce, params.nonce);
  assert.equal(id.c_hash, halfHash(code));
  assert.equal(id.s_hash, halfHash(params.state));
  assert.notEqual(id.c_hash, halfHash(code + "x"));
  assert.equal(typeof id.auth_time, "number");
  assert.ok(id.sub && id.acr && id.sid);
  assert.equal(id.name, undefined, "no user claims in the front channel");
  const tok = await redeem("hybrid", code, verifier);
  assert.equal(tok.status, 200, tok.text);
  const back = await verifyIdToken(issuer, tok.json.id_token, "hybrid");
  assert.equal(back.sub, id.sub);
  assert.equal(back.nonce, params.nonce);
  assert.equal(back.name, "Ada");
});

test("code id_token: the client's ID token algorithm, form_post, words in any order, and no s_hash without state", async () => {
  const rs = request("rs", { response_type: "id_token code", state: undefined, response_mode: "form_post" });
  const { r } = await browse(issuer, rs.url, USER);
  assert.equal(r.status, 200, r.text_.slice(0, 300));
  assert.equal(hidden(r.text_, "iss"), issuer);
  const code = hidden(r.text_, "code");
  const id = await verifyIdToken(issuer, hidden(r.text_, "id_token"), "rs", "PS256");
  assert.equal(id.c_hash, halfHash(code));
  assert.equal(id.s_hash, undefined);
  assert.ok(!r.text_.includes('name="state"'));
  assert.equal((await redeem("rs", code, rs.verifier)).status, 200);
});

test("code id_token with JARM: jwt means fragment.jwt; the response carries the code and a verifiable ID token", async () => {
  const { params, verifier, url } = request("hybrid", { response_type: "code id_token", response_mode: "jwt" });
  const { r } = await browse(issuer, url, USER);
  const loc = location(r);
  assert.equal(loc.query.toString(), "");
  const { payload } = await verifyJarm(issuer, onlyResponse(loc.fragment), "hybrid");
  assert.equal(payload.state, params.state);
  const id = await verifyIdToken(issuer, payload.id_token, "hybrid");
  assert.equal(id.c_hash, halfHash(payload.code));
  assert.equal(id.s_hash, halfHash(params.state));
  assert.equal(id.nonce, params.nonce);
  assert.equal((await redeem("hybrid", payload.code, verifier)).status, 200);

  const post = request("hybrid", { response_type: "code id_token", response_mode: "form_post.jwt" });
  const { r: page } = await browse(issuer, post.url, USER);
  const p = await verifyJarm(issuer, hidden(page.text_, "response"), "hybrid");
  assert.equal((await verifyIdToken(issuer, p.payload.id_token, "hybrid")).c_hash, halfHash(p.payload.code));
});

test("code id_token refusals: no nonce, query and query.jwt, a client that did not register it, unknown response types", async () => {
  const err = async (client, extra) => {
    const r = await new Agent().request(request(client, { response_type: "code id_token", ...extra }).url);
    return location(r);
  };
  let loc = await err("hybrid", { nonce: undefined });
  assert.equal(loc.fragment.get("error"), "invalid_request");
  assert.match(loc.fragment.get("error_description"), /nonce/);
  assert.equal(loc.query.toString(), "", "hybrid errors go to the fragment");

  loc = await err("hybrid", { response_mode: "query" });
  assert.equal(loc.fragment.get("error"), "invalid_request");
  assert.match(loc.fragment.get("error_description"), /query/);
  assert.equal(loc.query.get("code"), null);

  loc = await err("hybrid", { response_mode: "query.jwt" });
  const signed = await verifyJarm(issuer, onlyResponse(loc.fragment), "hybrid");
  assert.equal(signed.payload.error, "invalid_request");
  assert.equal(signed.payload.code, undefined);

  loc = await err("web", {});
  assert.equal(loc.fragment.get("error"), "unauthorized_client");
  assert.equal(loc.fragment.get("code"), null);

  loc = await err("hybrid", { scope: "profile" });
  assert.equal(loc.fragment.get("error"), "invalid_scope");

  for (const response_type of ["code token", "id_token", "code id_token token"]) {
    const q = location(await new Agent().request(request("hybrid", { response_type }).url)).query;
    assert.equal(q.get("error"), "unsupported_response_type", response_type);
  }
  // At PAR the same checks answer JSON.
  const { params } = codeRequest("web", REDIRECT, "openid", { response_type: "code id_token" });
  const par = await push(issuer, params, { authorization: basic("web", secrets.web) });
  assert.equal(par.status, 400, par.text);
  assert.equal(par.json.error, "unauthorized_client");
});

test("a plain workspace can switch code id_token off, and the switch is validated", async () => {
  const off = await t.workspace("acme", "no-hybrid", { response_type_code_id_token: false });
  await t.client("acme", "no-hybrid", { client_id: "hybrid", redirect_uris: [REDIRECT], response_types: ["code", "code id_token"], scope: "openid" });
  const d = await (await fetch(`${off}/.well-known/openid-configuration`)).json();
  assert.deepEqual(d.response_types_supported, ["code"]);
  const { params } = codeRequest("hybrid", REDIRECT, "openid", { response_type: "code id_token" });
  const loc = location(await new Agent().request(authorizeUrl(off, params)));
  assert.equal(loc.fragment.get("error"), "unsupported_response_type");
  const bad = await t.admin("PUT", "/admin/tenants/acme/workspaces/no-hybrid", { response_type_code_id_token: "yes" });
  assert.equal(bad.status, 400, bad.text);
});

// ---- fapi_br ----

/** PAR with a PS256 request object carrying `extra`, then the browser leg; returns { r, params, verifier }. */
async function fapiAuthorize(iss, extra) {
  const { params, verifier } = codeRequest("tpp", REDIRECT, "openid profile", extra);
  const request = await requestObject(tppKey, "tpp", iss, params);
  const pushed = await push(iss, { client_id: "tpp", request, ...(await clientAssertion(tppKey, "tpp", `${iss}/par`)) });
  if (pushed.status !== 201) return { pushed };
  const { r } = await browse(iss, authorizeUrl(iss, { client_id: "tpp", request_uri: pushed.json.request_uri }), USER);
  return { pushed, r, params, verifier };
}

const fapiRedeem = async (iss, code, verifier) => form(`${iss}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...(await clientAssertion(tppKey, "tpp", `${iss}/token`)) });

test("fapi_br discovery: PS256 for authorization responses; code id_token only where the workspace switches it on", async () => {
  const d = await (await fetch(`${brIssuer}/.well-known/openid-configuration`)).json();
  assert.deepEqual(d.authorization_signing_alg_values_supported, ["PS256"]);
  assert.deepEqual(d.response_types_supported, ["code"]);
  for (const m of ALL_MODES) assert.ok(d.response_modes_supported.includes(m), m);
  const h = await (await fetch(`${brHybridIssuer}/.well-known/openid-configuration`)).json();
  assert.deepEqual(h.response_types_supported, ["code", "code id_token"]);
  assert.deepEqual(h.authorization_signing_alg_values_supported, ["PS256"]);
});

test("fapi_br: PAR + JAR with response_mode=jwt inside the request object yields a PS256 JARM response", async () => {
  const { pushed, r, params, verifier } = await fapiAuthorize(brIssuer, { response_mode: "jwt" });
  assert.equal(pushed.status, 201, pushed.text);
  const { payload, header } = await verifyJarm(brIssuer, onlyResponse(location(r).query), "tpp", "PS256");
  assert.equal(header.alg, "PS256"); // the client asked ES256; the profile wins
  assert.equal(payload.iss, brIssuer);
  assert.equal(payload.state, params.state);
  const tok = await fapiRedeem(brIssuer, payload.code, verifier);
  assert.equal(tok.status, 200, tok.text);
});

test("fapi_br: a JARM error after PAR (consent denied) is a PS256 signed response", async () => {
  const { params } = codeRequest("tpp", REDIRECT, "openid profile", { response_mode: "form_post.jwt", prompt: "consent" });
  const request = await requestObject(tppKey, "tpp", brIssuer, params);
  const pushed = await push(brIssuer, { client_id: "tpp", request, ...(await clientAssertion(tppKey, "tpp", `${brIssuer}/par`)) });
  assert.equal(pushed.status, 201, pushed.text);
  const { r, consentPage } = await browse(brIssuer, authorizeUrl(brIssuer, { client_id: "tpp", request_uri: pushed.json.request_uri }), { ...USER, decision: "deny" });
  assert.ok(consentPage, "the consent page was shown");
  assert.equal(r.status, 200, r.text_.slice(0, 300));
  const { payload } = await verifyJarm(brIssuer, hidden(r.text_, "response"), "tpp", "PS256");
  assert.equal(payload.error, "access_denied");
  assert.equal(payload.state, params.state);
});

test("fapi_br: code id_token is refused unless the workspace switches it on; then PAR + JAR + JARM carry a PS256 ID token with acr", async () => {
  const off = await fapiAuthorize(brIssuer, { response_type: "code id_token", response_mode: "jwt" });
  assert.equal(off.pushed.status, 400, off.pushed.text);
  assert.equal(off.pushed.json.error, "unsupported_response_type");

  const { pushed, r, params, verifier } = await fapiAuthorize(brHybridIssuer, { response_type: "code id_token", response_mode: "jwt" });
  assert.equal(pushed.status, 201, pushed.text);
  const loc = location(r);
  assert.equal(loc.query.toString(), "");
  const { payload, header } = await verifyJarm(brHybridIssuer, onlyResponse(loc.fragment), "tpp", "PS256");
  assert.equal(header.alg, "PS256");
  const id = await verifyIdToken(brHybridIssuer, payload.id_token, "tpp", "PS256");
  assert.equal(id.acr, "urn:brasil:openbanking:loa2");
  assert.equal(id.nonce, params.nonce);
  assert.equal(id.c_hash, halfHash(payload.code));
  assert.equal(id.s_hash, halfHash(params.state));
  assert.equal(typeof id.auth_time, "number");
  const tok = await fapiRedeem(brHybridIssuer, payload.code, verifier);
  assert.equal(tok.status, 200, tok.text);

  // The checks run at PAR: no nonce, or query for an ID token, answer JSON there.
  const noNonce = await fapiAuthorize(brHybridIssuer, { response_type: "code id_token", nonce: undefined });
  assert.equal(noNonce.pushed.status, 400, noNonce.pushed.text);
  assert.match(noNonce.pushed.json.error_description, /nonce/);
  const query = await fapiAuthorize(brHybridIssuer, { response_type: "code id_token", response_mode: "query" });
  assert.equal(query.pushed.status, 400, query.pushed.text);
  assert.equal(query.pushed.json.error, "invalid_request");
});

test("a JARM response never leaks into plain parameters, and iss stays inside it", async () => {
  const { url } = request("web", { response_mode: "query.jwt", state: randomUUID() });
  const { r } = await browse(issuer, url, USER);
  const q = location(r).query;
  assert.equal(q.get("iss"), null);
  assert.equal(q.get("code"), null);
  assert.equal(q.get("state"), null);
  const { payload } = await verifyJarm(issuer, onlyResponse(q), "web");
  assert.equal(payload.iss, issuer);
});

// The Open Finance Brasil security profile (`profile: "fapi_br"` on a workspace): validated on
// write; discovery shows only what it allows; the whole flow with PAR, a PS256 request object and
// private_key_jwt; PS256 tokens, acr loa2, access tokens of 300-900 s, no refresh rotation,
// x-fapi-interaction-id echoed or generated; and the refusal cases (wrong algorithm, no PAR, no
// request object, reused jti, expired request object, id_token_hint, other client authentication).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startTarget, basic, form, Agent } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { keyPair, clientAssertion, requestObject, codeRequest, push, browse, redirected, authorizeUrl, UUID } from "../support/fapi.mjs";

const REDIRECT = "https://tpp.example/cb";
const USER = { username: "joao", password: "senha muito segura", claims: { name: "João" } };
const PROFILE = { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 };
let t, issuer, key, esKey, secretClient;

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("bank", "ob", PROFILE);
  await t.user("bank", "ob", USER);
  key = await keyPair("PS256", "tpp-ps");
  esKey = await keyPair("ES256", "tpp-es");
  await t.client("bank", "ob", {
    client_id: "tpp",
    redirect_uris: [REDIRECT],
    grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    scope: "openid profile",
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [key.jwk, esKey.jwk] },
    id_token_signed_response_alg: "ES256",
  });
  secretClient = (await t.client("bank", "ob", { client_id: "legacy", redirect_uris: [REDIRECT], scope: "openid" })).client_secret;
});
after(() => t.stop());

const assertion = (aud, claims) => clientAssertion(key, "tpp", aud, claims);

/** PAR with a PS256 request object and private_key_jwt; returns { r, verifier, params }. */
async function pushSigned(extra = {}, { signWith = key, roClaims = {}, loose = {} } = {}) {
  const { params, verifier } = codeRequest("tpp", REDIRECT, "openid profile", extra);
  const request = await requestObject(signWith, "tpp", issuer, params, roClaims);
  const r = await push(issuer, { client_id: "tpp", request, ...loose, ...(await assertion(`${issuer}/par`)) });
  return { r, verifier, params };
}

async function tokens() {
  const { r, verifier } = await pushSigned();
  assert.equal(r.status, 201, r.text);
  const { r: done } = await browse(issuer, authorizeUrl(issuer, { client_id: "tpp", request_uri: r.json.request_uri }), USER);
  const code = redirected(done).get("code");
  const interaction = randomUUID();
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...(await assertion(`${issuer}/token`)) }, { "x-fapi-interaction-id": interaction });
  assert.equal(tok.status, 200, tok.text);
  assert.equal(tok.headers.get("x-fapi-interaction-id"), interaction);
  return tok.json;
}

test("the profile is validated on write: PS256 signing and a 300-900 s access token, or 400 and nothing stored", async () => {
  await t.workspace("bank", "other");
  for (const [config, field] of [
    [{ profile: "fapi_br" }, "default_signing_alg"],
    [{ profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 1200 }, "access_token_ttl"],
    [{ profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 120 }, "access_token_ttl"],
    [{ profile: "fapi" }, "fapi_br"],
  ]) {
    const r = await t.admin("PUT", "/admin/tenants/bank/workspaces/other", config);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error_description, new RegExp(field));
  }
  const stored = await t.admin("GET", "/admin/tenants/bank/workspaces/other");
  assert.equal(stored.json.profile, undefined);
  const ok = await t.admin("PUT", "/admin/tenants/bank/workspaces/other", { ...PROFILE, access_token_ttl: 900 });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.profile, "fapi_br");
});

test("discovery advertises only what the profile allows", async () => {
  const d = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(d.require_pushed_authorization_requests, true);
  assert.equal(d.require_signed_request_object, true);
  assert.equal(d.pushed_authorization_request_endpoint, `${issuer}/par`);
  for (const k of ["id_token_signing_alg_values_supported", "request_object_signing_alg_values_supported", "token_endpoint_auth_signing_alg_values_supported", "access_token_signing_alg_values_supported"]) {
    assert.deepEqual(d[k], ["PS256"], k);
  }
  assert.deepEqual(d.token_endpoint_auth_methods_supported, ["private_key_jwt", "tls_client_auth"]);
  assert.deepEqual(d.introspection_endpoint_auth_methods_supported, ["private_key_jwt", "tls_client_auth"]);
  assert.deepEqual(d.acr_values_supported, ["urn:brasil:openbanking:loa2", "urn:brasil:openbanking:loa3"]);
  assert.deepEqual(d.response_types_supported, ["code"]);
});

test("the whole flow: PS256 ID and access tokens, acr loa2, 300 s access token, refresh without rotation", async () => {
  const tok = await tokens();
  const id = decodeJwt(tok.id_token), at = decodeJwt(tok.access_token);
  assert.equal(id.header.alg, "PS256"); // the client asked ES256; the profile wins
  assert.equal(at.header.alg, "PS256");
  assert.equal(id.payload.acr, "urn:brasil:openbanking:loa2");
  assert.equal(tok.expires_in, 300);
  assert.equal(at.payload.exp - at.payload.iat, 300);
  assert.ok(tok.refresh_token);
  for (let i = 0; i < 2; i++) {
    const r = await form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tok.refresh_token, ...(await assertion(`${issuer}/token`)) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.refresh_token, tok.refresh_token, "the refresh token is not rotated");
    assert.equal(decodeJwt(r.json.id_token).payload.acr, "urn:brasil:openbanking:loa2");
  }
});

test("x-fapi-interaction-id: echoed on token, userinfo, introspection, PAR and errors; a UUID is generated when absent", async () => {
  const tok = await tokens();
  const id = randomUUID();
  const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tok.access_token}`, "x-fapi-interaction-id": id } });
  assert.equal(ui.status, 200);
  assert.equal(ui.headers.get("x-fapi-interaction-id"), id);
  const gen = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tok.access_token}` } });
  assert.match(gen.headers.get("x-fapi-interaction-id"), UUID);
  const intro = await form(`${issuer}/introspect`, { token: tok.access_token, ...(await assertion(`${issuer}/introspect`)) }, { "x-fapi-interaction-id": id });
  assert.equal(intro.status, 200, intro.text);
  assert.equal(intro.json.active, true);
  assert.equal(intro.headers.get("x-fapi-interaction-id"), id);
  const bad = await form(`${issuer}/token`, { grant_type: "client_credentials" }, { "x-fapi-interaction-id": id });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers.get("x-fapi-interaction-id"), id);
  const par = await pushSigned();
  assert.match(par.r.headers.get("x-fapi-interaction-id"), UUID);
  // Not on a workspace without the profile.
  const plain = await t.workspace("bank", "plain");
  assert.equal((await fetch(`${plain}/token`, { method: "POST" })).headers.get("x-fapi-interaction-id"), null);
});

test("refused: an authorization request that does not come through PAR, even signed", async () => {
  const { params } = codeRequest("tpp", REDIRECT, "openid");
  const request = await requestObject(key, "tpp", issuer, params);
  const q = redirected(await new Agent().request(authorizeUrl(issuer, { client_id: "tpp", request })));
  assert.equal(q.get("error"), "invalid_request");
  assert.match(q.get("error_description"), /PAR/);
});

test("refused at PAR: no request object, a request object signed ES256, an expired one, one without nbf, no PKCE, id_token_hint", async () => {
  const { params } = codeRequest("tpp", REDIRECT, "openid");
  const plain = await push(issuer, { ...params, ...(await assertion(`${issuer}/par`)) });
  assert.equal(plain.status, 400);
  assert.equal(plain.json.error, "invalid_request_object");
  const now = Math.floor(Date.now() / 1000);
  for (const [opts, error] of [
    [{ signWith: esKey }, "invalid_request_object"],
    [{ roClaims: { exp: now - 1, nbf: now - 301 } }, "invalid_request_object"],
    [{ roClaims: { nbf: undefined } }, "invalid_request_object"],
  ]) {
    const { r } = await pushSigned({}, opts);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, error, r.text);
    assert.equal(r.json.request_uri, undefined);
  }
  const noPkce = await pushSigned({ code_challenge: undefined, code_challenge_method: undefined });
  assert.equal(noPkce.r.status, 400, noPkce.r.text);
  assert.match(noPkce.r.json.error_description, /PKCE/);
  const hint = await pushSigned({ id_token_hint: "eyJhbGciOiJQUzI1NiJ9.e30.c2ln" });
  assert.equal(hint.r.status, 400, hint.r.text);
  assert.equal(hint.r.json.error, "invalid_request");
  assert.match(hint.r.json.error_description, /id_token_hint/);
});

test("refused: client assertions signed ES256, a reused jti, and client_secret_basic", async () => {
  const cc = (fields, headers = {}) => form(`${issuer}/token`, { grant_type: "client_credentials", scope: "profile", ...fields }, headers);
  const es = await cc(await clientAssertion(esKey, "tpp", `${issuer}/token`));
  assert.equal(es.status, 401, es.text);
  assert.equal(es.json.error, "invalid_client");
  assert.match(es.json.error_description, /PS256/);
  const once = await assertion(`${issuer}/token`);
  assert.equal((await cc(once)).status, 200);
  const again = await cc(once);
  assert.equal(again.status, 401);
  assert.equal(again.json.error, "invalid_client");
  const secret = await cc({}, { authorization: basic("legacy", secretClient) });
  assert.equal(secret.status, 401, secret.text);
  assert.match(secret.json.error_description, /private_key_jwt/);
  const parSecret = await push(issuer, codeRequest("legacy", REDIRECT, "openid").params, { authorization: basic("legacy", secretClient) });
  assert.equal(parSecret.status, 401);
});

test("refused: id_token_hint at logout", async () => {
  const tok = await tokens();
  const r = await new Agent().request(`${issuer}/logout?id_token_hint=${tok.id_token}`);
  assert.equal(r.status, 400);
  assert.ok(r.text_.includes("id_token_hint"));
});

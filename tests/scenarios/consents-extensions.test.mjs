// Open Finance Brasil data consent extensions: POST /consents/{consentId}/extends with the access
// token of the consent's own authorization, GET /consents/{consentId}/extensions with the TPP's
// client_credentials token. Runs on every target (no clock needed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, form } from "../support/target.mjs";
import { keyPair, clientAssertion, requestObject, codeRequest, push, browse, redirected, authorizeUrl } from "../support/fapi.mjs";

const REDIRECT = "https://tpp.example/cb";
const CPF = "12345678901";
const USER = { username: "bia", password: "senha muito segura", claims: { cpf: CPF } };
const ACCOUNTS = ["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"];
let t, issuer, api, key, otherKey;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("xbank", "ofb", { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 });
  api = `${issuer}/open-banking/consents/v3/consents`;
  await t.user("xbank", "ofb", USER);
  [key, otherKey] = await Promise.all([keyPair("PS256", "x-1"), keyPair("PS256", "x-2")]);
  const base = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token", "client_credentials"], token_endpoint_auth_method: "private_key_jwt", scope: "openid consents" };
  await t.client("xbank", "ofb", { ...base, client_id: "xtpp", jwks: { keys: [key.jwk] } });
  await t.client("xbank", "ofb", { ...base, client_id: "xtpp2", jwks: { keys: [otherKey.jwk] } });
});
after(() => t.stop());

async function ccToken(client = "xtpp", k = key) {
  const r = await form(`${issuer}/token`, { grant_type: "client_credentials", scope: "consents", ...(await clientAssertion(k, client, `${issuer}/token`)) });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

async function call(method, url, token, body, headers = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h["content-type"] = "application/json";
  const r = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text };
}

/** A consent ending in 30 days, authorised by the user; returns its id and the user-bound tokens. */
async function authorised(client = "xtpp", k = key) {
  const created = await call("POST", api, await ccToken(client, k), { data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, permissions: ACCOUNTS, expirationDateTime: iso(Date.now() + 30 * 86400e3) } });
  assert.equal(created.status, 201, created.text);
  const id = created.json.data.consentId;
  const { params, verifier } = codeRequest(client, REDIRECT, `openid consent:${id}`);
  const par = await push(issuer, { client_id: client, request: await requestObject(k, client, issuer, params), ...(await clientAssertion(k, client, `${issuer}/par`)) });
  assert.equal(par.status, 201, par.text);
  const { r } = await browse(issuer, authorizeUrl(issuer, { client_id: client, request_uri: par.json.request_uri }), USER);
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code: redirected(r).get("code"), redirect_uri: REDIRECT, code_verifier: verifier, ...(await clientAssertion(k, client, `${issuer}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  return { id, tokens: tok.json, end: created.json.data.expirationDateTime };
}

const customer = { "x-customer-user-agent": "Mozilla/5.0 (TPP app)", "x-customer-ip-address": "203.0.113.7" };
const extendBody = (expirationDateTime, cpf = CPF) => ({ data: { loggedUser: { document: { identification: cpf, rel: "CPF" } }, ...(expirationDateTime === undefined ? {} : { expirationDateTime }) } });

test("extends moves the end date of an AUTHORISED consent; extensions lists each one, newest first", async () => {
  const { id, tokens, end } = await authorised();
  const later = iso(Date.now() + 90 * 86400e3);
  const r = await call("POST", `${api}/${id}/extends`, tokens.access_token, extendBody(later), customer);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.data.status, "AUTHORISED");
  assert.equal(r.json.data.expirationDateTime, later);
  const cc = await ccToken();
  assert.equal((await call("GET", `${api}/${id}`, cc)).json.data.expirationDateTime, later);
  // Then indefinitely (no end date).
  const open = await call("POST", `${api}/${id}/extends`, tokens.access_token, extendBody("2300-01-01T00:00:00Z"), customer);
  assert.equal(open.status, 201, open.text);
  assert.equal(open.json.data.expirationDateTime, undefined);
  const list = await call("GET", `${api}/${id}/extensions`, cc);
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.data.length, 2);
  assert.equal(list.json.data[0].expirationDateTime, "2300-01-01T00:00:00Z");
  assert.equal(list.json.data[0].previousExpirationDateTime, later);
  assert.equal(list.json.data[1].expirationDateTime, later);
  assert.equal(list.json.data[1].previousExpirationDateTime, end);
  assert.equal(list.json.data[1].xFapiCustomerIpAddress, "203.0.113.7");
  assert.equal(list.json.data[1].xCustomerUserAgent, customer["x-customer-user-agent"]);
  assert.deepEqual(list.json.data[1].loggedUser, { document: { identification: CPF, rel: "CPF" } });
  assert.ok(list.json.data[1].requestDateTime);
  // The token still works for refresh: the consent stayed AUTHORISED.
  const refresh = await form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, ...(await clientAssertion(key, "xtpp", `${issuer}/token`)) });
  assert.equal(refresh.status, 200, refresh.text);
});

test("extends refusals: client_credentials token, another consent's token, missing customer headers, another customer, an earlier or too far date; nothing changes", async () => {
  const { id, tokens, end } = await authorised();
  const other = await authorised("xtpp2", otherKey);
  const later = iso(Date.now() + 60 * 86400e3);
  const cases = [
    [await ccToken(), extendBody(later), customer, 403, "FORBIDDEN"],
    [other.tokens.access_token, extendBody(later), customer, 403, "FORBIDDEN"],
    [tokens.access_token, extendBody(later), {}, 400, "PARAMETRO_NAO_INFORMADO"],
    [tokens.access_token, extendBody(later, "99999999999"), customer, 403, "FORBIDDEN"],
    [tokens.access_token, extendBody(iso(Date.now() + 86400e3)), customer, 422, "DATA_EXPIRACAO_INVALIDA"],
    [tokens.access_token, extendBody(iso(Date.now() + 400 * 86400e3)), customer, 422, "DATA_EXPIRACAO_INVALIDA"],
    [tokens.access_token, extendBody("soon"), customer, 400, "PARAMETRO_INVALIDO"],
    [tokens.access_token, { nodata: 1 }, customer, 400, "PARAMETRO_NAO_INFORMADO"],
    ["garbage", extendBody(later), customer, 401, "UNAUTHORIZED"],
  ];
  for (const [token, body, headers, status, code] of cases) {
    const r = await call("POST", `${api}/${id}/extends`, token, body, headers);
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.errors[0].code, code, r.text);
  }
  const cc = await ccToken();
  assert.equal((await call("GET", `${api}/${id}`, cc)).json.data.expirationDateTime, end);
  assert.equal((await call("GET", `${api}/${id}/extensions`, cc)).json.data.length, 0);
  // Another TPP cannot list this consent's extensions.
  assert.equal((await call("GET", `${api}/${id}/extensions`, await ccToken("xtpp2", otherKey))).status, 404);
  // A revoked consent: its tokens stop, so extending is refused at the token.
  assert.equal((await call("DELETE", `${api}/${id}`, cc)).status, 204);
  assert.equal((await call("POST", `${api}/${id}/extends`, tokens.access_token, extendBody(later), customer)).status, 401);
});

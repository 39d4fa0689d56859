// Open Finance Brasil payment consents (payments API v3/v4) on a fapi_br workspace: JWS request and
// response bodies (PS256, iss/aud/iat, jti single use per client), idempotency keys, the journey to
// CONSUMED (PAR + request object + login + consent page, tokens, consumption through the bank-side
// API, refresh refused), and consent introspection for resource servers (v3, deprecated v1/v2).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as jose from "jose";
import { startTarget, form } from "../support/target.mjs";
import { keyPair, signJwt, clientAssertion, requestObject, codeRequest, push, browse, redirected, authorizeUrl } from "../support/fapi.mjs";
import { systemClient, api } from "../support/management.mjs";

const REDIRECT = "https://tpp.example/cb";
const CPF = "12345678901";
const USER = { username: "ana", password: "senha muito segura", claims: { name: "Ana", cpf: CPF } };
let t, issuer, key, otherKey, rsKey, jwks, ops;
// Seconds the server's clock was advanced: assertions and bodies are dated on its clock.
let skew = 0;
const now = () => Math.floor(Date.now() / 1000) + skew;

before(async () => {
  t = await startTarget();
  const scopes = { openid: { description: "Sign you in", claims: [] }, payments: { description: "Payments", claims: [] } };
  issuer = await t.workspace("pbank", "ofb", { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300, scopes });
  await t.user("pbank", "ofb", USER);
  [key, otherKey, rsKey] = await Promise.all([keyPair("PS256", "tpp-1"), keyPair("PS256", "tpp-2"), keyPair("PS256", "rs-1")]);
  const base = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token", "client_credentials"], token_endpoint_auth_method: "private_key_jwt" };
  await t.client("pbank", "ofb", { ...base, client_id: "ptpp", scope: "openid payments", jwks: { keys: [key.jwk] } });
  await t.client("pbank", "ofb", { ...base, client_id: "ptpp2", scope: "openid payments", jwks: { keys: [otherKey.jwk] } });
  await t.client("pbank", "ofb", { redirect_uris: [REDIRECT], grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", client_id: "rs", scope: "introspect_openbanking_tokens", jwks: { keys: [rsKey.jwk] } });
  jwks = jose.createLocalJWKSet(await (await fetch(`${issuer}/jwks`)).json());
  ops = await systemClient(t, { client_id: "bank-ops" });
});
after(() => t.stop());

async function ccToken(client = "ptpp", k = key) {
  const r = await form(`${issuer}/token`, { grant_type: "client_credentials", scope: "payments", ...(await clientAssertion(k, client, `${issuer}/token`, { iat: now(), exp: now() + 120 })) });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

const today = () => new Date(Date.now() - 3 * 3600e3).toISOString().slice(0, 10);
const paymentData = (amount = "100.00") => ({
  loggedUser: { document: { identification: CPF, rel: "CPF" } },
  creditor: { personType: "PESSOA_JURIDICA", cpfCnpj: "12345678000190", name: "Loja Exemplo" },
  payment: { type: "PIX", date: today(), currency: "BRL", amount, details: { localInstrument: "DICT", proxy: "loja@example.com", creditorAccount: { ispb: "12345678", issuer: "0001", number: "1234567890", accountType: "CACC" } } },
});

/** A signed request body for `client`; `claims` override iss/aud/iat/jti. */
const body = (data, client = "ptpp", k = key, claims = {}) => signJwt(k, { iss: client, aud: issuer, iat: now(), jti: randomUUID(), data, ...claims }, { typ: "JWT" });

/** Calls the payments API; returns { status, claims (verified response JWS), headers }. */
async function call(method, path, token, jws, headers = {}) {
  const h = { "x-fapi-interaction-id": randomUUID(), ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (jws !== undefined) h["content-type"] = "application/jwt";
  const r = await fetch(`${issuer}/open-banking/payments/${path}`, { method, headers: h, body: jws });
  const text = await r.text();
  assert.equal(r.headers.get("content-type"), "application/jwt", text);
  const { payload, protectedHeader } = await jose.jwtVerify(text, jwks, { issuer });
  assert.equal(protectedHeader.alg, "PS256");
  assert.equal(r.headers.get("x-fapi-interaction-id"), h["x-fapi-interaction-id"]);
  return { status: r.status, claims: payload, headers: r.headers };
}

async function create(token, data = paymentData(), key_ = randomUUID(), version = "v3", client = "ptpp", k = key) {
  const r = await call("POST", `${version}/consents`, token, await body(data, client, k), { "x-idempotency-key": key_ });
  assert.equal(r.status, 201, JSON.stringify(r.claims));
  return r;
}

async function authorise(consentId, client = "ptpp", k = key) {
  const { params, verifier } = codeRequest(client, REDIRECT, `openid payments consent:${consentId}`);
  const request = await requestObject(k, client, issuer, params);
  const par = await push(issuer, { client_id: client, request, ...(await clientAssertion(k, client, `${issuer}/par`)) });
  assert.equal(par.status, 201, par.text);
  const { r, consentPage } = await browse(issuer, authorizeUrl(issuer, { client_id: client, request_uri: par.json.request_uri }), USER);
  const code = redirected(r).get("code");
  assert.ok(code, r.headers.get("location"));
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...(await clientAssertion(k, client, `${issuer}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  return { tokens: tok.json, consentPage };
}

const introspect = async (token, version = "v3", k = rsKey, client = "rs") => {
  const url = `${issuer}/open-banking-brasil/open-banking/payments/${version}/consents/introspect`;
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token, ...(await clientAssertion(k, client, url)) }) });
  return { status: r.status, json: await r.json(), headers: r.headers };
};

test("POST /consents with a JWS body: 201 signed by the bank (PS256, aud = the TPP), AWAITING_AUTHORISATION, 5 minutes to authorise; GET for its TPP only", async () => {
  const token = await ccToken();
  const r = await create(token);
  assert.equal(r.claims.aud, "ptpp");
  assert.ok(r.claims.jti && r.claims.iat);
  const d = r.claims.data;
  assert.match(d.consentId, /^urn:edgeauth:/);
  assert.equal(d.status, "AWAITING_AUTHORISATION");
  assert.equal(d.payment.amount, "100.00");
  assert.equal(Date.parse(d.expirationDateTime) - Date.parse(d.creationDateTime), 300e3);
  assert.equal(r.claims.links.self, `${issuer}/open-banking/payments/v3/consents/${d.consentId}`);
  const got = await call("GET", `v3/consents/${d.consentId}`, token);
  assert.equal(got.status, 200);
  assert.deepEqual(got.claims.data, d);
  const theirs = await call("GET", `v3/consents/${d.consentId}`, await ccToken("ptpp2", otherKey));
  assert.equal(theirs.status, 404);
  assert.equal(theirs.claims.errors[0].code, "NAO_ENCONTRADO");
  // v4 answers the same way.
  const v4 = await create(token, paymentData("5.00"), randomUUID(), "v4");
  assert.equal(v4.claims.data.status, "AWAITING_AUTHORISATION");
  assert.equal(v4.claims.links.self, `${issuer}/open-banking/payments/v4/consents/${v4.claims.data.consentId}`);
});

test("a reused jti answers 403 and creates nothing; bad signatures 400; wrong iss/aud/iat 403", async () => {
  const token = await ccToken();
  const jws = await body(paymentData());
  const first = await call("POST", "v3/consents", token, jws, { "x-idempotency-key": randomUUID() });
  assert.equal(first.status, 201);
  const again = await call("POST", "v3/consents", token, jws, { "x-idempotency-key": randomUUID() });
  assert.equal(again.status, 403, JSON.stringify(again.claims));
  assert.equal(again.claims.errors[0].code, "INVALID_CLIENT");
  assert.match(again.claims.errors[0].detail, /jti/);
  // Signed by another key, or not a JWS at all.
  const foreign = await call("POST", "v3/consents", token, await body(paymentData(), "ptpp", otherKey), { "x-idempotency-key": randomUUID() });
  assert.equal(foreign.status, 400);
  assert.equal(foreign.claims.errors[0].code, "BAD_SIGNATURE");
  const junk = await call("POST", "v3/consents", token, "not.a.jws", { "x-idempotency-key": randomUUID() });
  assert.equal(junk.status, 400);
  for (const claims of [{ iss: "ptpp2" }, { aud: "https://elsewhere.example" }, { iat: now() - 600 }, { iat: now() + 600 }, { jti: undefined }]) {
    const r = await call("POST", "v3/consents", token, await body(paymentData(), "ptpp", key, claims), { "x-idempotency-key": randomUUID() });
    assert.equal(r.status, 403, JSON.stringify(claims));
  }
  // JSON instead of a JWS.
  const r = await fetch(`${issuer}/open-banking/payments/v3/consents`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-idempotency-key": randomUUID() }, body: JSON.stringify({ data: paymentData() }) });
  assert.equal(r.status, 415);
  // No token, or a token without the payments scope.
  assert.equal((await call("POST", "v3/consents", undefined, await body(paymentData()), { "x-idempotency-key": randomUUID() })).status, 401);
});

test("idempotency: the same key and data answer the same consent (even re-signed); other data 422 ERRO_IDEMPOTENCIA; no key 422", async () => {
  const token = await ccToken();
  const k = randomUUID();
  const a = await create(token, paymentData("42.00"), k);
  const b = await create(token, paymentData("42.00"), k);
  assert.equal(b.claims.data.consentId, a.claims.data.consentId);
  const other = await call("POST", "v3/consents", token, await body(paymentData("43.00")), { "x-idempotency-key": k });
  assert.equal(other.status, 422);
  assert.equal(other.claims.errors[0].code, "ERRO_IDEMPOTENCIA");
  // Another TPP's key space is its own.
  const theirs = await create(await ccToken("ptpp2", otherKey), paymentData("42.00"), k, "v3", "ptpp2", otherKey);
  assert.notEqual(theirs.claims.data.consentId, a.claims.data.consentId);
  const none = await call("POST", "v3/consents", token, await body(paymentData()));
  assert.equal(none.status, 422);
  assert.equal(none.claims.errors[0].code, "PARAMETRO_NAO_INFORMADO");
  // A key with a byte outside ASCII ("ç" goes out as the single latin-1 byte 0xE7, not UTF-8): 422, not a 500.
  const accented = await call("POST", "v3/consents", token, await body(paymentData()), { "x-idempotency-key": "chave-\u00e7" });
  assert.equal(accented.status, 422);
  assert.equal(accented.claims.errors[0].code, "PARAMETRO_INVALIDO");
});

test("payment data checks: 422 with the specification's codes", async () => {
  const token = await ccToken();
  const cases = [
    [(d) => { d.payment.type = "TED"; }, "FORMA_PAGAMENTO_INVALIDA"],
    [(d) => { d.payment.date = "2001-01-01"; }, "DATA_PAGAMENTO_INVALIDA"],
    [(d) => { d.payment.amount = "1,00"; }, "PARAMETRO_INVALIDO"],
    [(d) => { delete d.creditor; }, "PARAMETRO_NAO_INFORMADO"],
    [(d) => { d.loggedUser.document.identification = "1"; }, "PARAMETRO_INVALIDO"],
  ];
  for (const [change, code] of cases) {
    const d = paymentData();
    change(d);
    const r = await call("POST", "v3/consents", token, await body(d), { "x-idempotency-key": randomUUID() });
    assert.equal(r.status, 422, code);
    assert.equal(r.claims.errors[0].code, code);
  }
});

test("the journey to CONSUMED: create, PAR, login, consent page, tokens bound, introspection, bank-side consume, refresh refused", async () => {
  const token = await ccToken();
  const id = (await create(token)).claims.data.consentId;
  const { tokens, consentPage } = await authorise(id);
  assert.ok(consentPage.includes("100.00") && consentPage.includes("Loja Exemplo"), "the consent page shows the payment");
  assert.ok(tokens.scope.split(" ").includes(`consent:${id}`));
  assert.ok(tokens.refresh_token);
  assert.equal((await call("GET", `v3/consents/${id}`, token)).claims.data.status, "AUTHORISED");
  const i = await introspect(tokens.access_token);
  assert.equal(i.status, 200);
  assert.equal(i.json.active, true);
  assert.equal(i.json.consent_id, id);
  assert.equal(i.json.consent.type, "payment");
  assert.equal(i.json.consent.status, "AUTHORISED");
  assert.equal(i.json.consent.payment.amount, "100.00");
  assert.equal(i.headers.get("deprecation"), null);
  const path = `/api/tenants/pbank/servers/ofb/open-banking-brasil/consents/${encodeURIComponent(id)}/consume`;
  const consumed = await api(t, ops.token, "POST", path);
  assert.equal(consumed.status, 200, consumed.text);
  assert.equal(consumed.json.status, "CONSUMED");
  assert.equal((await api(t, ops.token, "POST", path)).status, 409);
  assert.equal((await call("GET", `v3/consents/${id}`, token)).claims.data.status, "CONSUMED");
  const refresh = await form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, ...(await clientAssertion(key, "ptpp", `${issuer}/token`)) });
  assert.equal(refresh.status, 400);
  assert.equal(refresh.json.error, "invalid_grant");
  assert.equal((await introspect(tokens.access_token)).json.active, false);
});

test("consent introspection: v1 and v2 answer with Deprecation and a successor link; only resource-server clients may call it", async () => {
  const id = (await create(await ccToken())).claims.data.consentId;
  const { tokens } = await authorise(id);
  for (const v of ["v1", "v2"]) {
    const r = await introspect(tokens.access_token, v);
    assert.equal(r.status, 200);
    assert.equal(r.json.active, true);
    assert.equal(r.json.consent_id, id);
    assert.match(r.headers.get("deprecation"), /^@\d+$/);
    assert.match(r.headers.get("link"), /payments\/v3\/consents\/introspect>; rel="successor-version"/);
  }
  const tpp = await introspect(tokens.access_token, "v3", key, "ptpp");
  assert.equal(tpp.status, 403);
  const noAuth = await fetch(`${issuer}/open-banking-brasil/open-banking/payments/v3/consents/introspect`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${tokens.access_token}` });
  assert.equal(noAuth.status, 401);
  assert.equal((await introspect("garbage")).json.active, false);
});

test("revoking an authorised v3 payment consent at the bank records and returns rejectionReason; its tokens stop", async () => {
  const token = await ccToken();
  const id = (await create(token)).claims.data.consentId;
  const { tokens } = await authorise(id);
  const r = await api(t, ops.token, "DELETE", `/api/tenants/pbank/servers/ofb/open-banking-brasil/consents/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, "REJECTED");
  assert.deepEqual(r.json.rejectionReason, { code: "REJEITADO_USUARIO", detail: "O usuário rejeitou a autorização do consentimento" });
  const got = await call("GET", `v3/consents/${id}`, token);
  assert.equal(got.claims.data.status, "REJECTED");
  assert.deepEqual(got.claims.data.rejectionReason, r.json.rejectionReason);
  assert.equal((await introspect(tokens.access_token)).json.active, false);
  assert.equal((await api(t, ops.token, "DELETE", `/api/tenants/pbank/servers/ofb/open-banking-brasil/consents/${encodeURIComponent(id)}`)).status, 409);
});

test("an unauthorised payment consent is REJECTED (TEMPO_EXPIRADO_AUTORIZACAO) after 5 minutes", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const id = (await create(await ccToken())).claims.data.consentId;
  await t.advanceClock(301);
  skew += 301;
  const token = await ccToken();
  const r = await fetch(`${issuer}/open-banking/payments/v3/consents/${id}`, { headers: { authorization: `Bearer ${token}` } });
  const { payload } = await jose.jwtVerify(await r.text(), jwks, { issuer });
  assert.equal(payload.data.status, "REJECTED");
  assert.equal(payload.data.rejectionReason.code, "TEMPO_EXPIRADO_AUTORIZACAO");
});

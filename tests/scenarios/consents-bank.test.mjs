// The bank-side Open Finance Brasil consent management under
// /api/tenants/{t}/servers/{w}/open-banking-brasil/consents: list and filter (POST), revoke by
// filter (DELETE), read, revoke one, consume; data and payment consents; the bank's own reasons
// (rejection by ASPSP: CONSENT_TECHNICAL_ISSUE, INTERNAL_SECURITY_REASON, and the payment codes they
// map to); the management token's scope, tenant administrators, and isolation between tenants and
// workspaces.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startTarget, form } from "../support/target.mjs";
import { keyPair, signJwt, clientAssertion, codeRequest, requestObject, push, browse, redirected, authorizeUrl } from "../support/fapi.mjs";
import { systemClient, api, assertProblem } from "../support/management.mjs";

const CPF = "12345678901";
const ACCOUNTS = ["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"];
const REDIRECT = "https://tpp.example/cb";
const USER = { username: "maria", password: "senha muito segura", claims: { cpf: CPF } };
let t, issuer, otherIssuer, key, ops;
const base = (t_ = "bbank", w = "ofb") => `/api/tenants/${t_}/servers/${w}/open-banking-brasil/consents`;

before(async () => {
  t = await startTarget();
  const cfg = { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 };
  issuer = await t.workspace("bbank", "ofb", cfg);
  otherIssuer = await t.workspace("cbank", "ofb", cfg);
  key = await keyPair("PS256", "b-1");
  const client = { redirect_uris: [REDIRECT], grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.jwk] } };
  await t.client("bbank", "ofb", { ...client, client_id: "dtpp", scope: "consents" });
  await t.client("bbank", "ofb", { ...client, client_id: "dtpp2", scope: "consents" });
  await t.client("bbank", "ofb", { ...client, client_id: "dtpp3", scope: "consents" });
  // A TPP whose customer authorises its consent (authorization_code, refresh).
  await t.client("bbank", "ofb", { ...client, client_id: "atpp", scope: "openid consents", grant_types: ["authorization_code", "refresh_token", "client_credentials"] });
  await t.user("bbank", "ofb", USER);
  await t.client("bbank", "ofb", { ...client, client_id: "ptpp", scope: "payments" });
  await t.client("cbank", "ofb", { ...client, client_id: "dtpp", scope: "consents" });
  ops = await systemClient(t, { client_id: "bank-backend" });
});
after(() => t.stop());

async function ccToken(iss, client, scope) {
  const r = await form(`${iss}/token`, { grant_type: "client_credentials", scope, ...(await clientAssertion(key, client, `${iss}/token`)) });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

async function dataConsent(iss = issuer, client = "dtpp") {
  const r = await fetch(`${iss}/open-banking/consents/v3/consents`, {
    method: "POST",
    headers: { authorization: `Bearer ${await ccToken(iss, client, "consents")}`, "content-type": "application/json" },
    body: JSON.stringify({ data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, permissions: ACCOUNTS } }),
  });
  assert.equal(r.status, 201);
  return (await r.json()).data.consentId;
}

async function paymentConsent() {
  const now = Math.floor(Date.now() / 1000);
  const data = {
    loggedUser: { document: { identification: CPF, rel: "CPF" } },
    creditor: { personType: "PESSOA_NATURAL", cpfCnpj: "98765432100", name: "Joana" },
    payment: { type: "PIX", date: new Date(Date.now() - 3 * 3600e3).toISOString().slice(0, 10), currency: "BRL", amount: "7.50", details: { localInstrument: "MANU", creditorAccount: { ispb: "12345678", number: "42", accountType: "CACC" } } },
  };
  const r = await fetch(`${issuer}/open-banking/payments/v3/consents`, {
    method: "POST",
    headers: { authorization: `Bearer ${await ccToken(issuer, "ptpp", "payments")}`, "content-type": "application/jwt", "x-idempotency-key": randomUUID() },
    body: await signJwt(key, { iss: "ptpp", aud: issuer, iat: now, jti: randomUUID(), data }),
  });
  assert.equal(r.status, 201);
  return JSON.parse(Buffer.from((await r.text()).split(".")[1], "base64url")).data.consentId;
}

const enc = encodeURIComponent;

/** The customer authorises data consent `id` of `client` (PAR, login, consent page, code); returns the tokens. */
async function authorise(id, client = "atpp") {
  const { params, verifier } = codeRequest(client, REDIRECT, `openid consent:${id}`);
  const request = await requestObject(key, client, issuer, params);
  const par = await push(issuer, { client_id: client, request, ...(await clientAssertion(key, client, `${issuer}/par`)) });
  assert.equal(par.status, 201, par.text);
  const { r } = await browse(issuer, authorizeUrl(issuer, { client_id: client, request_uri: par.json.request_uri }), USER);
  const code = redirected(r).get("code");
  assert.ok(code, r.headers.get("location"));
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...(await clientAssertion(key, client, `${issuer}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  return tok.json;
}

/** What the TPP sees of its data consent (consents API v3). */
async function tppData(id, client = "dtpp") {
  const r = await fetch(`${issuer}/open-banking/consents/v3/consents/${id}`, { headers: { authorization: `Bearer ${await ccToken(issuer, client, "consents")}` } });
  assert.equal(r.status, 200);
  return (await r.json()).data;
}

/** What the TPP sees of its payment consent (payments API v3; the signed answer's payload). */
async function tppPayment(id) {
  const r = await fetch(`${issuer}/open-banking/payments/v3/consents/${id}`, { headers: { authorization: `Bearer ${await ccToken(issuer, "ptpp", "payments")}` } });
  assert.equal(r.status, 200);
  return JSON.parse(Buffer.from((await r.text()).split(".")[1], "base64url")).data;
}

const aspsp = (code, additionalInformation) => ({ rejectedBy: "ASPSP", reason: { code, ...(additionalInformation === undefined ? {} : { additionalInformation }) } });

test("list and filter by type, client and status, with pages; read one; unknown ids 404", async () => {
  const d1 = await dataConsent();
  const d2 = await dataConsent(issuer, "dtpp2");
  const p1 = await paymentConsent();
  const all = await api(t, ops.token, "POST", base(), {});
  assert.equal(all.status, 200, all.text);
  const ids = all.json.items.map((c) => c.id);
  for (const id of [d1, d2, p1]) assert.ok(ids.includes(id));
  const payments = await api(t, ops.token, "POST", base(), { types: ["payment"] });
  assert.ok(payments.json.items.every((c) => c.type === "payment"));
  assert.ok(payments.json.items.some((c) => c.id === p1));
  const mine = await api(t, ops.token, "POST", base(), { client_id: "dtpp2", statuses: ["AWAITING_AUTHORISATION"] });
  assert.deepEqual(mine.json.items.map((c) => c.id), [d2]);
  assert.equal(mine.json.items[0].data.permissions.length, 3);
  const page1 = await api(t, ops.token, "POST", `${base()}?limit=1`, {});
  assert.equal(page1.json.items.length, 1);
  assert.ok(page1.json.next);
  const page2 = await api(t, ops.token, "POST", `${base()}?limit=1&after=${enc(page1.json.next)}`, {});
  assert.notEqual(page2.json.items[0].id, page1.json.items[0].id);
  const one = await api(t, ops.token, "GET", `${base()}/${enc(p1)}`);
  assert.equal(one.status, 200);
  assert.equal(one.json.type, "payment");
  assert.equal(one.json.client_id, "ptpp");
  assert.equal(one.json.data.payment.amount, "7.50");
  assertProblem(assert, await api(t, ops.token, "GET", `${base()}/${enc("urn:edgeauth:nope")}`), 404, "not-found");
  assertProblem(assert, await api(t, ops.token, "POST", base(), { statuses: ["SLEEPING"] }), 400, "invalid-request");
  assertProblem(assert, await api(t, ops.token, "POST", base(), { colour: "red" }), 400, "invalid-request");
  assertProblem(assert, await api(t, ops.token, "POST", base("bbank", "nope"), {}), 404, "not-found");
  // A data consent is not consumed.
  assertProblem(assert, await api(t, ops.token, "POST", `${base()}/${enc(d1)}/consume`), 409, "conflict");
});

test("revoke by filter: every live consent of a client becomes REJECTED by USER; a filter without client_id or user_id is refused", async () => {
  const a = await dataConsent(issuer, "dtpp2");
  const b = await dataConsent(issuer, "dtpp2");
  const keep = await dataConsent(issuer, "dtpp");
  assertProblem(assert, await api(t, ops.token, "DELETE", base(), { types: ["data"] }), 400, "invalid-request");
  const r = await api(t, ops.token, "DELETE", base(), { client_id: "dtpp2" });
  assert.equal(r.status, 200, r.text);
  for (const id of [a, b]) assert.ok(r.json.revoked.includes(id));
  assert.ok(!r.json.revoked.includes(keep));
  assert.equal(r.json.more, false);
  const seen = await fetch(`${issuer}/open-banking/consents/v3/consents/${a}`, { headers: { authorization: `Bearer ${await ccToken(issuer, "dtpp2", "consents")}` } });
  const d = (await seen.json()).data;
  assert.equal(d.status, "REJECTED");
  assert.deepEqual(d.rejection, { rejectedBy: "USER", reason: { code: "CUSTOMER_MANUALLY_REJECTED" } });
  assert.equal((await api(t, ops.token, "GET", `${base()}/${enc(keep)}`)).json.status, "AWAITING_AUTHORISATION");
  // Nothing left to revoke the second time; one by one, a final consent answers 409.
  assert.deepEqual((await api(t, ops.token, "DELETE", base(), { client_id: "dtpp2" })).json.revoked, []);
  assertProblem(assert, await api(t, ops.token, "DELETE", `${base()}/${enc(a)}`), 409, "conflict");
  const one = await api(t, ops.token, "DELETE", `${base()}/${enc(keep)}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json.rejection, { rejectedBy: "USER", reason: { code: "CUSTOMER_MANUALLY_REJECTED" } });
});

test("access: the scope is required; a tenant administrator reaches its own tenant only; consents of another tenant stay invisible", async () => {
  const id = await dataConsent();
  const theirs = await dataConsent(otherIssuer, "dtpp");
  const narrow = await systemClient(t, { client_id: "narrow" }, "manage_clients");
  const r403 = await api(t, narrow.token, "POST", base(), {});
  assertProblem(assert, r403, 403, "forbidden");
  assert.equal(r403.json.required_scope, "manage_openbanking_consents");
  assertProblem(assert, await api(t, null, "GET", `${base()}/${enc(id)}`), 401, "unauthorized");
  const cAdmin = await systemClient(t, { client_id: "cbank-admin", managed_tenant: "cbank" });
  assertProblem(assert, await api(t, cAdmin.token, "GET", `${base()}/${enc(id)}`), 403, "forbidden");
  assertProblem(assert, await api(t, cAdmin.token, "DELETE", base(), { client_id: "dtpp" }), 403, "forbidden");
  assertProblem(assert, await api(t, cAdmin.token, "POST", `${base()}/${enc(id)}/consume`), 403, "forbidden");
  const own = await api(t, cAdmin.token, "POST", base("cbank"), {});
  assert.deepEqual(own.json.items.map((c) => c.id), [theirs]);
  // A consent id of one tenant under another tenant's path does not exist there.
  assertProblem(assert, await api(t, ops.token, "GET", `${base("cbank")}/${enc(id)}`), 404, "not-found");
  assertProblem(assert, await api(t, ops.token, "DELETE", `${base("cbank")}/${enc(id)}`), 404, "not-found");
  assert.equal((await api(t, ops.token, "GET", `${base()}/${enc(id)}`)).json.status, "AWAITING_AUTHORISATION");
  assertProblem(assert, await api(t, ops.token, "PUT", base(), {}), 405, "method-not-allowed");
});

test("the bank revokes an authorised data consent for INTERNAL_SECURITY_REASON: REJECTED by ASPSP for the TPP too; its tokens stop", async () => {
  const id = await dataConsent(issuer, "atpp");
  const tokens = await authorise(id);
  const intro = async (token) => (await form(`${issuer}/introspect`, { token, ...(await clientAssertion(key, "atpp", `${issuer}/introspect`)) })).json;
  const refresh = async () => form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, ...(await clientAssertion(key, "atpp", `${issuer}/token`)) });
  assert.equal((await intro(tokens.access_token)).active, true);
  assert.equal((await refresh()).status, 200);
  const rejection = aspsp("INTERNAL_SECURITY_REASON", "Suspeita de fraude na conta");
  const r = await api(t, ops.token, "DELETE", `${base()}/${enc(id)}`, { rejection });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, "REJECTED");
  assert.deepEqual(r.json.rejection, rejection);
  const seen = await tppData(id, "atpp");
  assert.equal(seen.status, "REJECTED");
  assert.deepEqual(seen.rejection, rejection);
  assert.deepEqual((await api(t, ops.token, "GET", `${base()}/${enc(id)}`)).json.rejection, rejection);
  assert.equal((await intro(tokens.access_token)).active, false);
  const refused = await refresh();
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error, "invalid_grant");
  // Final now: a second revocation, with a reason or without, answers 409 and changes nothing.
  assertProblem(assert, await api(t, ops.token, "DELETE", `${base()}/${enc(id)}`, { rejection: aspsp("CONSENT_TECHNICAL_ISSUE") }), 409, "conflict");
  assert.deepEqual((await tppData(id, "atpp")).rejection, rejection);
});

test("CONSENT_TECHNICAL_ISSUE on awaiting data consents, one by one and by filter", async () => {
  const one = await dataConsent(issuer, "dtpp3");
  const r = await api(t, ops.token, "DELETE", `${base()}/${enc(one)}`, { rejection: aspsp("CONSENT_TECHNICAL_ISSUE") });
  assert.equal(r.status, 200, r.text);
  const seen = await tppData(one, "dtpp3");
  assert.equal(seen.status, "REJECTED");
  assert.deepEqual(seen.rejection, { rejectedBy: "ASPSP", reason: { code: "CONSENT_TECHNICAL_ISSUE" } });
  const a = await dataConsent(issuer, "dtpp3");
  const b = await dataConsent(issuer, "dtpp3");
  const rejection = aspsp("CONSENT_TECHNICAL_ISSUE", "Falha na troca do código pelo token");
  const all = await api(t, ops.token, "DELETE", base(), { client_id: "dtpp3", types: ["data"], rejection });
  assert.equal(all.status, 200, all.text);
  assert.deepEqual([...all.json.revoked].sort(), [a, b].sort());
  for (const id of [a, b]) {
    const d = await tppData(id, "dtpp3");
    assert.equal(d.status, "REJECTED");
    assert.deepEqual(d.rejection, rejection);
  }
  // The one revoked first keeps its own reason.
  assert.deepEqual((await tppData(one, "dtpp3")).rejection, { rejectedBy: "ASPSP", reason: { code: "CONSENT_TECHNICAL_ISSUE" } });
});

test("payment consents revoked for the bank's reasons get the payments API's codes: NAO_INFORMADO, FALHA_INFRAESTRUTURA", async () => {
  const p = await paymentConsent();
  const r = await api(t, ops.token, "DELETE", `${base()}/${enc(p)}`, { rejection: aspsp("INTERNAL_SECURITY_REASON", "Suspeita de fraude") });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.rejectionReason, { code: "NAO_INFORMADO", detail: "Suspeita de fraude" });
  const seen = await tppPayment(p);
  assert.equal(seen.status, "REJECTED");
  assert.deepEqual(seen.rejectionReason, { code: "NAO_INFORMADO", detail: "Suspeita de fraude" });
  const q = await paymentConsent();
  const all = await api(t, ops.token, "DELETE", base(), { client_id: "ptpp", types: ["payment"], rejection: aspsp("CONSENT_TECHNICAL_ISSUE") });
  assert.equal(all.status, 200, all.text);
  assert.ok(all.json.revoked.includes(q));
  assert.ok(!all.json.revoked.includes(p));
  const got = await tppPayment(q);
  assert.equal(got.status, "REJECTED");
  assert.equal(got.rejectionReason.code, "FALHA_INFRAESTRUTURA");
  assert.ok(got.rejectionReason.detail.length > 0);
  assert.notEqual(got.rejectionReason.detail, "O usuário rejeitou a autorização do consentimento");
  assert.deepEqual((await tppPayment(p)).rejectionReason, { code: "NAO_INFORMADO", detail: "Suspeita de fraude" });
});

test("an unknown reason, rejectedBy or member answers 400 naming the field; the consents stay as they were", async () => {
  const id = await dataConsent();
  const p = await paymentConsent();
  const bad = [
    [{ rejection: { rejectedBy: "USER", reason: { code: "INTERNAL_SECURITY_REASON" } } }, "rejection.rejectedBy"],
    [{ rejection: { rejectedBy: "TPP", reason: { code: "CONSENT_TECHNICAL_ISSUE" } } }, "rejection.rejectedBy"],
    [{ rejection: { reason: { code: "CONSENT_TECHNICAL_ISSUE" } } }, "rejection.rejectedBy"],
    [{ rejection: aspsp("FRAUD") }, "rejection.reason.code"],
    [{ rejection: aspsp("CONSENT_EXPIRED") }, "rejection.reason.code"],
    [{ rejection: aspsp("CUSTOMER_MANUALLY_REVOKED") }, "rejection.reason.code"],
    [{ rejection: { rejectedBy: "ASPSP", reason: "INTERNAL_SECURITY_REASON" } }, "rejection.reason"],
    [{ rejection: "INTERNAL_SECURITY_REASON" }, "rejection"],
    [{ rejection: aspsp("INTERNAL_SECURITY_REASON", " padded ") }, "rejection.reason.additionalInformation"],
    [{ rejection: aspsp("INTERNAL_SECURITY_REASON", "x".repeat(141)) }, "rejection.reason.additionalInformation"],
    [{ rejection: { ...aspsp("CONSENT_TECHNICAL_ISSUE"), when: "now" } }, "rejection.when"],
    [{ reason: "INTERNAL_SECURITY_REASON" }, "reason"],
  ];
  for (const consent of [id, p]) {
    for (const [body, field] of bad) {
      const r = await api(t, ops.token, "DELETE", `${base()}/${enc(consent)}`, body);
      assertProblem(assert, r, 400, "invalid-request");
      assert.equal(r.json.field, field, r.text);
    }
  }
  for (const [body, field] of bad.filter(([b]) => "rejection" in b)) {
    const r = await api(t, ops.token, "DELETE", base(), { client_id: "dtpp", ...body });
    assertProblem(assert, r, 400, "invalid-request");
    assert.equal(r.json.field, field, r.text);
  }
  // The list call takes no rejection.
  assertProblem(assert, await api(t, ops.token, "POST", base(), { rejection: aspsp("CONSENT_TECHNICAL_ISSUE") }), 400, "invalid-request");
  // Read back: both still wait, with no rejection, for the bank and for their TPPs.
  for (const c of [id, p]) {
    const mine = await api(t, ops.token, "GET", `${base()}/${enc(c)}`);
    assert.equal(mine.json.status, "AWAITING_AUTHORISATION");
    assert.equal(mine.json.rejection, undefined);
    assert.equal(mine.json.rejectionReason, undefined);
  }
  const d = await tppData(id);
  assert.equal(d.status, "AWAITING_AUTHORISATION");
  assert.equal(d.rejection, undefined);
  const pd = await tppPayment(p);
  assert.equal(pd.status, "AWAITING_AUTHORISATION");
  assert.equal(pd.rejectionReason, undefined);
  // Without a body, a revocation is still the customer's decision.
  const plain = await api(t, ops.token, "DELETE", `${base()}/${enc(id)}`);
  assert.equal(plain.status, 200, plain.text);
  assert.deepEqual(plain.json.rejection, { rejectedBy: "USER", reason: { code: "CUSTOMER_MANUALLY_REJECTED" } });
  const empty = await api(t, ops.token, "DELETE", `${base()}/${enc(p)}`, {});
  assert.equal(empty.status, 200, empty.text);
  assert.equal(empty.json.rejectionReason.code, "REJEITADO_USUARIO");
});

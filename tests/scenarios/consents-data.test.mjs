// Open Finance Brasil data consents on a fapi_br workspace: the consents API
// (/open-banking/consents/v3/consents), permission groups, the consent-bound scope
// consent:{consentId} through PAR + request object + login + consent page, tokens bound to the
// consent (introspection, refresh only while AUTHORISED), revocation by DELETE, the user's refusal,
// the CPF check, and the 60-minute expiry (controllable clock).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, form, Agent } from "../support/target.mjs";
import { keyPair, clientAssertion, requestObject, codeRequest, push, browse, redirected, authorizeUrl, UUID } from "../support/fapi.mjs";

const REDIRECT = "https://tpp.example/cb";
const CPF = "12345678901";
const USER = { username: "maria", password: "senha muito segura", claims: { name: "Maria", cpf: CPF } };
const OTHER = { username: "jose", password: "outra senha segura", claims: { cpf: "99999999999" } };
const ACCOUNTS = ["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"];
let t, issuer, key, otherKey, api;
// Seconds the server's clock was advanced: assertions and request objects are dated on its clock.
let skew = 0;
const dated = () => { const now = Math.floor(Date.now() / 1000) + skew; return { iat: now, nbf: now, exp: now + 120 }; };
const datedAssertion = () => { const { iat, exp } = dated(); return { iat, exp }; };

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("bank", "ofb", { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 });
  api = `${issuer}/open-banking/consents/v3/consents`;
  await t.user("bank", "ofb", USER);
  await t.user("bank", "ofb", OTHER);
  key = await keyPair("PS256", "tpp-1");
  otherKey = await keyPair("PS256", "tpp-2");
  const base = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token", "client_credentials"], token_endpoint_auth_method: "private_key_jwt" };
  await t.client("bank", "ofb", { ...base, client_id: "tpp", scope: "openid consents", jwks: { keys: [key.jwk] } });
  await t.client("bank", "ofb", { ...base, client_id: "tpp2", scope: "openid consents", jwks: { keys: [otherKey.jwk] } });
  await t.client("bank", "ofb", { ...base, client_id: "nocons", scope: "openid", jwks: { keys: [otherKey.jwk] } });
});
after(() => t.stop());

async function ccToken(client = "tpp", k = key, scope = "consents") {
  const r = await form(`${issuer}/token`, { grant_type: "client_credentials", scope, ...(await clientAssertion(k, client, `${issuer}/token`, datedAssertion())) });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

async function call(method, url, token, body) {
  const headers = { "x-fapi-interaction-id": crypto.randomUUID() };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  assert.equal(r.headers.get("x-fapi-interaction-id"), headers["x-fapi-interaction-id"]);
  return { status: r.status, json, text };
}

const consentBody = (permissions = ACCOUNTS, extra = {}) => ({ data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, permissions, ...extra } });

async function createConsent(permissions = ACCOUNTS, client = "tpp", k = key) {
  const r = await call("POST", api, await ccToken(client, k), consentBody(permissions));
  assert.equal(r.status, 201, r.text);
  return r.json.data.consentId;
}

/** PAR (signed request object, private_key_jwt) for the consent scope; returns { r, verifier }. */
async function pushConsent(consentId, client = "tpp", k = key) {
  const { params, verifier } = codeRequest(client, REDIRECT, `openid consent:${consentId}`);
  const request = await requestObject(k, client, issuer, params, dated());
  const r = await push(issuer, { client_id: client, request, ...(await clientAssertion(k, client, `${issuer}/par`, datedAssertion())) });
  return { r, verifier };
}

async function authorise(consentId, user = USER, decision = "allow") {
  const { r, verifier } = await pushConsent(consentId);
  assert.equal(r.status, 201, r.text);
  const res = await browse(issuer, authorizeUrl(issuer, { client_id: "tpp", request_uri: r.json.request_uri }), { ...user, decision });
  return { ...res, verifier };
}

test("POST /consents: 201 AWAITING_AUTHORISATION with data, links and meta; GET shows it to its TPP only", async () => {
  const token = await ccToken();
  const exp = new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z");
  const r = await call("POST", api, token, consentBody(ACCOUNTS, { expirationDateTime: exp }));
  assert.equal(r.status, 201, r.text);
  const d = r.json.data;
  assert.match(d.consentId, /^urn:edgeauth:/);
  assert.equal(d.status, "AWAITING_AUTHORISATION");
  assert.deepEqual(d.permissions, ACCOUNTS);
  assert.equal(d.expirationDateTime, exp);
  assert.ok(d.creationDateTime && d.statusUpdateDateTime);
  assert.equal(r.json.links.self, `${api}/${d.consentId}`);
  assert.equal(r.json.meta.totalRecords, 1);
  const got = await call("GET", `${api}/${d.consentId}`, token);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.data, d);
  const other = await call("GET", `${api}/${d.consentId}`, await ccToken("tpp2", otherKey));
  assert.equal(other.status, 404);
  assert.equal((await call("GET", `${api}/urn:edgeauth:nope`, token)).status, 404);
});

test("POST /consents refusals: no token, no consents scope, bad permissions, bad dates, bad CPF; nothing created", async () => {
  assert.equal((await call("POST", api, undefined, consentBody())).status, 401);
  const noScope = await ccToken("nocons", otherKey, "");
  const r403 = await call("POST", api, noScope, consentBody());
  assert.equal(r403.status, 403, r403.text);
  const token = await ccToken();
  for (const [body, status, code] of [
    [consentBody(["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ"]), 422, "COMBINACAO_PERMISSOES_INCORRETA"],
    [consentBody(["ACCOUNTS_READ", "NOT_A_PERMISSION", "RESOURCES_READ"]), 400, "PARAMETRO_INVALIDO"],
    [consentBody([]), 400, "PARAMETRO_INVALIDO"],
    [consentBody(ACCOUNTS, { expirationDateTime: "2001-01-01T00:00:00Z" }), 422, "DATA_EXPIRACAO_INVALIDA"],
    [consentBody(ACCOUNTS, { expirationDateTime: "tomorrow" }), 400, "PARAMETRO_INVALIDO"],
    [{ data: { loggedUser: { document: { identification: "123", rel: "CPF" } }, permissions: ACCOUNTS } }, 400, "PARAMETRO_INVALIDO"],
    [{ nodata: true }, 400, "PARAMETRO_NAO_INFORMADO"],
  ]) {
    const r = await call("POST", api, token, body);
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.errors[0].code, code, r.text);
    assert.ok(r.json.meta.requestDateTime);
  }
  // A user-bound token (authorization_code) is not a TPP's client_credentials token.
  assert.equal((await call("POST", `${issuer}/open-banking/consents/v3/consents`, "garbage", consentBody())).status, 401);
});

test("the journey: create, PAR with consent scope, login, consent page with permissions, AUTHORISED, tokens bound, introspect, refresh, DELETE revokes, refresh refused", async () => {
  const id = await createConsent();
  const { r, consentPage, verifier } = await authorise(id);
  for (const p of ACCOUNTS) assert.ok(consentPage.includes(p), `consent page shows ${p}`);
  const code = redirected(r).get("code");
  assert.ok(code);
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...(await clientAssertion(key, "tpp", `${issuer}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  assert.ok(tok.json.scope.split(" ").includes(`consent:${id}`));
  const token = await ccToken();
  const got = await call("GET", `${api}/${id}`, token);
  assert.equal(got.json.data.status, "AUTHORISED");
  const intro = async (tk) => (await form(`${issuer}/introspect`, { token: tk, ...(await clientAssertion(key, "tpp", `${issuer}/introspect`)) })).json;
  const i1 = await intro(tok.json.access_token);
  assert.equal(i1.active, true);
  assert.equal(i1.consent_id, id);
  const refresh = async () => form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: tok.json.refresh_token, ...(await clientAssertion(key, "tpp", `${issuer}/token`)) });
  assert.equal((await refresh()).status, 200);
  const del = await call("DELETE", `${api}/${id}`, token);
  assert.equal(del.status, 204, del.text);
  const after = await call("GET", `${api}/${id}`, token);
  assert.equal(after.json.data.status, "REJECTED");
  assert.deepEqual(after.json.data.rejection, { rejectedBy: "USER", reason: { code: "CUSTOMER_MANUALLY_REVOKED" } });
  const refused = await refresh();
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error, "invalid_grant");
  assert.equal((await intro(tok.json.access_token)).active, false);
  assert.equal((await intro(tok.json.refresh_token)).active, false);
  const again = await call("DELETE", `${api}/${id}`, token);
  assert.equal(again.status, 422);
  assert.equal(again.json.errors[0].code, "CONSENTIMENTO_EM_STATUS_REJEITADO");
  // A rejected consent cannot be authorised again.
  const { r: par } = await pushConsent(id);
  assert.equal(par.status, 400, par.text);
});

test("the user rejects on the consent page: REJECTED by USER (CUSTOMER_MANUALLY_REJECTED), access_denied to the client", async () => {
  const id = await createConsent();
  const { r } = await authorise(id, USER, "deny");
  assert.equal(redirected(r).get("error"), "access_denied");
  const got = await call("GET", `${api}/${id}`, await ccToken());
  assert.equal(got.json.data.status, "REJECTED");
  assert.deepEqual(got.json.data.rejection, { rejectedBy: "USER", reason: { code: "CUSTOMER_MANUALLY_REJECTED" } });
});

test("a signed-in user whose CPF differs from the consent's loggedUser gets access_denied; the consent still awaits", async () => {
  const id = await createConsent();
  const { r } = await authorise(id, OTHER);
  assert.equal(redirected(r).get("error"), "access_denied");
  assert.equal((await call("GET", `${api}/${id}`, await ccToken())).json.data.status, "AWAITING_AUTHORISATION");
});

test("refused: a consent scope naming an unknown consent, another TPP's consent, or from a client without consents", async () => {
  assert.equal((await pushConsent("urn:edgeauth:unknown")).r.status, 400);
  const theirs = await createConsent(ACCOUNTS, "tpp2", otherKey);
  const mine = await pushConsent(theirs);
  assert.equal(mine.r.status, 400, mine.r.text);
  const nocons = await pushConsent(theirs, "nocons", otherKey);
  assert.equal(nocons.r.status, 400);
  assert.equal(nocons.r.json.error, "invalid_scope");
});

test("an unauthorised consent is REJECTED (ASPSP, CONSENT_EXPIRED) after 60 minutes", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const id = await createConsent();
  const { r: early } = await pushConsent(id);
  assert.equal(early.status, 201);
  await t.advanceClock(3601);
  skew += 3601;
  const got = await call("GET", `${api}/${id}`, await ccToken());
  assert.equal(got.json.data.status, "REJECTED");
  assert.deepEqual(got.json.data.rejection, { rejectedBy: "ASPSP", reason: { code: "CONSENT_EXPIRED" } });
  const { r } = await pushConsent(id);
  assert.equal(r.status, 400, r.text);
});

test("the consents API exists only under the fapi_br profile", async () => {
  const plain = await t.workspace("bank", "plain2");
  assert.equal((await fetch(`${plain}/open-banking/consents/v3/consents`, { method: "POST" })).status, 404);
});

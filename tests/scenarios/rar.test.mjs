// Rich Authorization Requests (RFC 9396): authorization details types through the management API
// (schema and policy checked when saved), the tenant flag and the workspace switch, discovery,
// clients subscribing to types (with the developer policy), `authorization_details` at the
// authorization endpoint, PAR and client_credentials (schema, unknown and unsubscribed types,
// machine and user policies), the consent page's summary, the details in access tokens,
// introspection and refreshes (narrowed, never widened), and oversized details.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startManaged, api, assertProblem } from "../support/management.mjs";
import { Agent, basic, form, hidden, pkce } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { keyPair, clientAssertion, requestObject, codeRequest, push, browse, redirected, authorizeUrl as fapiAuthorizeUrl } from "../support/fapi.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
const PAYMENT = "https://bank.example/payment_initiation";
const W = (w) => `/api/tenants/acme/workspaces/${w}`;
const T = (w, name = "") => `${W(w)}/authorization-details-types${name ? `/${encodeURIComponent(name)}` : ""}`;

const paymentType = (over = {}) => ({
  type: PAYMENT,
  service: "https://bank.example/payments",
  description: "Payment initiation",
  schema: {
    type: "object",
    required: ["type", "instructedAmount", "creditorName"],
    properties: {
      type: { const: PAYMENT },
      creditorName: { title: "Pay to", type: "string", maxLength: 70 },
      instructedAmount: {
        title: "Amount",
        type: "object",
        required: ["currency", "amount"],
        properties: { currency: { title: "Currency", type: "string", pattern: "^[A-Z]{3}$" }, amount: { title: "Value", type: "string", pattern: "^[0-9]+\\.[0-9]{2}$" } },
      },
    },
  },
  policies: {
    // Machines pay up to 1000; users up to 5000, and not at all as 'mallory' (an attribute).
    machine: { rules: [{ when: { path: "detail.instructedAmount.amount", op: "<=", value: 1000 }, effect: "allow" }], otherwise: { effect: "deny", reason: "machine payments are limited to 1000" } },
    user: {
      rules: [
        { when: { path: "context.nickname", op: "==", value: "mallory" }, effect: "deny", reason: "this user may not initiate payments", error: "access_denied" },
        { when: { path: "detail.instructedAmount.amount", op: ">", value: 5000 }, effect: "deny", reason: "the amount is above the limit", error: "invalid_authorization_details" },
      ],
      otherwise: { effect: "allow" },
    },
    developer: { rules: [{ when: { path: "client.client_name", op: "==", value: "Untrusted" }, effect: "deny", reason: "not for untrusted apps" }], otherwise: { effect: "allow" } },
  },
  ...over,
});
const accountsType = { type: "account_information", service: "accounts", description: "Account information", schema: { type: "object", properties: { type: { const: "account_information" }, accounts: { type: "array", items: { type: "string" } } } } };

const pay = (amount = "123.50", over = {}) => ({ type: PAYMENT, instructedAmount: { currency: "EUR", amount }, creditorName: "Merchant A", ...over });

let t, call, sys, issuer;
const secrets = {};
const auth = (id) => ({ authorization: basic(id, secrets[id]) });

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme", "flagless"], workspaces: { acme: ["main", "types", "off"], flagless: ["main"] } }));
  await call("PUT", "/api/tenants/acme/features", { rich_authorization_requests: true });
  await call("PUT", `${W("off")}/config`, { rich_authorization_requests: false });
  await call("POST", T("main"), paymentType());
  await call("POST", T("main"), accountsType);
  issuer = `${t.base}/acme/main`;
  const clients = [
    { client_id: "web", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile offline_access", authorization_details_types: [PAYMENT] },
    { client_id: "svc", grant_types: ["client_credentials"], scope: "api", authorization_details_types: [PAYMENT] },
    { client_id: "plain-svc", grant_types: ["client_credentials"], scope: "api" },
  ];
  for (const c of clients) secrets[c.client_id] = (await call("POST", `${W("main")}/clients`, c)).client_secret;
  await t.user("acme", "main", { ...USER, claims: { name: "Ada" } });
  await t.user("acme", "main", { username: "mallory", password: "correct horse battery", claims: { nickname: "mallory" } });
});
after(() => t.stop());

const cc = (fields, id = "svc") => form(`${issuer}/token`, { grant_type: "client_credentials", ...fields }, auth(id));
const details = (d) => JSON.stringify(d);

/** The error of an authorization response (a 303 to the redirect URI). */
function redirectError(r, code) {
  assert.equal(r.status, 303, r.text_);
  const u = new URL(r.headers.get("location"));
  assert.equal(u.origin + u.pathname, REDIRECT);
  assert.equal(u.searchParams.get("error"), code, u.toString());
  assert.equal(u.searchParams.get("code"), null);
  return u.searchParams.get("error_description") ?? "";
}

function authorizeUrl(params, client_id = "web") {
  const { challenge } = pkce();
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", state: "s1", ...params })) u.searchParams.set(k, v);
  return u.toString();
}

/** authorize -> login -> the consent page (returned), for `user`. */
async function toConsent(params, user = USER, agent = new Agent()) {
  const { verifier, challenge } = pkce();
  const u = new URL(authorizeUrl({ ...params, code_challenge: challenge }));
  let r = await agent.request(u.toString());
  if (r.status === 200 && r.text_.includes('name="password"')) {
    r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), ...user } });
  }
  return { r, verifier, agent };
}

async function allow(agent, page) {
  const r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), decision: "allow" } });
  assert.equal(r.status, 303, r.text_);
  return new URL(r.headers.get("location")).searchParams.get("code");
}

const redeem = (code, verifier, extra = {}) => form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...extra }, auth("web"));

// ---------------------------------------------------------------------------------------------
// Section 1: types, the flag and the switch, discovery, subscriptions

test("types: create, read, list, replace and delete; a type name that is a URI is one path segment", async () => {
  const r = await api(t, sys.token, "POST", T("types"), paymentType());
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get("location"), T("types", PAYMENT));
  assert.equal(r.json.type, PAYMENT);
  assert.deepEqual(await call("GET", T("types", PAYMENT)), r.json);
  await call("POST", T("types"), accountsType);
  assert.deepEqual((await call("GET", T("types"))).items.map((x) => x.type), [PAYMENT, "account_information"]);
  const put = await api(t, sys.token, "PUT", T("types", "account_information"), { ...accountsType, type: undefined, description: "Accounts" });
  assert.equal(put.status, 200, put.text);
  assert.equal((await call("GET", T("types", "account_information"))).description, "Accounts");
  assertProblem(assert, await api(t, sys.token, "POST", T("types"), accountsType), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "PUT", T("types", "account_information"), { ...accountsType, type: "renamed" }), 400, "invalid-configuration");
  assertProblem(assert, await api(t, sys.token, "PUT", T("types", "nope"), { ...accountsType, type: undefined }), 404, "not-found");
  assert.equal((await api(t, sys.token, "DELETE", T("types", "account_information"))).status, 204);
  assertProblem(assert, await api(t, sys.token, "GET", T("types", "account_information")), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "DELETE", T("types", "account_information")), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/nowhere/authorization-details-types"), 404, "not-found");
});

test("a schema that is not a schema, one without a type property, and a bad policy are refused with the place named; nothing is written", async () => {
  const before = await call("GET", T("types"));
  for (const [body, field, says] of [
    [paymentType({ type: "bad-1", schema: { type: "objekt", properties: { type: {} } } }), "schema", "schema #"],
    [paymentType({ type: "bad-2", schema: "not a schema" }), "schema", "schema"],
    [paymentType({ type: "bad-3", schema: { type: "object", properties: { type: {}, amount: { requried: true } } } }), "schema", "#/properties/amount"],
    [paymentType({ type: "bad-4", schema: { type: "object", properties: { amount: { type: "number" } } } }), "schema", "properties.type"],
    [paymentType({ type: "bad-5", policies: { user: { rules: [{ when: { path: "detail.a", op: "=>", value: 1 }, effect: "allow" }], otherwise: { effect: "deny" } } } }), "policies.user", "rules/0/when/op"],
    [paymentType({ type: "bad-6", policies: { machine: { rules: [] } } }), "policies.machine", "otherwise"],
    [paymentType({ type: "bad 7" }), "type", "printable"],
    [paymentType({ type: "bad-8", service: "" }), "service", "resource server"],
  ]) {
    const r = await api(t, sys.token, "POST", T("types"), body);
    assertProblem(assert, r, 400, "invalid-configuration");
    assert.equal(r.json.field, field, r.text);
    assert.ok(r.json.detail.includes(says), `${says}: ${r.text}`);
  }
  assertProblem(assert, await api(t, sys.token, "POST", T("types"), { type: "x", service: "s" }), 400, "invalid-configuration");
  assert.deepEqual(await call("GET", T("types")), before, "nothing was written");
});

test("discovery lists the types only where the tenant flag is on and the workspace has not switched RAR off", async () => {
  const meta = async (tenant, w) => (await (await fetch(`${t.base}/${tenant}/${w}/.well-known/openid-configuration`)).json()).authorization_details_types_supported;
  assert.deepEqual(await meta("acme", "main"), [PAYMENT, "account_information"]);
  await call("POST", T("off"), accountsType);
  assert.equal(await meta("acme", "off"), undefined, "switched off in the workspace");
  await call("POST", "/api/tenants/flagless/workspaces/main/authorization-details-types", accountsType);
  assert.equal(await meta("flagless", "main"), undefined, "the tenant flag is off");
});

test("clients subscribe to known types allowed by the developer policy; refused subscriptions write nothing", async () => {
  const base = { grant_types: ["client_credentials"], scope: "api" };
  const ok = await api(t, sys.token, "POST", `${W("main")}/clients`, { ...base, client_id: "sub-ok", authorization_details_types: [PAYMENT] });
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(ok.json.authorization_details_types, [PAYMENT]);
  for (const [body, says] of [
    [{ ...base, client_id: "sub-unknown", authorization_details_types: ["nope"] }, "not a type of this workspace"],
    [{ ...base, client_id: "sub-untrusted", client_name: "Untrusted", authorization_details_types: [PAYMENT] }, "not for untrusted apps"],
    [{ ...base, client_id: "sub-twice", authorization_details_types: [PAYMENT, PAYMENT] }, "twice"],
  ]) {
    const r = await api(t, sys.token, "POST", `${W("main")}/clients`, body);
    assertProblem(assert, r, 400, "invalid-client-metadata");
    assert.ok(r.json.detail.includes(says), r.text);
    assertProblem(assert, await api(t, sys.token, "GET", `${W("main")}/clients/${body.client_id}`), 404, "not-found");
  }
  // An update is checked the same way, and a refused one changes nothing.
  const upd = await api(t, sys.token, "PUT", `${W("main")}/clients/sub-ok`, { ...base, client_name: "Untrusted", authorization_details_types: [PAYMENT] });
  assertProblem(assert, upd, 400, "invalid-client-metadata");
  assert.equal((await call("GET", `${W("main")}/clients/sub-ok`)).client_name, "");
  // Where RAR is off (switch, or flag), no client subscribes.
  for (const path of [`${W("off")}/clients`, "/api/tenants/flagless/workspaces/main/clients"]) {
    const r = await api(t, sys.token, "POST", path, { ...base, client_id: "sub-off", authorization_details_types: ["account_information"] });
    assertProblem(assert, r, 400, "invalid-client-metadata");
    assert.ok(r.json.detail.includes("not enabled"), r.text);
  }
});

// ---------------------------------------------------------------------------------------------
// Section 2: requests and tokens (client_credentials)

test("client_credentials: the details go into the token, its response and introspection; no scope is added", async () => {
  const r = await cc({ authorization_details: details([pay()]) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.authorization_details, [pay()]);
  assert.equal(r.json.scope, "", "no default scopes with authorization_details (AUT-9668)");
  const claims = decodeJwt(r.json.access_token).payload;
  assert.deepEqual(claims.authorization_details, [pay()]);
  assert.equal(claims.scope, "");
  const i = await form(`${issuer}/introspect`, { token: r.json.access_token }, auth("svc"));
  assert.equal(i.json.active, true);
  assert.deepEqual(i.json.authorization_details, [pay()]);
  // With a scope asked for, that scope and the details.
  const both = await cc({ scope: "api", authorization_details: details([pay()]) });
  assert.equal(both.json.scope, "api");
  // Without details: nothing changes (all the client's scopes, no claim).
  const plain = await cc({});
  assert.equal(plain.json.scope, "api");
  assert.ok(!("authorization_details" in decodeJwt(plain.json.access_token).payload));
});

test("client_credentials: bad details are invalid_authorization_details with the failing path; a machine policy denies with its reason", async () => {
  for (const [d, says, id] of [
    [[pay("12")], "/instructedAmount/amount"],
    [[pay("12.00", { instructedAmount: { currency: "euro", amount: "12.00" } })], "/instructedAmount/currency"],
    [[{ type: PAYMENT, creditorName: "x" }], "instructedAmount"],
    [[{ type: "account_information" }], "may not request", "svc"],
    [[{ type: "nope" }], "unknown type"],
    [[pay()], "may not request", "plain-svc"],
  ]) {
    const r = await cc({ authorization_details: details(d) }, id);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, "invalid_authorization_details", r.text);
    assert.ok(r.json.error_description.includes(says), `${says}: ${r.text}`);
    assert.ok(!("access_token" in r.json));
  }
  for (const raw of ["not json", "{}", "[]", "[1]", '[{"type": 1}]']) {
    const r = await cc({ authorization_details: raw });
    assert.equal(r.json.error, "invalid_authorization_details", raw);
  }
  const denied = await cc({ authorization_details: details([pay("1000.01")]) });
  assert.equal(denied.json.error, "access_denied", denied.text);
  assert.equal(denied.json.error_description, "machine payments are limited to 1000");
  assert.equal((await cc({ authorization_details: details([pay("1000.00")]) })).status, 200, "the limit itself is allowed");
});

test("RAR disabled in the workspace, or the tenant flag off: authorization_details is invalid_request", async () => {
  const off = `${t.base}/acme/off`;
  const flagless = `${t.base}/flagless/main`;
  for (const [iss, w, id] of [[off, W("off"), "svc-off"], [flagless, "/api/tenants/flagless/workspaces/main", "svc-flagless"]]) {
    const c = await call("POST", `${w}/clients`, { client_id: id, grant_types: ["client_credentials"], scope: "api" });
    const r = await form(`${iss}/token`, { grant_type: "client_credentials", authorization_details: details([{ type: "account_information" }]) }, { authorization: basic(c.client_id, c.client_secret) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, "invalid_request", r.text);
    assert.ok(!r.text.includes("access_token"));
    // Without the parameter, the same client is served as always.
    assert.equal((await form(`${iss}/token`, { grant_type: "client_credentials" }, { authorization: basic(c.client_id, c.client_secret) })).status, 200);
  }
  // The switch takes effect for a workspace that had RAR on: its requests are refused from then on.
  await call("POST", T("types"), accountsType).catch(() => {}); // present already when the types test ran first
  const c = await call("POST", `${W("types")}/clients`, { client_id: "svc-switch", grant_types: ["client_credentials"], scope: "api", authorization_details_types: ["account_information"] });
  const ask = () => form(`${t.base}/acme/types/token`, { grant_type: "client_credentials", authorization_details: details([{ type: "account_information" }]) }, { authorization: basic(c.client_id, c.client_secret) });
  assert.equal((await ask()).status, 200);
  await call("PATCH", `${W("types")}/config`, [{ op: "add", path: "/rich_authorization_requests", value: false }]);
  const r = await ask();
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, "invalid_request", r.text);
});

test("oversized details: the 64 KB request limit holds at the token and PAR endpoints, and nothing is issued or stored", async () => {
  const big = details([pay("1.00", { creditorName: "x".repeat(70 * 1024) })]);
  const r = await cc({ authorization_details: big });
  assert.equal(r.status, 413, r.text);
  assert.ok(!r.text.includes("access_token"));
  const p = await form(`${issuer}/par`, { client_id: "web", response_type: "code", redirect_uri: REDIRECT, authorization_details: big }, auth("web"));
  assert.equal(p.status, 413, p.text);
  assert.ok(!p.text.includes("request_uri"));
  // Under the request limit but past the parameter's own (the details travel on in the sealed
  // login and consent forms): a clear 400, not a failure of ours.
  const long = await cc({ authorization_details: details([pay("1.00", { creditorName: "x".repeat(40 * 1024) })]) });
  assert.equal(long.status, 400);
  assert.equal(long.json.error, "invalid_authorization_details");
  assert.match(long.json.error_description, /longer than 16 KB/);
  // Past the schema's maxLength: the failing path.
  const named = await cc({ authorization_details: details([pay("1.00", { creditorName: "x".repeat(71) })]) });
  assert.equal(named.json.error, "invalid_authorization_details");
  assert.ok(named.json.error_description.includes("/creditorName"), named.text);
});

// ---------------------------------------------------------------------------------------------
// Section 2: the authorization endpoint, PAR, consent, the grant, refresh

test("authorize without scope: the consent page shows each detail readably, and the granted details reach the token, introspection and every refresh", async () => {
  const d = [pay("250.00")];
  const { r: page, verifier, agent } = await toConsent({ authorization_details: details(d) });
  assert.equal(page.status, 200, page.text_);
  assert.match(page.text_, /name="decision"/);
  assert.ok(page.text_.includes("<strong>Payment initiation</strong>: Pay to: Merchant A; Amount: Value 250.00 Currency EUR"), page.text_);
  assert.match(page.text_, /<details><summary>[^<]+<\/summary><pre>[^<]*&quot;creditorName&quot;: &quot;Merchant A&quot;/, "the full JSON in a disclosure that needs no script");
  assert.ok(!page.text_.includes("<script"));
  const code = await allow(agent, page);
  const tok = await redeem(code, verifier);
  assert.equal(tok.status, 200, tok.text);
  assert.deepEqual(tok.json.authorization_details, d);
  assert.equal(tok.json.scope, "");
  assert.ok(!("id_token" in tok.json), "no openid scope was added");
  assert.deepEqual(decodeJwt(tok.json.access_token).payload.authorization_details, d);
  const i = await form(`${issuer}/introspect`, { token: tok.json.access_token }, auth("web"));
  assert.deepEqual(i.json.authorization_details, d);
  // A remembered consent never covers details: the next request asks again.
  const again = await toConsent({ authorization_details: details(d) }, USER, agent);
  assert.match(again.r.text_, /name="decision"/);
});

test("a refresh keeps the details, may narrow them, and a widening is refused before the refresh token is spent", async () => {
  const d = [pay("10.00"), pay("20.00", { creditorName: "Merchant B" })];
  const { r: page, verifier, agent } = await toConsent({ scope: "offline_access", authorization_details: details(d) });
  const tok = (await redeem(await allow(agent, page), verifier)).json;
  assert.ok(tok.refresh_token, JSON.stringify(tok));
  const ri = await form(`${issuer}/introspect`, { token: tok.refresh_token }, auth("web"));
  assert.equal(ri.json.token_type, "refresh_token");
  assert.deepEqual(ri.json.authorization_details, d, "a refresh token's introspection names the granted details");
  const refresh = (rt, extra = {}) => form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: rt, ...extra }, auth("web"));
  const wider = await refresh(tok.refresh_token, { authorization_details: details([pay("30.00")]) });
  assert.equal(wider.status, 400);
  assert.equal(wider.json.error, "invalid_authorization_details", wider.text);
  const changed = await refresh(tok.refresh_token, { authorization_details: details([pay("10.00", { creditorName: "Merchant Z" })]) });
  assert.equal(changed.json.error, "invalid_authorization_details", "a changed entry is a widening");
  const narrowed = await refresh(tok.refresh_token, { authorization_details: details([d[1]]) });
  assert.equal(narrowed.status, 200, "the refused widenings did not spend the token: " + narrowed.text);
  assert.deepEqual(narrowed.json.authorization_details, [d[1]]);
  assert.deepEqual(decodeJwt(narrowed.json.access_token).payload.authorization_details, [d[1]]);
  const kept = await refresh(narrowed.json.refresh_token);
  assert.equal(kept.status, 200, kept.text);
  assert.deepEqual(kept.json.authorization_details, d, "without the parameter, what was granted");
});

test("authorize: bad details go back to the client as invalid_authorization_details; nothing is shown to the user", async () => {
  const agent = new Agent();
  for (const [d, says] of [
    [[pay("1")], "/instructedAmount/amount"],
    [[{ type: "account_information" }], "may not request"],
    [[{ type: "nope" }], "unknown type"],
  ]) {
    const r = await agent.request(authorizeUrl({ authorization_details: details(d) }));
    const why = redirectError(r, "invalid_authorization_details");
    assert.ok(why.includes(says), `${says}: ${why}`);
    assert.equal(new URL(r.headers.get("location")).searchParams.get("state"), "s1");
  }
  const r = await agent.request(authorizeUrl({ authorization_details: "[" }));
  redirectError(r, "invalid_authorization_details");
  // Without details and without scope, as before: invalid_scope.
  redirectError(await agent.request(authorizeUrl({})), "invalid_scope");
  // Where RAR is off: invalid_request.
  const c = await call("POST", `${W("off")}/clients`, { client_id: "web-off", redirect_uris: [REDIRECT] });
  const u = new URL(authorizeUrl({ authorization_details: details([{ type: "account_information" }]), scope: "openid" }, c.client_id).replace("/acme/main/", "/acme/off/"));
  redirectError(await agent.request(u.toString()), "invalid_request");
});

test("user policies read the details and the authentication context: a deny reaches the client with its reason and issues no code", async () => {
  const big = await toConsent({ authorization_details: details([pay("5000.01")]) });
  assert.match(redirectError(big.r, "invalid_authorization_details"), /above the limit/);
  const mallory = await toConsent({ authorization_details: details([pay("5.00")]) }, { username: "mallory", password: "correct horse battery" });
  assert.equal(redirectError(mallory.r, "access_denied"), "this user may not initiate payments");
  // The same request by another user is allowed to the consent page.
  const ada = await toConsent({ authorization_details: details([pay("5.00")]) });
  assert.match(ada.r.text_, /name="decision"/);
});

test("PAR carries checked details to the authorization endpoint; bad details are refused at PAR and nothing is stored", async () => {
  const { verifier, challenge } = pkce();
  const push = (d) => form(`${issuer}/par`, { client_id: "web", response_type: "code", redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", authorization_details: details(d) }, auth("web"));
  const bad = await push([pay("1")]);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, "invalid_authorization_details", bad.text);
  assert.ok(!("request_uri" in bad.json));
  const pushed = await push([pay("42.00")]);
  assert.equal(pushed.status, 201, pushed.text);
  const agent = new Agent();
  let r = await agent.request(`${issuer}/authorize?client_id=web&request_uri=${encodeURIComponent(pushed.json.request_uri)}`);
  r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), ...USER } });
  assert.ok(r.text_.includes("Value 42.00"), r.text_);
  const tok = await redeem(await allow(agent, r), verifier);
  assert.deepEqual(tok.json.authorization_details, [pay("42.00")]);
});

test("the user's decision: a denial issues nothing", async () => {
  const { r: page, agent } = await toConsent({ authorization_details: details([pay("7.00")]) });
  const r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), decision: "deny" } });
  redirectError(r, "access_denied");
});

test("a fapi_br workspace uses both: an Open Finance consent and authorization details in one PAR + request object; the consent page shows both, the token carries both", async () => {
  await call("POST", "/api/tenants/acme/workspaces", { id: "bank" });
  await call("PUT", `${W("bank")}/config`, { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 });
  await call("POST", T("bank"), accountsType);
  const bank = `${t.base}/acme/bank`;
  const CPF = "12345678901";
  await t.user("acme", "bank", { username: "maria", password: "senha muito segura", claims: { cpf: CPF } });
  const key = await keyPair("PS256", "tpp-1");
  const TPP = "https://tpp.example/cb";
  await call("POST", `${W("bank")}/clients`, { client_id: "tpp", redirect_uris: [TPP], grant_types: ["authorization_code", "refresh_token", "client_credentials"], token_endpoint_auth_method: "private_key_jwt", scope: "openid consents", jwks: { keys: [key.jwk] }, authorization_details_types: ["account_information"] });
  const cc = await form(`${bank}/token`, { grant_type: "client_credentials", scope: "consents", ...(await clientAssertion(key, "tpp", `${bank}/token`)) });
  assert.equal(cc.status, 200, cc.text);
  const created = await fetch(`${bank}/open-banking/consents/v3/consents`, { method: "POST", headers: { authorization: `Bearer ${cc.json.access_token}`, "content-type": "application/json", "x-fapi-interaction-id": crypto.randomUUID() }, body: JSON.stringify({ data: { loggedUser: { document: { identification: CPF, rel: "CPF" } }, permissions: ["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"] } }) });
  assert.equal(created.status, 201, await created.clone().text());
  const id = (await created.json()).data.consentId;
  const d = [{ type: "account_information", accounts: ["acc-1", "acc-2"] }];
  const { params, verifier } = codeRequest("tpp", TPP, `openid consent:${id}`, { authorization_details: d });
  const request = await requestObject(key, "tpp", bank, params);
  const pushed = await push(bank, { client_id: "tpp", request, ...(await clientAssertion(key, "tpp", `${bank}/par`)) });
  assert.equal(pushed.status, 201, pushed.text);
  const { r, consentPage } = await browse(bank, fapiAuthorizeUrl(bank, { client_id: "tpp", request_uri: pushed.json.request_uri }), { username: "maria", password: "senha muito segura" });
  assert.ok(consentPage.includes("ACCOUNTS_READ"), "the consent's permissions");
  assert.ok(consentPage.includes("<strong>Account information</strong>: accounts: acc-1, acc-2"), consentPage);
  const code = redirected(r).get("code");
  const tok = await form(`${bank}/token`, { grant_type: "authorization_code", code, redirect_uri: TPP, code_verifier: verifier, ...(await clientAssertion(key, "tpp", `${bank}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  assert.ok(tok.json.scope.split(" ").includes(`consent:${id}`));
  assert.deepEqual(tok.json.authorization_details, d);
  const claims = decodeJwt(tok.json.access_token).payload;
  assert.deepEqual(claims.authorization_details, d);
  const intro = await form(`${bank}/introspect`, { token: tok.json.access_token, ...(await clientAssertion(key, "tpp", `${bank}/introspect`)) });
  assert.equal(intro.json.consent_id, id);
  assert.deepEqual(intro.json.authorization_details, d);
});

test("the tenant flag switched off takes effect at once (the isolate's cached state is dropped), and on again", async () => {
  const meta = async () => (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()).authorization_details_types_supported;
  assert.equal((await cc({ authorization_details: details([pay()]) })).status, 200);
  assert.ok((await meta()).includes(PAYMENT));
  const { r: page, verifier, agent } = await toConsent({ scope: "offline_access", authorization_details: details([pay("3.00")]) });
  const granted = (await redeem(await allow(agent, page), verifier)).json;
  await call("PUT", "/api/tenants/acme/features", {});
  const off = await cc({ authorization_details: details([pay()]) });
  assert.equal(off.json.error, "invalid_request", off.text);
  const refresh = (extra) => form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token: granted.refresh_token, ...extra }, auth("web"));
  const narrowing = await refresh({ authorization_details: details([pay("3.00")]) });
  assert.equal(narrowing.json.error, "invalid_request", narrowing.text);
  const kept = await refresh({});
  assert.equal(kept.status, 200, "a grant made while the feature was on keeps what it granted: " + kept.text);
  assert.deepEqual(kept.json.authorization_details, [pay("3.00")]);
  assert.equal(await meta(), undefined);
  await call("PUT", "/api/tenants/acme/features", { rich_authorization_requests: true });
  assert.equal((await cc({ authorization_details: details([pay()]) })).status, 200);
  assert.ok((await meta()).includes(PAYMENT));
});

test("a signed request object at the authorization endpoint carries authorization_details (a JSON array claim), checked like the query's", async () => {
  const key = await keyPair("ES256", "jar-1");
  await call("POST", `${W("main")}/clients`, { client_id: "jar", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid", token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.jwk] }, authorization_details_types: [PAYMENT] });
  const signed = async (d) => {
    const { params, verifier } = codeRequest("jar", REDIRECT, undefined, { authorization_details: d, state: "jar-state" });
    delete params.scope;
    return { request: await requestObject(key, "jar", issuer, params), verifier };
  };
  const bad = await signed([pay("9")]);
  const refused = await new Agent().request(`${issuer}/authorize?${new URLSearchParams({ client_id: "jar", request: bad.request })}`);
  assert.match(redirectError(refused, "invalid_authorization_details"), /\/instructedAmount\/amount/);
  const good = await signed([pay("9.00")]);
  const { r, consentPage } = await browse(issuer, `${issuer}/authorize?${new URLSearchParams({ client_id: "jar", request: good.request })}`, USER);
  assert.ok(consentPage.includes("Value 9.00"), consentPage);
  const code = redirected(r).get("code");
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: good.verifier, ...(await clientAssertion(key, "jar", `${issuer}/token`)) });
  assert.equal(tok.status, 200, tok.text);
  assert.deepEqual(tok.json.authorization_details, [pay("9.00")]);
});

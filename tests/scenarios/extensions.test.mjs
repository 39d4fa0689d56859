// Post-authentication extensions (seed 004): a `transform` that sets acr/amr (the Open Banking
// case), a `call` to the customer's service (the signed request checked by the service; its
// answer in the ID token, the access token and userinfo through the claim rules), a `redirect`
// through the customer's application and back, all three chained in order; failure policies
// (deny and continue) for timeouts, non-JSON, errors and schema-breaking answers; resumes that are
// tampered, expired, replayed or another sign-in's; and the management API's checks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair } from "jose";
import { startTarget, Agent, pkce, form, basic, hidden, TARGET } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { startExtensionService } from "../support/extension-service.mjs";
import { systemClient, api } from "../support/management.mjs";

const RP = "https://rp.example/cb";
let t, svc, base, sys;
const secrets = {};

const schema = {
  authn_context: { attributes: [{ name: "risk", type: "integer" }, { name: "organization", type: "string" }, { name: "region", type: "string" }] },
  claims: [
    { claim: "risk", attribute: "risk", id_token: true, access_token: true, userinfo: true },
    { claim: "organization", attribute: "organization", id_token: true, userinfo: true },
    { claim: "region", attribute: "region", id_token: true, access_token: true, userinfo: true },
  ],
};

async function workspace(ws, extensions, extra = {}) {
  await t.workspace("acme", ws, { ...schema, extensions, ...extra });
  secrets[ws] = (await t.client("acme", ws, { client_id: "rp", redirect_uris: [RP], grant_types: ["authorization_code"], scope: "openid email profile", skip_consent: true })).client_secret;
  await t.user("acme", ws, { username: "ada", password: "a-long-password-1", claims: { email: "Ada@Example.com", name: "Ada" } });
  await svc.trust(`${base}/acme/${ws}`);
}

const call = (id, path, extra = {}) => ({ id, type: "call", order: 10, url: `${svc.origin}/call/${path}`, ...extra });
const redirect = (id, extra = {}) => ({ id, type: "redirect", order: 30, url: `${svc.origin}/app`, jwks: { keys: [svc.publicJwk] }, ...extra });

before(async () => {
  t = await startTarget();
  base = t.base;
  svc = await startExtensionService();
  await workspace("ob", [{ id: "ob-acr", type: "transform", order: 1, idps: ["pool"], mappings: [
    { target: "acr", transform: { type: "constant", value: "urn:brasil:openbanking:loa2" } },
    { target: "amr", transform: { type: "constant", value: ["pwd", "otp"] } },
    { source: "email", target: "email", transform: { type: "lowercase" } },
  ] }]);
  await workspace("enrich", [call("crm", "enrich")]);
  await workspace("deny", [call("gate", "deny")]);
  await workspace("strict", [call("flaky", "strict", { timeout_ms: 500 })]);
  await workspace("lenient", [call("flaky", "lenient", { timeout_ms: 500, on_failure: "continue" }), { id: "after", type: "transform", order: 20, mappings: [{ target: "organization", transform: { type: "constant", value: "still ran" } }] }]);
  await workspace("chain", [
    { id: "first", type: "transform", order: 1, mappings: [{ target: "organization", transform: { type: "constant", value: "from transform" } }] },
    call("second", "chain", { order: 2 }),
    redirect("third", { order: 3 }),
  ]);
  await workspace("none", []);
  svc.answer("/call/enrich", { answer: { attributes: { risk: 7, organization: "Acme Ltda" } } });
  svc.answer("/call/deny", { answer: { deny: "Your subscription has expired." } });
  svc.answer("/call/chain", { answer: (claims) => ({ attributes: { risk: claims.context.organization === "from transform" ? 1 : 99 } }) });
  sys = await systemClient(t, { client_id: "ops" });
});
after(async () => {
  await t?.stop();
  await svc?.stop();
});

function authorizeUrl(ws, params = {}) {
  const { verifier, challenge } = pkce();
  const u = new URL(`${base}/acme/${ws}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "rp", redirect_uri: RP, scope: "openid email profile", code_challenge: challenge, code_challenge_method: "S256", nonce: "n-1", state: "s-1", ...params })) u.searchParams.set(k, v);
  return { url: u.toString(), verifier };
}

/** authorize, then the password form; returns the login POST's answer. */
async function signIn(ws, agent = new Agent()) {
  const { url, verifier } = authorizeUrl(ws);
  const page = await agent.request(url);
  assert.equal(page.status, 200, page.text_);
  const r = await agent.request(`${base}/acme/${ws}/login`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), username: "ada", password: "a-long-password-1" } });
  return { r, verifier, agent };
}

async function tokens(ws, location, verifier) {
  const code = new URL(location).searchParams.get("code");
  assert.ok(code, `no code: ${location}`);
  const r = await form(`${base}/acme/${ws}/token`, { grant_type: "authorization_code", code, redirect_uri: RP, code_verifier: verifier }, { authorization: basic("rp", secrets[ws]) });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function userinfo(ws, at) {
  const r = await fetch(`${base}/acme/${ws}/userinfo`, { headers: { authorization: `Bearer ${at}` } });
  assert.equal(r.status, 200);
  return r.json();
}

/** A refused sign-in: the page says why, its link takes the client `access_denied`, no session. */
function assertDenied(r, agent, reason) {
  assert.equal(r.status, 403, r.text_);
  if (reason) assert.match(r.text_, reason);
  const back = new URL(r.text_.match(/<a href="([^"]+)"/)[1].replaceAll("&amp;", "&"));
  assert.equal(back.origin + back.pathname, RP);
  assert.equal(back.searchParams.get("error"), "access_denied");
  assert.equal(back.searchParams.get("state"), "s-1");
  assert.equal(agent.cookies.has("ea_session"), false, "no session was started");
}

test("a transform sets acr and amr (the Open Banking case): every token says so", async () => {
  const { r, verifier } = await signIn("ob");
  assert.equal(r.status, 303, r.text_);
  const tk = await tokens("ob", r.headers.get("location"), verifier);
  const id = decodeJwt(tk.id_token).payload;
  assert.equal(id.acr, "urn:brasil:openbanking:loa2");
  assert.deepEqual(id.amr, ["pwd", "otp"]);
  assert.equal(id.email, "ada@example.com", "lower-cased by the transform, over the stored value");
  const at = decodeJwt(tk.access_token).payload;
  assert.equal(at.acr, "urn:brasil:openbanking:loa2");
  assert.deepEqual(at.amr, ["pwd", "otp"]);
  assert.equal((await userinfo("ob", tk.access_token)).email, "ada@example.com");
});

test("a call sends the context as a JWT the service can verify; its answer reaches every token", async () => {
  const before = svc.calls.length;
  const { r, verifier } = await signIn("enrich");
  assert.equal(r.status, 303, r.text_);
  const c = svc.calls.slice(before).find((x) => x.path === "/call/enrich");
  assert.ok(c, "the service was called");
  assert.equal(c.error, null, "signature, audience, issuer and expiry check out at the service");
  assert.equal(c.contentType, "application/jwt");
  assert.equal(c.claims.iss, `${base}/acme/enrich`);
  assert.equal(c.claims.exp - c.claims.iat, 60);
  assert.equal(c.claims.extension, "crm");
  assert.equal(c.claims.context.email, "Ada@Example.com");
  assert.deepEqual(c.claims.context.amr, ["pwd"]);
  assert.equal(c.claims.request.client_id, "rp");
  assert.equal(c.claims.request.scope, "openid email profile");
  assert.ok(c.claims.jti);
  const tk = await tokens("enrich", r.headers.get("location"), verifier);
  const id = decodeJwt(tk.id_token).payload;
  assert.equal(id.organization, "Acme Ltda");
  assert.equal(id.risk, 7);
  assert.equal(decodeJwt(tk.access_token).payload.risk, 7);
  const info = await userinfo("enrich", tk.access_token);
  assert.equal(info.risk, 7);
  assert.equal(info.organization, "Acme Ltda");
});

test("a second authorization in the session keeps the extension's attributes without calling again", async () => {
  const first = await signIn("enrich");
  assert.equal(first.r.status, 303);
  const before = svc.calls.length;
  const { url, verifier } = authorizeUrl("enrich");
  const again = await first.agent.request(url);
  assert.equal(again.status, 303, "SSO: straight to the client");
  assert.equal(svc.calls.length, before, "the service was not called again");
  const tk = await tokens("enrich", again.headers.get("location"), verifier);
  assert.equal(decodeJwt(tk.id_token).payload.risk, 7);
});

test("the customer's service denies: a page with its reason, access_denied for the client, no session", async () => {
  const { r, agent } = await signIn("deny");
  assertDenied(r, agent, /Your subscription has expired\./);
  const users = await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/deny/users");
  assert.equal(users.json.items[0].last_auth_at ?? null, null, "no sign-in was recorded");
  const signedIn = await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/enrich/users");
  assert.ok(signedIn.json.items[0].last_auth_at, "where one succeeded, it was");
});

for (const [name, mode] of [
  ["a timeout", { delayMs: 1500, answer: { attributes: { risk: 1 } } }],
  ["an answer that is not JSON", { raw: "<html>oops</html>" }],
  ["a 500", { status: 500, answer: { error: "boom" } }],
  ["a 404", { status: 404, answer: {} }],
  ["attributes that break the schema", { answer: { attributes: { risk: "high" } } }],
  ["an undeclared attribute", { answer: { attributes: { favourite_colour: "blue" } } }],
  ["a change of sub", { answer: { attributes: { sub: "someone-else" } } }],
]) {
  test(`${name} under on_failure deny refuses the sign-in; under continue it goes on without the changes`, async () => {
    svc.answer("/call/strict", mode);
    svc.answer("/call/lenient", mode);
    const strict = await signIn("strict");
    assertDenied(strict.r, strict.agent, /could not be completed/);
    assert.doesNotMatch(strict.r.text_, /500|boom|risk|schema|timed? ?out/i, "the cause stays in the log");
    const lenient = await signIn("lenient");
    assert.equal(lenient.r.status, 303, lenient.r.text_);
    const tk = await tokens("lenient", lenient.r.headers.get("location"), lenient.verifier);
    const id = decodeJwt(tk.id_token).payload;
    assert.equal(id.risk, undefined, "nothing of the failed extension");
    assert.equal(id.sub.length > 0 && id.sub !== "someone-else", true);
    assert.equal(id.organization, "still ran", "the next extension ran");
  });
}

test("a deny from the service is final even under continue", async () => {
  svc.answer("/call/lenient", { answer: { deny: "Blocked by policy." } });
  const { r, agent } = await signIn("lenient");
  assertDenied(r, agent, /Blocked by policy\./);
});

/** Signs in to "chain" and stops at the application: returns the state and the agent. */
async function toTheApplication() {
  const { r, verifier, agent } = await signIn("chain");
  assert.equal(r.status, 303, r.text_);
  const to = new URL(r.headers.get("location"));
  assert.equal(to.origin + to.pathname, `${svc.origin}/app`);
  assert.equal(to.searchParams.get("resume_uri"), `${base}/acme/chain/extensions/resume`);
  assert.ok(agent.cookies.has("ea_ext"), "the journey travels in its cookie");
  assert.equal(agent.cookies.has("ea_session"), false, "no session before the chain ends");
  return { state: to.searchParams.get("state"), verifier, agent };
}

const resume = (agent, result) => agent.request(`${base}/acme/chain/extensions/resume?result=${encodeURIComponent(result)}`);

test("transform, call and redirect chained in order; the application's result reaches every token", async () => {
  const { state, verifier, agent } = await toTheApplication();
  const claims = await svc.verifyFromServer(state, `${svc.origin}/app`);
  assert.equal(claims.exp - claims.iat, 600, "the state lives 10 minutes");
  assert.equal(claims.context.organization, "from transform", "the transform ran first");
  assert.equal(claims.context.risk, 1, "the call saw the transform's change and ran second");
  const r = await resume(agent, await svc.result(state, { attributes: { region: "SP" } }));
  assert.equal(r.status, 303, r.text_);
  assert.ok(r.headers.get("location").startsWith(RP));
  assert.equal(agent.cookies.has("ea_ext"), false, "the journey cookie is cleared");
  assert.ok(agent.cookies.has("ea_session"));
  const tk = await tokens("chain", r.headers.get("location"), verifier);
  const id = decodeJwt(tk.id_token).payload;
  assert.deepEqual([id.organization, id.risk, id.region], ["from transform", 1, "SP"]);
  assert.equal(decodeJwt(tk.access_token).payload.region, "SP");
  assert.equal((await userinfo("chain", tk.access_token)).region, "SP");
});

test("a replayed result is refused, and so is a result for another sign-in", async () => {
  const a = await toTheApplication();
  const result = await svc.result(a.state, { attributes: { region: "RJ" } });
  assert.equal((await resume(a.agent, result)).status, 303);
  // The same result again, with the journey cookie the browser had: single use.
  const replay = new Agent();
  const b = await toTheApplication();
  replay.cookies = new Map(b.agent.cookies);
  const again = await resume(replay, result);
  assert.equal(again.status, 400);
  assert.match(again.text_, /another sign-in/);
  assert.equal(replay.cookies.has("ea_session"), false);
  // b's own result still works: the refusal consumed nothing.
  assert.equal((await resume(b.agent, await svc.result(b.state, { attributes: { region: "MG" } }))).status, 303);
  // b's result once more, in b's browser whose journey it was: already used.
  const c = await toTheApplication();
  const cResult = await svc.result(c.state, { attributes: { region: "BA" } });
  const saved = new Map(c.agent.cookies);
  assert.equal((await resume(c.agent, cResult)).status, 303);
  const twice = new Agent();
  twice.cookies = saved;
  const r = await resume(twice, cResult);
  assert.equal(r.status, 400);
  assert.match(r.text_, /already used/);
});

test("tampered, expired, foreign-key, wrong-audience and missing results are refused with a page", async () => {
  const { state, agent } = await toTheApplication();
  const good = await svc.result(state, { attributes: { region: "SP" } });
  const [h, p, s] = good.split(".");
  const body = JSON.parse(Buffer.from(p, "base64url"));
  body.attributes.region = "XX";
  const tampered = `${h}.${Buffer.from(JSON.stringify(body)).toString("base64url")}.${s}`;
  const other = (await generateKeyPair("ES256")).privateKey;
  const cases = [
    ["tampered", tampered, /not valid/],
    ["expired", await svc.result(state, { exp: Math.floor(Date.now() / 1000) - 30 }), /expired/],
    ["signed by another key", await svc.result(state, { key: other }), /not valid/],
    ["for another server", await svc.result(state, { audience: `${base}/acme/enrich` }), /another server/],
    ["too long-lived", await svc.result(state, { exp: "2h" }), /expired/],
    ["unsigned", `${h.replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url"))}.${p}.`, /not valid/],
  ];
  for (const [name, result, why] of cases) {
    const copy = new Agent();
    copy.cookies = new Map(agent.cookies);
    const r = await resume(copy, result);
    assert.equal(r.status, 400, `${name}: ${r.text_}`);
    assert.match(r.text_, why, name);
    assert.equal(copy.cookies.has("ea_session"), false, `${name}: no session`);
  }
  const none = await agent.request(`${base}/acme/chain/extensions/resume`);
  assert.equal(none.status, 400);
  assert.match(none.text_, /no result/);
  const noCookie = await resume(new Agent(), good);
  assert.equal(noCookie.status, 403, "no journey in this browser");
  // After all that, the genuine result still completes the sign-in.
  const copy = new Agent();
  copy.cookies = new Map(agent.cookies);
  assert.equal((await resume(copy, good)).status, 303);
});

test("the application may deny: the page and access_denied, no session", async () => {
  const { state, agent } = await toTheApplication();
  const r = await resume(agent, await svc.result(state, { deny: "We could not verify your organisation." }));
  assertDenied(r, agent, /We could not verify your organisation\./);
});

test("a result whose attributes break the schema follows the extension's policy (deny)", async () => {
  const { state, agent } = await toTheApplication();
  const r = await resume(agent, await svc.result(state, { attributes: { region: 42 } }));
  assertDenied(r, agent, /could not be completed/);
});

test("a workspace without extensions signs in as before", async () => {
  const before = svc.calls.length;
  const { r, verifier } = await signIn("none");
  assert.equal(r.status, 303);
  const id = decodeJwt((await tokens("none", r.headers.get("location"), verifier)).id_token).payload;
  assert.deepEqual(id.amr, ["pwd"]);
  assert.equal(svc.calls.length, before);
});

test("the management API lists, creates, replaces and deletes extensions, and refuses bad ones", async () => {
  const path = "/api/tenants/acme/workspaces/none/extensions";
  const created = await api(t, sys.token, "POST", path, call("risk", "enrich", { timeout_ms: 1500, on_failure: "continue" }));
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers.get("location"), `${path}/risk`);
  assert.equal((await api(t, sys.token, "GET", `${path}/risk`)).json.timeout_ms, 1500);
  assert.equal((await api(t, sys.token, "POST", path, call("risk", "enrich", { order: 11 }))).status, 409);
  const replaced = await api(t, sys.token, "PUT", `${path}/risk`, { type: "call", order: 5, url: `${svc.origin}/call/enrich`, enabled: false });
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.json.enabled, false);
  const bad = [
    [{ id: "x", type: "call", order: 5, url: `${svc.origin}/call/x` }, /order/, "an order taken"],
    [{ id: "x", type: "call", order: 6, url: "http://risk.example/score" }, /https/, "plain http off loopback"],
    [{ id: "x", type: "call", order: 6, url: "https://user:pw@risk.example/" }, /user name/, "userinfo"],
    [{ id: "x", type: "call", order: 6, url: "not a url" }, /URL/, "not a URL"],
    [{ id: "x", type: "call", order: 6, url: "https://risk.example/", timeout_ms: 5000 }, /2000/, "a timeout over 2 s"],
    [{ id: "x", type: "redirect", order: 6, url: "https://app.example/" }, /public keys/, "a redirect without keys"],
    [{ id: "x", type: "redirect", order: 6, url: "https://app.example/", jwks: { keys: [{ ...svc.publicJwk, d: "AAAA" }] } }, /public/, "a private key"],
    [{ id: "x", type: "transform", order: 6 }, /mappings/, "an empty transform"],
    [{ id: "x", type: "transform", order: 6, mappings: [{ source: "email", target: "idp" }] }, /other than sub/, "a protected target"],
    [{ id: "x", type: "transform", order: 6, mappings: [{ source: "email", target: "e", transform: { type: "regex_extract", pattern: "(" } }] }, /regular expression/, "a bad pattern"],
    [{ id: "x", type: "transform", order: 6, remove: ["x"], idps: ["nobody"] }, /nobody/, "an unknown provider"],
    [{ id: "x", type: "script", order: 6 }, /type|variant/, "an unknown type"],
    [{ id: "Bad Id", type: "transform", order: 6, remove: ["x"] }, /extensions\.id/, "a bad id"],
  ];
  for (const [body, why, name] of bad) {
    const r = await api(t, sys.token, "POST", path, body);
    assert.equal(r.status, 400, `${name}: ${r.text}`);
    assert.match(r.text, why, name);
  }
  const list = await api(t, sys.token, "GET", path);
  assert.deepEqual(list.json.extensions.map((e) => e.id), ["risk"], "nothing of the refused ones was stored");
  assert.equal((await api(t, sys.token, "DELETE", `${path}/risk`)).status, 204);
  assert.equal((await api(t, sys.token, "DELETE", `${path}/risk`)).status, 404);
  assert.equal((await api(t, sys.token, "GET", `${path}/risk`)).status, 404);
  // A custom attribute a transform writes cannot be deleted from under it.
  const del = await api(t, sys.token, "DELETE", "/api/tenants/acme/workspaces/chain/authn-context/attributes/organization");
  assert.equal(del.status, 409);
  assert.match(del.text, /extension 'first'/);
});

test("the deployment's EXTENSION_HOSTS limits where extensions may go, when saved and when run", async () => {
  const limited = await startTarget({ extensionHosts: "*.bank.example" });
  try {
    await limited.workspace("acme", "w", {});
    const r = await limited.admin("PUT", "/admin/tenants/acme/workspaces/w", { extensions: [call("risk", "enrich")] });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /does not allow/);
    const ok = await limited.admin("PUT", "/admin/tenants/acme/workspaces/w", { extensions: [{ id: "risk", type: "call", order: 1, url: "https://risk.bank.example/score" }] });
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await limited.stop();
  }
});

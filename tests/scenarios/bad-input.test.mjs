// Hostile and malformed input: every answer is a clear 4xx (an OAuth error, or the HTML error page
// where a browser is talking), never a 5xx, and nothing is written.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, basic, form, pkce } from "../support/target.mjs";

const REDIRECT = "https://rp.example/cb";
let t, issuer, secret;

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  secret = (await t.client("acme", "main", { client_id: "web", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "client_credentials", "refresh_token"], scope: "openid api" })).client_secret;
});
after(() => t.stop());

const raw = (path, { method = "POST", body, headers = {} } = {}) => fetch(issuer + path, { method, headers, body, redirect: "manual" });
const json = async (r) => { const text = await r.text(); try { return JSON.parse(text); } catch { return { text }; } };

test("a body over 64 KB is refused with a JSON OAuth error", async () => {
  const big = `grant_type=client_credentials&scope=${"a".repeat(70 * 1024)}`;
  const r = await raw("/token", { body: big, headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("web", secret) } });
  assert.ok(r.status === 413 || r.status === 400, `${r.status}`);
  assert.equal((await json(r)).error, "invalid_request");
});

test("a body over 64 KB to the management API is refused with a problem document", async () => {
  const r = await fetch(`${t.base}/api/tenants`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer x" }, body: JSON.stringify({ id: "big", name: "a".repeat(70 * 1024) }) });
  assert.equal(r.status, 413);
  assert.equal(r.headers.get("content-type"), "application/problem+json");
  const p = await json(r);
  assert.equal(p.status, 413);
  assert.match(p.type, /payload-too-large/);
});

test("duplicate parameters are refused at the token and authorize endpoints", async () => {
  const r = await raw("/token", { body: "grant_type=client_credentials&scope=api&scope=openid", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("web", secret) } });
  assert.equal(r.status, 400);
  assert.equal((await json(r)).error, "invalid_request");
  const { challenge } = pkce();
  const a = await raw(`/authorize?response_type=code&client_id=web&client_id=web&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid&code_challenge=${challenge}&code_challenge_method=S256`, { method: "GET" });
  assert.equal(a.status, 400);
  assert.equal(a.headers.get("location"), null, "never redirected on a malformed request");
});

test("malformed encodings and content types", async () => {
  const bad = await raw("/token", { body: "grant_type=client_credentials&scope=%zz", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("web", secret) } });
  assert.equal(bad.status, 400);
  assert.equal((await json(bad)).error, "invalid_request");
  const asJson = await raw("/token", { body: JSON.stringify({ grant_type: "client_credentials" }), headers: { "content-type": "application/json", authorization: basic("web", secret) } });
  assert.equal(asJson.status, 400);
  assert.equal((await json(asJson)).error, "invalid_request");
  const badBasic = await raw("/token", { body: "grant_type=client_credentials", headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic !!!not-base64" } });
  assert.ok([400, 401].includes(badBasic.status));
  assert.equal((await json(badBasic)).error, "invalid_client");
});

test("garbage JWTs: client_assertion, Bearer tokens and id_token_hint get precise 4xx errors", async () => {
  const assertion = await form(`${issuer}/token`, { grant_type: "client_credentials", client_id: "web", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ3ZWIifQ." });
  assert.equal(assertion.status, 401);
  assert.equal(assertion.json.error, "invalid_client");
  for (const token of ["a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "x".repeat(5000)]) {
    const r = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
    assert.match(r.headers.get("www-authenticate"), /invalid_token/);
  }
  const hint = await raw("/logout?id_token_hint=not.a.jwt", { method: "GET" });
  assert.equal(hint.status, 400);
});

test("the bootstrap API: no or wrong root secret is 401 and creates nothing; malformed JSON is 400", async () => {
  for (const authorization of [undefined, "Bearer wrong-secret-0123456789", `Basic ${t.rootSecret}`]) {
    const r = await fetch(`${t.base}/admin/tenants/evil`, { method: "PUT", headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) }, body: "{}" });
    assert.equal(r.status, 401);
  }
  assert.equal((await fetch(`${t.base}/evil/main/.well-known/openid-configuration`)).status, 404);
  const malformed = await t.admin("POST", "/admin/tenants/acme/workspaces/main/clients");
  assert.equal(malformed.status, 400);
  const r = await fetch(`${t.base}/admin/tenants/acme/workspaces/main/clients`, { method: "POST", headers: { authorization: `Bearer ${t.rootSecret}`, "content-type": "application/json" }, body: '{"client_id": "half", "redirect_uris": [' });
  assert.equal(r.status, 400);
  const cc = await form(`${issuer}/token`, { grant_type: "client_credentials" }, { authorization: basic("half", "x") });
  assert.equal(cc.status, 401, "the half-sent client does not exist");
});

test("an invalid workspace configuration is refused, naming the field, and nothing changes", async () => {
  const before = await t.admin("GET", "/admin/tenants/acme/workspaces/main");
  const r = await t.admin("PUT", "/admin/tenants/acme/workspaces/main", { access_token_ttl: -5 });
  assert.equal(r.status, 400);
  assert.match(r.text, /access_token_ttl/);
  const afterwards = await t.admin("GET", "/admin/tenants/acme/workspaces/main");
  assert.deepEqual(afterwards.json, before.json);
});

test("unknown paths are 404 and wrong methods 405, as JSON", async () => {
  const nf = await raw("/nothing-here", { method: "GET" });
  assert.equal(nf.status, 404);
  assert.equal((await json(nf)).error, "not_found");
  const m = await raw("/token", { method: "GET" });
  assert.equal(m.status, 405);
  assert.ok((await json(m)).error);
});

test("a sweep of hostile input over every endpoint never yields a 5xx", async () => {
  const bodies = ["", "%", "a=%ff%fe", "=&=&=", "grant_type=", "grant_type=authorization_code&code=", "grant_type=refresh_token&refresh_token=" + "x".repeat(3000),
    "token=" + "\u0000".repeat(10), "client_id=web&client_secret=" + "é".repeat(100), "{\"json\":true}", "a=" + "%00".repeat(50), "interaction=AAAA", "interaction=" + "A".repeat(4000)];
  const headerSets = [{}, { "content-type": "application/x-www-form-urlencoded" }, { "content-type": "application/x-www-form-urlencoded", authorization: basic("web", secret) }, { authorization: "Bearer " }, { cookie: "ea_session=garbage; ea_csrf=garbage" }];
  const paths = ["/token", "/introspect", "/revoke", "/userinfo", "/login", "/consent", "/logout", "/authorize", "/app/consents/withdraw"];
  const failures = [];
  for (const path of paths) {
    for (const body of bodies) {
      for (const headers of headerSets) {
        const r = await raw(path, { body, headers });
        if (r.status >= 500) failures.push(`${path} ${JSON.stringify(headers)} ${JSON.stringify(body.slice(0, 40))} -> ${r.status}`);
        await r.arrayBuffer();
      }
    }
    for (const q of ["?", "?%", "?a=%zz", "?response_type=code&client_id=%00", "?client_id=web&redirect_uri=javascript:alert(1)", "?" + "a=1&".repeat(500)]) {
      const r = await raw(path + q, { method: "GET" });
      if (r.status >= 500) failures.push(`GET ${path}${q.slice(0, 40)} -> ${r.status}`);
      await r.arrayBuffer();
    }
  }
  assert.deepEqual(failures, []);
});

test("each failed request is one structured log line: where, what kind, no secret", async () => {
  const before = t.failures.length;
  const r = await raw("/token", { body: "grant_type=authorization_code&code=nope&redirect_uri=x", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic("web", secret), "x-request-id": "req-4711" } });
  assert.equal((await json(r)).error, "invalid_grant");
  // The line is written before the response leaves; allow the log pipe a moment.
  for (let i = 0; i < 50 && t.failures.length === before; i++) await new Promise((res) => setTimeout(res, 20));
  const line = t.failures.slice(before).find((f) => f.request_id === "req-4711");
  assert.ok(line, `no log line: ${JSON.stringify(t.failures.slice(before))}`);
  assert.deepEqual([line.tenant, line.workspace, line.endpoint, line.status, line.kind], ["acme", "main", "token", 400, "invalid_grant"]);
  assert.equal(line.cause, null, "a client's mistake has no cause of ours");
  assert.ok(!JSON.stringify(line).includes(secret), "the client secret is not logged");
  // A success writes nothing.
  const count = t.failures.length;
  assert.equal((await form(`${issuer}/token`, { grant_type: "client_credentials", scope: "api" }, { authorization: basic("web", secret) })).status, 200);
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(t.failures.length, count);
});

test("a workspace configuration that is not a JSON object is refused and changes nothing", async () => {
  await t.workspace("acme", "shaped", { access_token_ttl: 1234 });
  for (const body of ["", "[]", "[1]", "null", "7"]) {
    const r = await fetch(`${t.base}/admin/tenants/acme/workspaces/shaped`, { method: "PUT", headers: { authorization: `Bearer ${t.rootSecret}`, "content-type": "application/json" }, body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status}`);
    assert.equal((await json(r)).error, "invalid_request");
  }
  assert.equal((await t.admin("GET", "/admin/tenants/acme/workspaces/shaped")).json.access_token_ttl, 1234);
});

test("every answer says nosniff; over plain http there is no Strict-Transport-Security", async () => {
  const answers = [
    await fetch(`${issuer}/.well-known/openid-configuration`),
    await fetch(`${issuer}/jwks`),
    await raw("/token", { body: "grant_type=nope", headers: { "content-type": "application/x-www-form-urlencoded" } }),
    await raw("/authorize?client_id=nobody", { method: "GET" }),
    await fetch(`${t.base}/api/tenants`),
    await fetch(`${t.base}/no/such/thing`),
  ];
  for (const r of answers) {
    assert.equal(r.headers.get("x-content-type-options"), "nosniff", `${r.url} ${r.status}`);
    assert.equal(r.headers.get("strict-transport-security"), null, r.url);
  }
});

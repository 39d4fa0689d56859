// The management API's access model: the root secret bootstraps the first system client; every
// other call needs a live access token of the system workspace with the right scope, limited to
// its tenant when the client is bound to one. Refusals are problem documents and change nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, basic, form } from "../support/target.mjs";
import { api, bootstrap, systemToken, systemClient, must, assertProblem } from "../support/management.mjs";

let t, sys;

before(async () => {
  t = await startTarget();
});
after(() => t.stop());

test("bootstrap needs the root secret; a refused bootstrap creates nothing", async () => {
  for (const raw of [undefined, "Bearer not-the-root-secret-at-all", `Basic ${Buffer.from("x:" + t.rootSecret).toString("base64")}`]) {
    const r = await api(t, null, "POST", "/api/bootstrap", {}, raw === undefined ? {} : { raw });
    assertProblem(assert, r, 401, "unauthorized");
  }
  assert.equal((await fetch(`${t.base}/system/system/.well-known/openid-configuration`)).status, 404, "no system workspace yet");
  sys = await bootstrap(t, { client_id: "ops" });
  assert.equal(sys.client_id, "ops");
  assert.ok(sys.client_secret.length >= 43, "a 256-bit secret, shown once");
  assert.equal(sys.token_endpoint, `${t.base}/system/system/token`);
  assert.deepEqual(sys.scope.split(" ").sort(), ["manage_administrators", "manage_clients", "manage_openbanking_consents", "manage_organizations", "manage_tenants", "manage_users", "manage_workspaces"]);
  sys.token = await systemToken(t, "ops", sys.client_secret);
  // A second bootstrap call adds a client; the same client_id twice is a conflict.
  assertProblem(assert, await api(t, t.rootSecret, "POST", "/api/bootstrap", { client_id: "ops" }), 409, "conflict");
  // The secret is not readable afterwards.
  const got = await must(t, sys.token)("GET", "/api/tenants/system/workspaces/system/clients/ops");
  assert.equal(got.client_secret, undefined);
});

test("without a token, with a malformed one, or with the root secret as a token: 401 with a Bearer challenge", async () => {
  for (const opts of [{}, { raw: "Bearer" }, { raw: "Bearer abc.def.ghi" }, { raw: `Bearer ${t.rootSecret}` }, { raw: `Basic ${Buffer.from("ops:" + sys.client_secret).toString("base64")}` }]) {
    const r = await api(t, null, "GET", "/api/tenants", undefined, opts);
    assertProblem(assert, r, 401, "unauthorized");
    assert.match(r.headers.get("www-authenticate"), /^Bearer /);
  }
});

test("a token of another workspace is refused, even with a management scope, and writes nothing", async () => {
  await must(t, sys.token)("POST", "/api/tenants", { id: "acme" });
  await must(t, sys.token)("POST", "/api/tenants/acme/workspaces", { id: "main" });
  const c = await must(t, sys.token)("POST", "/api/tenants/acme/workspaces/main/clients", { client_id: "imposter", grant_types: ["client_credentials"], scope: "manage_tenants" });
  const r = await form(`${t.base}/acme/main/token`, { grant_type: "client_credentials" }, { authorization: basic("imposter", c.client_secret) });
  assert.equal(r.json.scope, "manage_tenants");
  const refused = await api(t, r.json.access_token, "POST", "/api/tenants", { id: "evil" });
  assertProblem(assert, refused, 401, "unauthorized");
  assert.equal((await api(t, sys.token, "GET", "/api/tenants/evil")).status, 404, "nothing was created");
});

test("an under-scoped token gets 403 naming the scope, and changes nothing", async () => {
  const narrow = await systemClient(t, { client_id: "users-only", scope: "manage_users" });
  const r = await api(t, narrow.token, "POST", "/api/tenants", { id: "nope" });
  assertProblem(assert, r, 403, "forbidden");
  assert.equal(r.json.required_scope, "manage_tenants");
  assert.equal((await api(t, sys.token, "GET", "/api/tenants/nope")).status, 404);
  // A token asked for a subset of the client's scopes holds only that subset.
  const sub = await systemToken(t, "ops", sys.client_secret, "manage_users");
  assertProblem(assert, await api(t, sub, "DELETE", "/api/tenants/acme"), 403, "forbidden");
  assert.equal((await api(t, sys.token, "GET", "/api/tenants/acme")).status, 200, "still there");
});

test("a tenant administrator's token reaches its own tenant only", async () => {
  await must(t, sys.token)("POST", "/api/tenants", { id: "other" });
  await must(t, sys.token)("POST", "/api/tenants/other/workspaces", { id: "main" });
  const admin = await systemClient(t, { client_id: "acme-admin", managed_tenant: "acme" });
  const call = (m, p, b) => api(t, admin.token, m, p, b);
  assert.equal((await call("GET", "/api/tenants/acme")).status, 200);
  assert.equal((await call("POST", "/api/tenants/acme/workspaces", { id: "second" })).status, 201);
  for (const [m, p, b] of [
    ["GET", "/api/tenants/other"],
    ["PUT", "/api/tenants/other", { name: "mine now" }],
    ["POST", "/api/tenants/other/workspaces", { id: "planted" }],
    ["GET", "/api/tenants/other/workspaces/main/config"],
    ["POST", "/api/tenants/other/workspaces/main/clients", { client_id: "x", grant_types: ["client_credentials"] }],
    ["GET", "/api/tenants/other/workspaces/main/users"],
    ["GET", "/api/tenants/no-such-tenant"],
    ["GET", "/api/tenants/system/workspaces/system/clients"],
    ["POST", "/api/tenants/system/workspaces/system/clients", { client_id: "escalate", grant_types: ["client_credentials"], scope: "manage_tenants" }],
  ]) {
    assertProblem(assert, await call(m, p, b), 403, "forbidden");
  }
  // Operations kept for the system: listing, creating and deleting tenants, feature flags, licenses.
  for (const [m, p, b] of [["GET", "/api/tenants"], ["POST", "/api/tenants", { id: "new" }], ["DELETE", "/api/tenants/acme"], ["PUT", "/api/tenants/acme/features", { tree_dump_tenant: true }]]) {
    assertProblem(assert, await call(m, p, b), 403, "forbidden");
  }
  const other = await must(t, sys.token)("GET", "/api/tenants/other");
  assert.equal(other.name, "");
  assert.equal((await api(t, sys.token, "GET", "/api/tenants/other/workspaces/planted")).status, 404);
  assert.equal((await api(t, sys.token, "GET", "/api/tenants/system/workspaces/system/clients/escalate")).status, 404);
  // A tenant administrator cannot be bound to the system tenant.
  assertProblem(assert, await api(t, t.rootSecret, "POST", "/api/bootstrap", { managed_tenant: "system" }), 400, "invalid-client-metadata");
});

test("deleting a system client, or revoking its token, ends its access at once", async () => {
  const temp = await systemClient(t, { client_id: "temp" });
  assert.equal((await api(t, temp.token, "GET", "/api/tenants")).status, 200);
  const revoked = await systemToken(t, "temp", temp.client_secret);
  const rv = await form(`${t.base}/system/system/revoke`, { token: revoked }, { authorization: basic("temp", temp.client_secret) });
  assert.equal(rv.status, 200);
  assertProblem(assert, await api(t, revoked, "GET", "/api/tenants"), 401, "unauthorized");
  assert.equal((await api(t, sys.token, "DELETE", "/api/tenants/system/workspaces/system/clients/temp")).status, 204);
  assertProblem(assert, await api(t, temp.token, "GET", "/api/tenants"), 401, "unauthorized");
});

test("narrowing a system client's scope takes effect for tokens already issued", async () => {
  const c = await systemClient(t, { client_id: "shrinking" });
  const meta = await must(t, sys.token)("GET", "/api/tenants/system/workspaces/system/clients/shrinking");
  await must(t, sys.token)("PUT", "/api/tenants/system/workspaces/system/clients/shrinking", { ...meta, scope: "manage_users" });
  assertProblem(assert, await api(t, c.token, "GET", "/api/tenants"), 403, "forbidden");
});

test("an expired token is refused (movable clock)", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const c = await systemClient(t, { client_id: "short" });
  await t.advanceClock(601);
  const r = await api(t, c.token, "GET", "/api/tenants");
  assertProblem(assert, r, 401, "unauthorized");
  assert.match(r.json.detail, /expired/);
  sys.token = await systemToken(t, "ops", sys.client_secret);
});

test("unknown management paths are 404 and wrong methods 405, as problem documents", async () => {
  assertProblem(assert, await api(t, sys.token, "GET", "/api/nothing-here"), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "PATCH", "/api/tenants"), 405, "method-not-allowed");
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants", "{not json"), 400, "invalid-request");
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants", "id=x", { contentType: "application/x-www-form-urlencoded" }), 415, "unsupported-media-type");
  // `api` is reserved: no tenant can take it and shadow the management API.
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants", { id: "api" }), 400, "invalid-request");
});

// Workspaces through the management API: create with fresh keys, get, list, rename, delete;
// configuration read and replace; RFC 6902 JSON Patch import with its error cases; the config
// clone behind the tenant's tree_dump_tenant flag; key rotation. Changes reach new requests
// without a redeploy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { basic, form } from "../support/target.mjs";
import { startManaged, api, assertProblem } from "../support/management.mjs";

let t, sys, call;
const W = "/api/tenants/acme/workspaces";

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme"] }));
});
after(() => t.stop());

const jwksKids = async (ws) => (await (await fetch(`${t.base}/acme/${ws}/jwks`)).json()).keys.map((k) => k.kid).sort();

test("create a workspace with fresh signing keys, get, list, rename and delete it", async () => {
  const r = await api(t, sys.token, "POST", W, { id: "main", name: "Main" });
  assert.equal(r.status, 201);
  assert.deepEqual({ ...r.json, created_at: 0 }, { id: "main", tenant: "acme", kind: "workspace", name: "Main", issuer: `${t.base}/acme/main`, created_at: 0 });
  assert.equal(r.headers.get("location"), `${W}/main`);
  const disco = await (await fetch(`${t.base}/acme/main/.well-known/openid-configuration`)).json();
  assert.equal(disco.issuer, `${t.base}/acme/main`);
  assert.equal((await jwksKids("main")).length, 3, "ES256, RS256 and PS256");
  await call("POST", W, { id: "second", config: { access_token_ttl: 120 } });
  assert.equal((await call("GET", `${W}/second/config`)).access_token_ttl, 120);
  assert.notDeepEqual(await jwksKids("second"), await jwksKids("main"), "keys are per workspace");
  assert.equal((await call("GET", `${W}/main`)).name, "Main");
  assert.deepEqual((await call("GET", `${W}?limit=1`)).items.map((w) => w.id), ["main"]);
  assert.deepEqual((await call("GET", `${W}?after=main`)).items.map((w) => w.id), ["second"]);
  assert.equal((await call("PUT", `${W}/second`, { name: "Second" })).name, "Second");
  assert.equal((await call("GET", `${W}/second/config`)).name, "Second");
  assertProblem(assert, await api(t, sys.token, "POST", W, { id: "main" }), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "POST", W, { id: "x", config: { access_token_ttl: 1 } }), 400, "invalid-configuration");
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants/nope/workspaces", { id: "x" }), 404, "not-found");
  assert.equal((await api(t, sys.token, "DELETE", `${W}/second`)).status, 204);
  assertProblem(assert, await api(t, sys.token, "GET", `${W}/second`), 404, "not-found");
  assert.equal((await fetch(`${t.base}/acme/second/.well-known/openid-configuration`)).status, 404);
  assertProblem(assert, await api(t, sys.token, "DELETE", "/api/tenants/system/workspaces/system"), 409, "conflict");
});

test("deleting a workspace deletes its identity pool: clients and users are gone, a new one starts empty", async () => {
  await call("POST", W, { id: "pool" });
  await call("POST", `${W}/pool/users`, { username: "ada", password: "correct horse battery" });
  await call("POST", `${W}/pool/clients`, { client_id: "svc", grant_types: ["client_credentials"], scope: "api" });
  await call("DELETE", `${W}/pool`);
  await call("POST", W, { id: "pool" });
  assert.deepEqual((await call("GET", `${W}/pool/users`)).items, []);
  assert.deepEqual((await call("GET", `${W}/pool/clients`)).items, []);
});

test("configuration: read and replace; an invalid document names the field and stores nothing", async () => {
  await call("POST", W, { id: "cfg" });
  const cfg = await call("GET", `${W}/cfg/config`);
  assert.equal(cfg.access_token_ttl, 600);
  const replaced = await call("PUT", `${W}/cfg/config`, { ...cfg, access_token_ttl: 300, name: "Configured" });
  assert.equal(replaced.access_token_ttl, 300);
  for (const [bad, field] of [[{ ...cfg, access_token_ttl: 5 }, "access_token_ttl"], [{ ...cfg, grant_types: ["implicit"] }, "grant_types"], [{ ...cfg, default_locale: "xx" }, "default_locale"]]) {
    const r = await api(t, sys.token, "PUT", `${W}/cfg/config`, bad);
    assertProblem(assert, r, 400, "invalid-configuration");
    assert.equal(r.json.field, field);
    assert.match(r.json.detail, new RegExp(field));
  }
  const unknown = await api(t, sys.token, "PUT", `${W}/cfg/config`, { ...cfg, no_such_field: 1 });
  assertProblem(assert, unknown, 400, "invalid-configuration");
  assert.match(unknown.json.detail, /no_such_field/);
  // Not an object (an empty body, an array, null): refused, never the defaults.
  for (const body of ["", "[]", "null"]) {
    const r = await api(t, sys.token, "PUT", `${W}/cfg/config`, body);
    assertProblem(assert, r, 400, "invalid-request");
  }
  assert.equal((await call("GET", `${W}/cfg/config`)).access_token_ttl, 300, "unchanged");
});

const patch = (ws, ops, contentType = "application/json-patch+json") => api(t, sys.token, "PATCH", `${W}/${ws}/config`, typeof ops === "string" ? ops : JSON.stringify(ops), { contentType });

test("JSON Patch import applies RFC 6902 and takes effect for the next token request", async () => {
  await call("POST", W, { id: "patched" });
  const c = await call("POST", `${W}/patched/clients`, { client_id: "svc", grant_types: ["client_credentials"], scope: "api" });
  const token = () => form(`${t.base}/acme/patched/token`, { grant_type: "client_credentials" }, { authorization: basic("svc", c.client_secret) });
  assert.equal((await token()).json.expires_in, 600);
  const r = await patch("patched", [
    { op: "test", path: "/access_token_ttl", value: 600 },
    { op: "replace", path: "/access_token_ttl", value: 120 },
    { op: "add", path: "/scopes/api", value: { description: "The API", claims: [] } },
    { op: "remove", path: "/scopes/phone" },
    { op: "copy", from: "/id_token_ttl", path: "/refresh_token_ttl" },
  ]);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.access_token_ttl, 120);
  assert.equal(r.json.refresh_token_ttl, r.json.id_token_ttl);
  assert.ok(r.json.scopes.api && !r.json.scopes.phone);
  assert.equal((await token()).json.expires_in, 120, "no redeploy, no wait");
  const disco = await (await fetch(`${t.base}/acme/patched/.well-known/openid-configuration`)).json();
  assert.ok(disco.scopes_supported.includes("api") && !disco.scopes_supported.includes("phone"));
});

test("a malformed patch answers 400 'failed to apply patch: Invalid JSON Patch' naming the failing operation, and stores nothing", async () => {
  await call("POST", W, { id: "strict" });
  const before = await call("GET", `${W}/strict/config`);
  const cases = [
    [{ op: "replace", path: "/access_token_ttl", value: 60 }, null, "an object, not an array"],
    [[{ op: "replace", path: "/access_token_ttl", value: 60 }, { op: "replace", path: "/no/such/path", value: 1 }], 1, "a path that does not exist"],
    [[{ op: "jump", path: "/x" }], 0, "an unknown op"],
    [[{ op: "add", value: 1 }], 0, "no path"],
    [[{ op: "add", path: "access_token_ttl", value: 1 }], 0, "a path that is not a pointer"],
    [[{ op: "replace", path: "/access_token_ttl" }], 0, "no value"],
    [[{ op: "test", path: "/access_token_ttl", value: 1 }], 0, "a failing test"],
    [[{ op: "move", from: "/nope", path: "/x" }], 0, "a missing from"],
    [[{ op: "add", path: "/grant_types/9", value: "x" }], 0, "an index out of bounds"],
    [[42], 0, "an operation that is not an object"],
    // Copying the document into itself doubles it per operation: refused before 64 KB, not after the memory is spent.
    // Which operation crosses it depends on the default document's size (5 since it holds the throttle limits).
    [Array.from({ length: 17 }, (_, i) => ({ op: "copy", from: "", path: `/c${i}` })), 5, "a document that would grow past 64 KB"],
  ];
  for (const [ops, index, why] of cases) {
    const r = await patch("strict", ops);
    assertProblem(assert, r, 400, "invalid-json-patch");
    assert.equal(r.json.title, "failed to apply patch: Invalid JSON Patch", why);
    assert.equal(r.json.error, "failed to apply patch: Invalid JSON Patch");
    assert.equal(r.json.details.operation, index, why);
  }
  const notJson = await patch("strict", "[{op: replace}");
  assertProblem(assert, notJson, 400, "invalid-json-patch");
  assert.equal(notJson.json.title, "failed to apply patch: Invalid JSON Patch");
  assertProblem(assert, await patch("strict", [], "text/plain"), 415, "unsupported-media-type");
  assert.deepEqual(await call("GET", `${W}/strict/config`), before, "nothing stored");
});

test("a patch that yields an invalid configuration answers 400 naming the field, and stores nothing", async () => {
  const before = await call("GET", `${W}/strict/config`);
  for (const [ops, field] of [
    [[{ op: "replace", path: "/access_token_ttl", value: 5 }], "access_token_ttl"],
    [[{ op: "remove", path: "/scopes/openid" }], "scopes"],
    [[{ op: "add", path: "/login/password_hashing/memory_kib", value: 1 }], "login.password_hashing.memory_kib"],
  ]) {
    const r = await patch("strict", ops);
    assertProblem(assert, r, 400, "invalid-configuration");
    assert.equal(r.json.field, field);
  }
  const typeErr = await patch("strict", [{ op: "replace", path: "/sso_enabled", value: "yes" }]);
  assertProblem(assert, typeErr, 400, "invalid-configuration");
  assert.deepEqual(await call("GET", `${W}/strict/config`), before);
});

test("config-clone is hidden (404) until the tenant's tree_dump_tenant flag is on", async () => {
  await call("POST", W, { id: "source", config: { access_token_ttl: 90, name: "Source" } });
  await call("POST", `${W}/source/clients`, { client_id: "svc", grant_types: ["client_credentials"], scope: "api" });
  const clone = (body) => api(t, sys.token, "POST", `${W}/source/promote/config-clone`, body);
  assertProblem(assert, await clone({ id: "copy" }), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "GET", `${W}/copy`), 404, "not-found");
  await call("PUT", "/api/tenants/acme/features", { tree_dump_tenant: true });
  const r = await clone({ id: "copy", name: "Copy" });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.issuer, `${t.base}/acme/copy`);
  const cfg = await call("GET", `${W}/copy/config`);
  assert.equal(cfg.access_token_ttl, 90);
  assert.equal(cfg.name, "Copy");
  assert.deepEqual((await call("GET", `${W}/copy/clients`)).items, [], "configuration only, not clients");
  assert.notDeepEqual(await jwksKids("copy"), await jwksKids("source"), "fresh keys");
  assertProblem(assert, await clone({ id: "copy" }), 409, "conflict");
  assertProblem(assert, await clone({ id: "Bad Id" }), 400, "invalid-request");
  await call("PUT", "/api/tenants/acme/features", {});
  assertProblem(assert, await clone({ id: "copy-2" }), 404, "not-found");
});

test("key rotation: new keys sign at once, old ones stay published until their tokens expire", async () => {
  await call("POST", W, { id: "keys" });
  const before = await jwksKids("keys");
  const r = await call("POST", `${W}/keys/keys/rotate`);
  assert.equal(r.active_kids.length, 3);
  const after = await jwksKids("keys");
  assert.equal(after.length, 6);
  assert.ok(before.every((k) => after.includes(k)));
  const listed = await call("GET", `${W}/keys/keys`);
  assert.equal(listed.items.filter((k) => k.retired_at === null).length, 3);
  assert.ok(listed.items.every((k) => !("private_key" in k) && !("d" in k.public_jwk)), "no private material");
});

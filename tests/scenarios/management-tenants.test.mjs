// Tenants through the management API: CRUD with pagination, the license (a one-year trial by
// default, changed only by the system), and feature flags.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startManaged, api, systemClient, assertProblem } from "../support/management.mjs";

let t, sys, call;
const YEAR = 365 * 86400 * 1000;

before(async () => {
  ({ t, sys, call } = await startManaged());
});
after(() => t.stop());

test("create, get, update and delete a tenant; a new tenant gets a one-year trial license", async () => {
  const created = await api(t, sys.token, "POST", "/api/tenants", { id: "acme", name: "Acme" });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get("location"), "/api/tenants/acme");
  const lic = created.json.license;
  assert.equal(lic.LicenseType, "trial");
  assert.match(lic.StartDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(Date.parse(lic.ExpirationDate) - Date.parse(lic.StartDate), YEAR);
  assert.deepEqual(await call("GET", "/api/tenants/acme"), created.json);
  const updated = await call("PUT", "/api/tenants/acme", { name: "Acme Corp" });
  assert.equal(updated.name, "Acme Corp");
  assert.deepEqual(updated.license, lic, "every tenant API returns the license");
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants", { id: "acme" }), 409, "conflict");
  for (const bad of [{ id: "Acme" }, { id: "a/b" }, { id: "" }, {}, { id: "x", unknown: 1 }, { id: "system" }]) {
    const r = await api(t, sys.token, "POST", "/api/tenants", bad);
    assert.ok([400, 409].includes(r.status), JSON.stringify(bad));
  }
  await call("POST", "/api/tenants/acme/workspaces", { id: "main" });
  assert.equal((await fetch(`${t.base}/acme/main/.well-known/openid-configuration`)).status, 200);
  assert.equal((await api(t, sys.token, "DELETE", "/api/tenants/acme")).status, 204);
  assertProblem(assert, await api(t, sys.token, "GET", "/api/tenants/acme"), 404, "not-found");
  assert.equal((await fetch(`${t.base}/acme/main/.well-known/openid-configuration`)).status, 404, "its workspaces went with it");
  assertProblem(assert, await api(t, sys.token, "DELETE", "/api/tenants/system"), 409, "conflict");
});

test("only the system changes a license; a tenant administrator reads it", async () => {
  await call("POST", "/api/tenants", { id: "lic" });
  const mine = await systemClient(t, { client_id: "lic-admin", managed_tenant: "lic" });
  const before = (await call("GET", "/api/tenants/lic")).license;
  const paid = { LicenseType: "enterprise", StartDate: "2024-01-01T00:00:00Z", ExpirationDate: "2030-01-01T00:00:00.5Z" };
  assertProblem(assert, await api(t, mine.token, "PUT", "/api/tenants/lic", { license: paid }), 403, "forbidden");
  assert.deepEqual((await api(t, mine.token, "GET", "/api/tenants/lic")).json.license, before, "unchanged");
  // Sending the license back unchanged is fine for a tenant administrator.
  assert.equal((await api(t, mine.token, "PUT", "/api/tenants/lic", { name: "L", license: before })).status, 200);
  const changed = await call("PUT", "/api/tenants/lic", { license: paid });
  assert.deepEqual(changed.license, { LicenseType: "enterprise", StartDate: "2024-01-01T00:00:00Z", ExpirationDate: "2030-01-01T00:00:00Z" });
  for (const bad of [{ ...paid, StartDate: "yesterday" }, { ...paid, ExpirationDate: "2020-01-01T00:00:00Z" }, { ...paid, LicenseType: "" }, { LicenseType: "x" }]) {
    assertProblem(assert, await api(t, sys.token, "PUT", "/api/tenants/lic", { license: bad }), 400, "invalid-request");
  }
  // An expired license is not enforced.
  await call("PUT", "/api/tenants/lic", { license: { LicenseType: "trial", StartDate: "2020-01-01T00:00:00Z", ExpirationDate: "2021-01-01T00:00:00Z" } });
  assert.equal((await api(t, mine.token, "POST", "/api/tenants/lic/workspaces", { id: "still-works" })).status, 201);
  // The system may set a license when creating a tenant.
  const withLicense = await call("POST", "/api/tenants", { id: "paid", license: paid });
  assert.equal(withLicense.license.LicenseType, "enterprise");
});

test("tenants are listed in pages", async () => {
  for (const id of ["p-1", "p-2", "p-3", "p-4", "p-5"]) await call("POST", "/api/tenants", { id });
  const seen = [];
  let after = "p-";
  for (;;) {
    const page = await call("GET", `/api/tenants?limit=2&after=${after}`);
    assert.ok(page.items.length <= 2);
    seen.push(...page.items.map((x) => x.id));
    if (!page.next) break;
    after = page.next;
  }
  assert.deepEqual(seen.filter((x) => x.startsWith("p-")), ["p-1", "p-2", "p-3", "p-4", "p-5"]);
  assert.ok(seen.includes("system"));
  assert.ok((await call("GET", "/api/tenants?limit=2&after=p-")).items.every((x) => x.license), "each item carries its license");
  for (const q of ["limit=0", "limit=101", "limit=x", "limit=1&limit=2"]) {
    assertProblem(assert, await api(t, sys.token, "GET", `/api/tenants?${q}`), 400, "invalid-request");
  }
});

test("feature flags: read by the tenant, set by the system", async () => {
  await call("POST", "/api/tenants", { id: "flags" });
  const mine = await systemClient(t, { client_id: "flags-admin", managed_tenant: "flags" });
  assert.deepEqual((await api(t, mine.token, "GET", "/api/tenants/flags/features")).json, {});
  assert.deepEqual(await call("PUT", "/api/tenants/flags/features", { tree_dump_tenant: true, other: false }), { other: false, tree_dump_tenant: true });
  assert.deepEqual((await api(t, mine.token, "GET", "/api/tenants/flags/features")).json, { other: false, tree_dump_tenant: true });
  assert.deepEqual((await call("GET", "/api/tenants/flags")).features, { other: false, tree_dump_tenant: true });
  for (const bad of [{ "Bad Name": true }, { x: "yes" }, [1], [], "", "null"]) {
    assertProblem(assert, await api(t, sys.token, "PUT", "/api/tenants/flags/features", bad), 400, "invalid-request");
  }
  assert.deepEqual((await api(t, mine.token, "GET", "/api/tenants/flags/features")).json, { other: false, tree_dump_tenant: true }, "a refused body changed nothing");
  assertProblem(assert, await api(t, sys.token, "GET", "/api/tenants/nope/features"), 404, "not-found");
});

test("a tenant made through the bootstrap /admin API is listed and has a trial license", async () => {
  await t.workspace("legacy", "main");
  const got = await call("GET", "/api/tenants/legacy");
  assert.equal(got.license.LicenseType, "trial");
  const ws = await call("GET", "/api/tenants/legacy/workspaces");
  assert.deepEqual(ws.items.map((w) => w.id), ["main"]);
});

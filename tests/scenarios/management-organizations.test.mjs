// Organizations (workspaces of kind organization) through the system-level API /api/organizations
// (token bound to a tenant, scope manage_organizations) and /api/tenants/{tid}/organizations;
// organization templates and creating an organization from one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startManaged, api, systemClient, must, assertProblem } from "../support/management.mjs";

let t, sys, call, acme;

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme", "other"] }));
  acme = await systemClient(t, { client_id: "acme-orgs", managed_tenant: "acme", scope: "manage_organizations" });
});
after(() => t.stop());

test("GET/POST /organizations and GET/PUT/DELETE /organizations/{wid} with a tenant-bound token", async () => {
  const org = must(t, acme.token);
  const r = await api(t, acme.token, "POST", "/api/organizations", { id: "partner-a", name: "Partner A" });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.kind, "organization");
  assert.equal(r.json.issuer, `${t.base}/acme/partner-a`);
  assert.equal(r.headers.get("location"), "/api/tenants/acme/organizations/partner-a");
  const disco = await (await fetch(`${t.base}/acme/partner-a/.well-known/openid-configuration`)).json();
  assert.equal(disco.issuer, `${t.base}/acme/partner-a`, "an organization is an authorization server");
  assert.deepEqual((await org("GET", "/api/organizations")).items.map((o) => o.id), ["partner-a"]);
  assert.equal((await org("GET", "/api/organizations/partner-a")).name, "Partner A");
  assert.equal((await org("PUT", "/api/organizations/partner-a", { name: "Partner A2" })).name, "Partner A2");
  assert.deepEqual((await call("GET", "/api/tenants/acme/organizations")).items.map((o) => o.name), ["Partner A2"]);
  // Organizations and workspaces share identifiers but not routes.
  assertProblem(assert, await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/partner-a"), 404, "not-found");
  assert.deepEqual((await call("GET", "/api/tenants/acme/workspaces")).items, []);
  assertProblem(assert, await api(t, acme.token, "POST", "/api/organizations", { id: "partner-a" }), 409, "conflict");
  assert.equal((await api(t, acme.token, "DELETE", "/api/organizations/partner-a")).status, 204);
  assertProblem(assert, await api(t, acme.token, "GET", "/api/organizations/partner-a"), 404, "not-found");
});

test("the organization API needs manage_organizations, and stays inside the token's tenant", async () => {
  const noScope = await systemClient(t, { client_id: "acme-ws", managed_tenant: "acme", scope: "manage_workspaces" });
  assertProblem(assert, await api(t, noScope.token, "GET", "/api/organizations"), 403, "forbidden");
  assertProblem(assert, await api(t, noScope.token, "POST", "/api/organizations", { id: "sneaky" }), 403, "forbidden");
  await call("POST", "/api/tenants/other/organizations", { id: "theirs" });
  assertProblem(assert, await api(t, acme.token, "GET", "/api/tenants/other/organizations/theirs"), 403, "forbidden");
  assertProblem(assert, await api(t, acme.token, "DELETE", "/api/tenants/other/organizations/theirs"), 403, "forbidden");
  assertProblem(assert, await api(t, acme.token, "GET", "/api/organizations/theirs"), 404, "not-found");
  assert.equal((await call("GET", "/api/tenants/other/organizations/theirs")).id, "theirs");
  // A system token not bound to a tenant must name the tenant.
  assertProblem(assert, await api(t, sys.token, "GET", "/api/organizations"), 400, "invalid-request");
  // Workspaces are another scope.
  assertProblem(assert, await api(t, acme.token, "POST", "/api/tenants/acme/workspaces", { id: "ws" }), 403, "forbidden");
});

test("organization templates: CRUD, and an organization created from one", async () => {
  const T = "/api/tenants/acme/organization-templates";
  const r = await api(t, acme.token, "POST", T, { id: "bank", name: "Bank", config: { access_token_ttl: 300, consent: { required: false, remember: true } } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.config.access_token_ttl, 300);
  assert.equal(r.json.config.id_token_ttl, 3600, "stored with defaults filled in");
  assertProblem(assert, await api(t, acme.token, "POST", T, { id: "bad", config: { access_token_ttl: 1 } }), 400, "invalid-configuration");
  assertProblem(assert, await api(t, acme.token, "POST", T, { id: "bank" }), 409, "conflict");
  const updated = await must(t, acme.token)("PUT", `${T}/bank`, { name: "Bank v2", config: { access_token_ttl: 240 } });
  assert.equal(updated.name, "Bank v2");
  assert.deepEqual((await must(t, acme.token)("GET", T)).items.map((x) => x.id), ["bank"]);
  const org = await must(t, acme.token)("POST", "/api/organizations", { id: "first-bank", name: "First Bank", template_id: "bank" });
  assert.equal(org.name, "First Bank");
  assert.equal((await call("GET", "/api/tenants/acme/workspaces/first-bank/config")).access_token_ttl, 240);
  assertProblem(assert, await api(t, acme.token, "POST", "/api/organizations", { id: "x", template_id: "nope" }), 400, "invalid-request");
  assertProblem(assert, await api(t, acme.token, "POST", "/api/organizations", { id: "x", template_id: "bank", config: {} }), 400, "invalid-request");
  assertProblem(assert, await api(t, acme.token, "GET", "/api/tenants/other/organization-templates"), 403, "forbidden");
  assert.equal((await api(t, acme.token, "DELETE", `${T}/bank`)).status, 204);
  assertProblem(assert, await api(t, acme.token, "GET", `${T}/bank`), 404, "not-found");
  assert.equal((await call("GET", "/api/tenants/acme/workspaces/first-bank/config")).access_token_ttl, 240, "organizations keep their configuration");
});

// Workspace administrators: invited with a one-time token that sets up an account in the system
// workspace; they sign in there and call the management API with the roles they hold.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { userTokens } from "../support/signin.mjs";
import { startManaged, api, systemClient, assertProblem } from "../support/management.mjs";

let t, sys, call;
const A = "/api/tenants/acme/workspaces/main/administrators";
const REDIRECT = "http://127.0.0.1:9/cb";

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme"], workspaces: { acme: ["main", "second"] } }));
  // The administrators' sign-in client: public, PKCE, in the system workspace.
  await call("POST", "/api/tenants/system/workspaces/system/clients", { client_id: "console", token_endpoint_auth_method: "none", redirect_uris: [REDIRECT], scope: "openid", skip_consent: true });
});
after(() => t.stop());

const signIn = async (username, password) =>
  (await userTokens(`${t.base}/system/system`, { client_id: "console", redirect_uri: REDIRECT, scope: "openid", username, password, auth: { fields: { client_id: "console" } } })).access_token;

test("invite an administrator, accept, sign in, and manage the workspace with the role's rights", async () => {
  const inv = await api(t, sys.token, "POST", A, { username: "Grace@Example.com", role: "manager" });
  assert.equal(inv.status, 201, inv.text);
  assert.equal(inv.json.username, "grace@example.com");
  assert.equal(inv.json.accept_url, `${t.base}/api/invitations/accept`);
  // A missing password does not burn the invitation.
  assertProblem(assert, await api(t, null, "POST", "/api/invitations/accept", { token: inv.json.invitation_token }), 400, "invalid-request");
  const acc = await api(t, null, "POST", "/api/invitations/accept", { token: inv.json.invitation_token, password: "grace's password" });
  assert.equal(acc.status, 200, acc.text);
  assert.deepEqual({ ...acc.json, user_id: "" }, { user_id: "", username: "grace@example.com", tenant: "acme", workspace: "main", role: "manager" });
  assertProblem(assert, await api(t, null, "POST", "/api/invitations/accept", { token: inv.json.invitation_token, password: "grace's password" }), 400, "invalid-request");

  const grace = await signIn("grace@example.com", "grace's password");
  const g = (m, p, b) => api(t, grace, m, p, b);
  assert.equal((await g("POST", "/api/tenants/acme/workspaces/main/clients", { client_id: "by-grace", grant_types: ["client_credentials"] })).status, 201);
  assert.equal((await g("GET", "/api/tenants/acme/workspaces/main/users")).status, 200);
  // A manager does not configure the workspace, invite administrators, or reach other workspaces.
  assertProblem(assert, await g("PATCH", "/api/tenants/acme/workspaces/main/config", [{ op: "replace", path: "/access_token_ttl", value: 60 }]), 403, "forbidden");
  assertProblem(assert, await g("POST", A, { username: "mallory", role: "admin" }), 403, "forbidden");
  assertProblem(assert, await g("GET", "/api/tenants/acme/workspaces/second/clients"), 403, "forbidden");
  assertProblem(assert, await g("GET", "/api/tenants/acme"), 403, "forbidden");
  assertProblem(assert, await g("GET", "/api/tenants"), 403, "forbidden");
  assert.equal((await call("GET", "/api/tenants/acme/workspaces/main/config")).access_token_ttl, 600, "unchanged");

  // List administrators; change the role; the next call sees it.
  const list = await call("GET", A);
  assert.deepEqual(list.items.map((a) => [a.username, a.role]), [["grace@example.com", "manager"]]);
  const id = list.items[0].user_id;
  assert.equal((await call("PUT", `${A}/${id}`, { role: "auditor" })).role, "auditor");
  assertProblem(assert, await g("POST", "/api/tenants/acme/workspaces/main/clients", { client_id: "by-auditor", grant_types: ["client_credentials"] }), 403, "forbidden");
  assert.equal((await g("GET", "/api/tenants/acme/workspaces/main/clients")).status, 200, "an auditor reads");
  await call("PUT", `${A}/${id}`, { role: "admin" });
  assert.equal((await g("PATCH", "/api/tenants/acme/workspaces/main/config", JSON.stringify([{ op: "replace", path: "/access_token_ttl", value: 60 }]))).status, 200);
  assert.equal((await g("GET", A)).status, 200);
  assertProblem(assert, await api(t, sys.token, "PUT", `${A}/${id}`, { role: "owner" }), 400, "invalid-request");
  assertProblem(assert, await api(t, sys.token, "PUT", `${A}/nobody`, { role: "admin" }), 404, "not-found");
  // Removing the role ends the access.
  assert.equal((await api(t, sys.token, "DELETE", `${A}/${id}`)).status, 204);
  assertProblem(assert, await g("GET", "/api/tenants/acme/workspaces/main/clients"), 403, "forbidden");
});

test("an existing administrator accepts a second invitation without a new password", async () => {
  const inv = await call("POST", "/api/tenants/acme/workspaces/second/administrators", { username: "grace@example.com", role: "auditor" });
  const acc = await api(t, null, "POST", "/api/invitations/accept", { token: inv.invitation_token });
  assert.equal(acc.status, 200, acc.text);
  const grace = await signIn("grace@example.com", "grace's password");
  assert.equal((await api(t, grace, "GET", "/api/tenants/acme/workspaces/second/clients")).status, 200);
});

test("invitations: bad roles, unknown workspaces, garbage tokens, and who may invite", async () => {
  assertProblem(assert, await api(t, sys.token, "POST", A, { username: "x", role: "root" }), 400, "invalid-request");
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants/acme/workspaces/nope/administrators", { username: "x", role: "admin" }), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "POST", "/api/tenants/system/workspaces/system/administrators", { username: "x", role: "admin" }), 400, "invalid-request");
  for (const token of ["", "x".repeat(43)]) {
    assertProblem(assert, await api(t, null, "POST", "/api/invitations/accept", { token, password: "some password" }), 400, "invalid-request");
  }
  const noAdmins = await systemClient(t, { client_id: "no-admins", scope: "manage_clients" });
  assertProblem(assert, await api(t, noAdmins.token, "POST", A, { username: "x", role: "admin" }), 403, "forbidden");
  await call("POST", "/api/tenants", { id: "other" });
  const foreign = await systemClient(t, { client_id: "other-admin", managed_tenant: "other" });
  assertProblem(assert, await api(t, foreign.token, "POST", A, { username: "x", role: "admin" }), 403, "forbidden");
  assertProblem(assert, await api(t, foreign.token, "GET", A), 403, "forbidden");
});

// Identity providers, the authentication context and the claims lineage through the management API
// (and the bootstrap API's whole-document replace): what an administrator sees and what a refused
// write leaves behind (nothing). Secrets are written, never read back. Users' links to providers
// and activation of pending users. The sign-in through a provider is in the federation scenarios.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startManaged, api, systemClient, assertProblem } from "../support/management.mjs";

let t, sys, call;
const W = (w) => `/api/tenants/acme/workspaces/${w}`;
const P = (w, id = "") => `${W(w)}/identity-providers${id ? `/${id}` : ""}`;
const SECRET = "upstream-client-secret-0123456789";

const corp = (over = {}) => ({ id: "corp", type: "oidc", name: "Corp SSO", issuer: "https://idp.corp.example", client_id: "edge", client_secret: SECRET, domains: ["corp.example"], order: 2, ...over });
const github = { id: "gh", type: "oauth2", name: "GitHub", authorization_endpoint: "https://github.example/login/oauth/authorize", token_endpoint: "https://github.example/login/oauth/access_token", userinfo_endpoint: "https://api.github.example/user", subject_attribute: "id", client_id: "gh-app", client_secret: "gh-secret-abcdef", token_endpoint_auth_method: "client_secret_post", order: 1 };
const staff = { id: "staff", type: "workspace", name: "Staff", workspace: "staff", order: 3 };

/** Asserts a 400 problem naming `field` (a validation error), and that the text leaks no secret. */
function assertInvalid(r, field) {
  assertProblem(assert, r, 400, "invalid-configuration");
  if (field) assert.equal(r.json.field, field, r.text);
  assert.ok(!r.text.includes(SECRET), "the secret is not echoed");
}

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme", "beta"], workspaces: { acme: ["main", "staff", "other", "ctx"], beta: ["elsewhere"] } }));
});
after(() => t.stop());

test("create, list in page order, read, replace and delete providers; a secret is never returned", async () => {
  const r = await api(t, sys.token, "POST", P("main"), corp());
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get("location"), P("main", "corp"));
  assert.equal(r.json.client_secret_set, true);
  assert.equal(r.json.enabled, true, "enabled by default");
  for (const k of ["client_secret", "client_secret_sealed"]) assert.ok(!(k in r.json), k);
  assert.ok(!r.text.includes(SECRET));
  await call("POST", P("main"), github);
  await call("POST", P("main"), staff);

  const list = await api(t, sys.token, "GET", P("main"));
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.items.map((p) => p.id), ["gh", "corp", "staff"], "order ascending");
  assert.equal(list.json.next, null);
  assert.ok(!list.text.includes(SECRET) && !list.text.includes("gh-secret-abcdef") && !list.text.includes("sealed"));
  assert.deepEqual(list.json.items.map((p) => p.client_secret_set), [true, true, false]);

  const one = await call("GET", P("main", "corp"));
  assert.deepEqual(one, r.json);

  // Replace without a secret (what GET shows, edited): the stored secret stays.
  const edited = { ...one, name: "Corp", scopes: ["openid", "email"] };
  delete edited.id;
  const put = await api(t, sys.token, "PUT", P("main", "corp"), edited);
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.name, "Corp");
  assert.equal(put.json.client_secret_set, true, "the secret not sent is kept");
  assert.equal((await call("GET", P("main", "corp"))).client_secret_set, true);
  // A new secret replaces it, and is not shown either.
  const rotated = await api(t, sys.token, "PUT", P("main", "corp"), corp({ name: "Corp", client_secret: "a-brand-new-secret" }));
  assert.equal(rotated.status, 200);
  assert.ok(!rotated.text.includes("a-brand-new-secret"));

  assertInvalid(await api(t, sys.token, "PUT", P("main", "corp"), corp({ id: "other" })), "identity_providers.id");
  assertProblem(assert, await api(t, sys.token, "PUT", P("main", "nope"), corp({ id: "nope" })), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "POST", P("main"), corp({ domains: [] })), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "GET", P("main", "nope")), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "GET", P("nowhere")), 404, "not-found");

  assert.equal((await api(t, sys.token, "DELETE", P("main", "gh"))).status, 204);
  assertProblem(assert, await api(t, sys.token, "GET", P("main", "gh")), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "DELETE", P("main", "gh")), 404, "not-found");
  assert.deepEqual((await call("GET", P("main"))).items.map((p) => p.id), ["corp", "staff"]);
});

test("invalid providers are refused with the field named, and nothing is written", async () => {
  await call("POST", P("other"), corp());
  const before = await call("GET", P("other"));
  for (const [body, field] of [
    [corp({ id: "u", domains: [], issuer: "https://admin@idp.corp.example" }), "identity_providers.u.issuer"],
    [corp({ id: "h", domains: [], issuer: "http://idp.public.example" }), "identity_providers.h.issuer"],
    [corp({ id: "d", domains: ["corp.example"] }), "identity_providers.d.domains"],
    [corp({ id: "m", domains: [], attributes: [{ name: "crm", type: "string" }], mappings: [{ source: "crm", target: "no_such_attribute" }] }), "identity_providers.m.mappings.target"],
    [corp({ id: "s", domains: [], client_secret: undefined, client_secret_sealed: "v1.planted" }), "identity_providers.client_secret_sealed"],
    [corp({ id: "n", domains: [], client_secret: undefined }), "identity_providers.n.client_secret"],
    [{ ...staff, id: "w1", workspace: "missing" }, "identity_providers.w1.workspace"],
    [{ ...staff, id: "w2", workspace: "other" }, "identity_providers.w2.workspace"],
    [corp({ id: "Bad Id", domains: [] }), "identity_providers.id"],
  ]) {
    assertInvalid(await api(t, sys.token, "POST", P("other"), body), field);
  }
  for (const body of [corp({ id: "x", domains: [], extra: 1 }), { ...corp({ id: "y", domains: [] }), type: "saml" }, [corp()], "not json"]) {
    const r = await api(t, sys.token, "POST", P("other"), body);
    assert.equal(r.status, 400, r.text);
    assert.ok(!r.text.includes(SECRET));
  }
  // The same for a replace.
  assertInvalid(await api(t, sys.token, "PUT", P("other", "corp"), corp({ issuer: "https://u:p@idp.corp.example" })), "identity_providers.corp.issuer");
  // A workspace of another tenant is not one of this tenant's.
  assertInvalid(await api(t, sys.token, "POST", P("other"), { ...staff, id: "b", workspace: "elsewhere" }), "identity_providers.b.workspace");
  assert.deepEqual(await call("GET", P("other")), before, "nothing was written");
});

test("enable, disable, rename and reorder with a merge patch", async () => {
  const merge = { contentType: "application/merge-patch+json" };
  const off = await api(t, sys.token, "PATCH", P("main", "corp"), { enabled: false }, merge);
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.enabled, false);
  assert.equal(off.json.client_secret_set, true, "a patch keeps the secret");
  assert.equal(off.json.issuer, "https://idp.corp.example", "and every other member");
  const moved = await call("PATCH", P("main", "staff"), { order: -5, name: "Staff accounts" });
  assert.equal(moved.name, "Staff accounts");
  assert.deepEqual((await call("GET", P("main"))).items.map((p) => [p.id, p.enabled]), [["staff", true], ["corp", false]]);
  assert.equal((await call("PATCH", P("main", "corp"), { enabled: true })).enabled, true);

  const before = await call("GET", P("main"));
  for (const [body, status] of [[{ enabled: null }, 400], [{ issuer: "https://x.example" }, 400], [{ order: 5000 }, 400], [{ name: "" }, 400], [{ enabled: "yes" }, 400], [[1], 400]]) {
    const r = await api(t, sys.token, "PATCH", P("main", "corp"), body, merge);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
  }
  assertProblem(assert, await api(t, sys.token, "PATCH", P("main", "corp"), "enabled=false", { contentType: "text/plain" }), 415, "unsupported-media-type");
  assertProblem(assert, await api(t, sys.token, "PATCH", P("main", "nope"), { enabled: false }, merge), 404, "not-found");
  assert.deepEqual(await call("GET", P("main")), before, "nothing was written");
});

test("a user's identities: listed, unlinked, and gone with their provider", async () => {
  const u = await t.user("acme", "main", { username: "linked", identities: [{ idp: "corp", subject: "c-1" }, { idp: "staff", subject: "s-1" }] });
  const I = `${W("main")}/users/${u.id}/identities`;
  const links = (await call("GET", I)).items;
  assert.deepEqual(links.map((l) => [l.idp, l.subject]), [["corp", "c-1"], ["staff", "s-1"]]);
  assert.ok(links.every((l) => Number.isInteger(l.created_at)));
  assert.equal((await api(t, sys.token, "DELETE", `${I}/staff`)).status, 204);
  assertProblem(assert, await api(t, sys.token, "DELETE", `${I}/staff`), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "GET", `${W("main")}/users/nobody/identities`), 404, "not-found");
  assert.deepEqual((await call("GET", I)).items.map((l) => l.idp), ["corp"]);
  // The bootstrap aid refuses a provider the workspace does not have.
  assert.equal((await t.admin("POST", "/admin/tenants/acme/workspaces/main/users", { username: "x", identities: [{ idp: "nope", subject: "1" }] })).status, 400);

  // Deleting the provider deletes its links: recreated, it does not find the user again.
  await call("DELETE", P("main", "corp"));
  assert.deepEqual((await call("GET", I)).items, []);
  await call("POST", P("main"), corp());
  assert.deepEqual((await call("GET", I)).items, []);

  // Operational attributes on every user answer.
  const got = await call("GET", `${W("main")}/users/${u.id}`);
  assert.deepEqual([got.created_by, got.pending, got.last_auth_at, got.last_idp], ["administrator", false, null, null]);
  const listed = (await call("GET", `${W("main")}/users?q=linked`)).items[0];
  assert.equal(listed.created_by, "administrator");
});

test("a pending user is activated once; others are not pending", async () => {
  const pending = await t.user("acme", "main", { username: "newcomer", pending: true, claims: { email: "newcomer@corp.example" } });
  const U = `${W("main")}/users/${pending.id}`;
  const got = await call("GET", U);
  assert.deepEqual([got.created_by, got.pending], ["provisioned", true]);
  const r = await api(t, sys.token, "POST", `${U}/activate`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.pending, false);
  assert.equal(r.json.id, pending.id);
  assertProblem(assert, await api(t, sys.token, "POST", `${U}/activate`), 409, "conflict");
  const admins = await api(t, sys.token, "POST", `${W("main")}/users`, { username: "made-by-api" });
  assert.deepEqual([admins.json.created_by, admins.json.pending], ["administrator", false]);
  assertProblem(assert, await api(t, sys.token, "POST", `${W("main")}/users/${admins.json.id}/activate`), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "POST", `${W("main")}/users/nobody/activate`), 404, "not-found");
  // Only the bootstrap API makes a pending user.
  assert.equal((await api(t, sys.token, "POST", `${W("main")}/users`, { username: "sneaky", pending: true })).status, 400);
});

test("deleting a workspace deletes its providers and the providers that sign users in there", async () => {
  await call("POST", "/api/tenants/acme/workspaces", { id: "pool" });
  await call("POST", P("pool"), corp());
  await call("POST", P("other"), { ...staff, id: "to-pool", workspace: "pool" });
  await call("POST", P("main"), { ...staff, id: "to-pool", workspace: "pool" });
  const u = await t.user("acme", "main", { username: "pooled", identities: [{ idp: "to-pool", subject: "p-1" }] });
  assert.equal((await api(t, sys.token, "DELETE", `${W("pool")}`)).status, 204);
  assert.deepEqual((await call("GET", P("other"))).items.map((p) => p.id), ["corp"]);
  assert.ok(!(await call("GET", P("main"))).items.some((p) => p.id === "to-pool"));
  assert.deepEqual((await call("GET", `${W("main")}/users/${u.id}/identities`)).items, [], "their links went too");
  // A workspace made again under the name starts with no providers.
  await call("POST", "/api/tenants/acme/workspaces", { id: "pool" });
  assert.deepEqual((await call("GET", P("pool"))).items, []);
});

test("the authentication context: custom attributes added, changed and deleted; predefined ones read-only", async () => {
  const C = `${W("ctx")}/authn-context`;
  const ctx = await call("GET", C);
  const email = ctx.attributes.find((a) => a.name === "email");
  assert.deepEqual([email.type, email.predefined], ["string", true]);
  assert.equal(ctx.schema.additionalProperties, false);
  assert.equal(ctx.schema.properties.auth_time.type, "integer");

  const r = await api(t, sys.token, "POST", `${C}/attributes`, { name: "crm_id", type: "string", description: "The CRM's customer id" });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get("location"), `${C}/attributes/crm_id`);
  assert.deepEqual(r.json, { name: "crm_id", type: "string", description: "The CRM's customer id", predefined: false });
  assert.equal((await call("GET", C)).schema.properties.crm_id.type, "string");
  assert.deepEqual((await call("GET", `${W("ctx")}/config`)).authn_context.attributes.map((a) => a.name), ["crm_id"], "stored in the configuration");

  const before = await call("GET", C);
  assertProblem(assert, await api(t, sys.token, "POST", `${C}/attributes`, { name: "crm_id", type: "integer" }), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "POST", `${C}/attributes`, { name: "email", type: "string" }), 409, "conflict");
  assertInvalid(await api(t, sys.token, "POST", `${C}/attributes`, { name: "bad name", type: "string" }), "authn_context.attributes");
  assertInvalid(await api(t, sys.token, "POST", `${C}/attributes`, { name: "tags", type: "string", items: "string" }), "authn_context.attributes");
  assert.equal((await api(t, sys.token, "POST", `${C}/attributes`, { name: "x", type: "uuid" })).status, 400);
  assertProblem(assert, await api(t, sys.token, "PUT", `${C}/attributes/email`, { type: "integer" }), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "DELETE", `${C}/attributes/email`), 409, "conflict");
  assertProblem(assert, await api(t, sys.token, "PUT", `${C}/attributes/nope`, { type: "integer" }), 404, "not-found");
  assertProblem(assert, await api(t, sys.token, "DELETE", `${C}/attributes/nope`), 404, "not-found");
  assertInvalid(await api(t, sys.token, "PUT", `${C}/attributes/crm_id`, { name: "crm", type: "integer" }), "authn_context.attributes");
  assert.deepEqual(await call("GET", C), before, "nothing was written");

  const changed = await call("PUT", `${C}/attributes/crm_id`, { type: "array", items: "string" });
  assert.deepEqual(changed, { name: "crm_id", type: "array", items: "string", predefined: false });

  // In use by a claim rule, then by a provider's mapping: 409 saying which.
  await call("PUT", `${W("ctx")}/claims`, [{ claim: "crm", attribute: "crm_id", id_token: true, userinfo: true }]);
  let refused = await api(t, sys.token, "DELETE", `${C}/attributes/crm_id`);
  assertProblem(assert, refused, 409, "conflict");
  assert.match(refused.json.detail, /claim rule 'crm'/);
  await call("PUT", `${W("ctx")}/claims`, []);
  await call("POST", P("ctx"), corp({ attributes: [{ name: "crm", type: "string" }], mappings: [{ source: "crm", target: "crm_id" }] }));
  refused = await api(t, sys.token, "DELETE", `${C}/attributes/crm_id`);
  assertProblem(assert, refused, 409, "conflict");
  assert.match(refused.json.detail, /identity provider 'corp'/);
  await call("DELETE", P("ctx", "corp"));
  assert.equal((await api(t, sys.token, "DELETE", `${C}/attributes/crm_id`)).status, 204);
  assert.equal((await call("GET", C)).schema.properties.crm_id, undefined);
});

test("the claims lineage is replaced whole and validated", async () => {
  const L = `${W("ctx")}/claims`;
  assert.deepEqual(await call("GET", L), []);
  const rules = [{ claim: "groups", attribute: "groups", scopes: ["profile"], access_token: true, id_token: false, userinfo: true }, { claim: "at", attribute: "auth_time", access_token: true }];
  const put = await api(t, sys.token, "PUT", L, rules);
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.map((r) => r.claim), ["groups", "at"]);
  assert.deepEqual(await call("GET", L), put.json);
  for (const [body, field] of [
    [[{ claim: "sub", attribute: "email", id_token: true }], "claims.claim"],
    [[{ claim: "crm", attribute: "no_such", id_token: true }], "claims.attribute"],
    [[{ claim: "crm", attribute: "email" }], "claims"],
  ]) {
    assertInvalid(await api(t, sys.token, "PUT", L, body), field);
  }
  for (const body of [{ claims: [] }, [{ claim: "x", attribute: "email", id_token: true, extra: 1 }], ""]) {
    assert.equal((await api(t, sys.token, "PUT", L, body)).status, 400);
  }
  assert.deepEqual(await call("GET", L), put.json, "nothing was written");
});

test("who may: workspace configuration access for providers and the context, user access for links", async () => {
  const usersOnly = await systemClient(t, { client_id: "users-only" }, "manage_users");
  const r = await api(t, usersOnly.token, "POST", P("main"), corp({ id: "x", domains: [] }));
  assertProblem(assert, r, 403, "forbidden");
  assert.equal(r.json.required_scope, "manage_workspaces");
  for (const path of [P("main"), `${W("main")}/authn-context`, `${W("main")}/claims`]) {
    assertProblem(assert, await api(t, usersOnly.token, "GET", path), 403, "forbidden");
  }
  const u = (await call("GET", `${W("main")}/users?q=linked`)).items[0];
  assert.equal((await api(t, usersOnly.token, "GET", `${W("main")}/users/${u.id}/identities`)).status, 200);
  assertProblem(assert, await api(t, null, "GET", P("main")), 401, "unauthorized");
});

test("the bootstrap API replaces the whole document; secrets sealed and kept per id", async () => {
  const B = "/admin/tenants/acme/workspaces/other/identity-providers";
  const r = await t.admin("PUT", B, { providers: [corp(), github] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.providers.map((p) => [p.id, p.client_secret_set]), [["gh", true], ["corp", true]]);
  assert.ok(!r.text.includes(SECRET) && !r.text.includes("gh-secret-abcdef"));
  // Again without secrets: both kept; a provider left out is deleted.
  const again = await t.admin("PUT", B, { version: 1, providers: [corp({ client_secret: undefined, name: "Corp again" })] });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json.providers.map((p) => [p.id, p.name, p.client_secret_set]), [["corp", "Corp again", true]]);
  const before = await call("GET", P("other"));
  for (const body of [{ providers: [corp({ issuer: "http://idp.public.example" })] }, { providers: [corp(), corp({ domains: [] })] }, { providers: [github], extra: 1 }, { version: 2, providers: [] }]) {
    assert.equal((await t.admin("PUT", B, body)).status, 400, JSON.stringify(body));
  }
  assert.deepEqual(await call("GET", P("other")), before, "nothing was written");
  assert.equal((await t.admin("PUT", "/admin/tenants/acme/workspaces/nowhere/identity-providers", { providers: [] })).status, 404);
  const wrong = await fetch(`${t.base}${B}`, { method: "PUT", headers: { authorization: "Bearer not-the-root-secret", "content-type": "application/json" }, body: "{}" });
  assert.equal(wrong.status, 401);
});

test("no secret in the log either", () => {
  assert.ok(t.failures.some((f) => f.endpoint && f.status === 400), "the refused writes above were logged");
  const logged = JSON.stringify(t.failures);
  for (const s of [SECRET, "gh-secret-abcdef", "a-brand-new-secret"]) assert.ok(!logged.includes(s), s);
});

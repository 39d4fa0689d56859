// The users of a workspace's identity pool through the management API: create, get, list, search,
// update attributes, set and reset the password, disable, delete; what the sign-in sees.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { basic } from "../support/target.mjs";
import { userTokens } from "../support/signin.mjs";
import { startManaged, api, systemClient, assertProblem } from "../support/management.mjs";

let t, sys, call, secret;
const U = "/api/tenants/acme/workspaces/main/users";
const REDIRECT = "https://rp.example/cb";

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme"], workspaces: { acme: ["main"] } }));
  secret = (await call("POST", "/api/tenants/acme/workspaces/main/clients", { client_id: "web", redirect_uris: [REDIRECT], scope: "openid profile email", skip_consent: true })).client_secret;
});
after(() => t.stop());

const signIn = (username, password) => userTokens(`${t.base}/acme/main`, { client_id: "web", redirect_uri: REDIRECT, scope: "openid email", username, password, auth: { headers: { authorization: basic("web", secret) } } });
const loginFails = async (username, password) => {
  await assert.rejects(signIn(username, password));
};

test("create, get, update attributes and delete a user", async () => {
  const r = await api(t, sys.token, "POST", U, { username: "Ada", password: "correct horse battery", claims: { name: "Ada", email: "ada@example.com" } });
  assert.equal(r.status, 201);
  const ada = r.json;
  assert.equal(ada.username, "ada", "usernames are lower-cased");
  assert.equal(ada.has_password, true);
  assert.equal(ada.disabled, false);
  assert.ok(!JSON.stringify(ada).includes("argon2"), "no password hash in responses");
  assert.equal(r.headers.get("location"), `${U}/${ada.id}`);
  assert.deepEqual((await call("GET", `${U}/${ada.id}`)).claims, { name: "Ada", email: "ada@example.com" });
  const updated = await call("PATCH", `${U}/${ada.id}`, { claims: { name: "Ada Lovelace", email: "ada@example.com" } });
  assert.equal(updated.claims.name, "Ada Lovelace");
  const tokens = await signIn("ada", "correct horse battery");
  const info = await (await fetch(`${t.base}/acme/main/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
  assert.equal(info.email, "ada@example.com");
  assertProblem(assert, await api(t, sys.token, "POST", U, { username: "ada", password: "another password" }), 409, "conflict");
  for (const bad of [{ username: "" }, { username: "x", password: "short" }, { username: "x", claims: { sub: "me" } }, { username: "x", extra: 1 }, { password: "no username here" }]) {
    assertProblem(assert, await api(t, sys.token, "POST", U, bad), 400, "invalid-request");
  }
  assertProblem(assert, await api(t, sys.token, "PATCH", `${U}/${ada.id}`, { claims: { sub: "x" } }), 400, "invalid-request");
  const bob = await call("POST", U, { username: "bob", password: "bob's long password" });
  assert.equal((await api(t, sys.token, "DELETE", `${U}/${bob.id}`)).status, 204);
  assertProblem(assert, await api(t, sys.token, "GET", `${U}/${bob.id}`), 404, "not-found");
  await loginFails("bob", "bob's long password");
});

test("list in pages and search by username prefix or email", async () => {
  for (const n of ["carol", "carla", "dave"]) await call("POST", U, { username: n, claims: { email: `${n}@corp.example` } });
  const all = [];
  let after = "";
  for (;;) {
    const page = await call("GET", `${U}?limit=2${after ? `&after=${after}` : ""}`);
    all.push(...page.items.map((u) => u.username));
    if (!page.next) break;
    after = page.next;
  }
  assert.deepEqual(all.sort(), ["ada", "carla", "carol", "dave"]);
  assert.deepEqual((await call("GET", `${U}?q=car`)).items.map((u) => u.username).sort(), ["carla", "carol"]);
  assert.deepEqual((await call("GET", `${U}?q=DAVE@corp.example`)).items.map((u) => u.username), ["dave"]);
  assert.deepEqual((await call("GET", `${U}?q=zzz`)).items, []);
});

test("set the password; reset it with a one-time token", async () => {
  const erin = await call("POST", U, { username: "erin", password: "first password!" });
  assert.equal((await api(t, sys.token, "PUT", `${U}/${erin.id}/password`, { password: "second password!" })).status, 204);
  await loginFails("erin", "first password!");
  await signIn("erin", "second password!");
  assertProblem(assert, await api(t, sys.token, "PUT", `${U}/${erin.id}/password`, { password: "short" }), 400, "invalid-request");
  const reset = await call("POST", `${U}/${erin.id}/password-reset`);
  assert.ok(reset.reset_token.length >= 43);
  assert.equal(reset.complete_url, `${t.base}/api/password-reset`);
  await signIn("erin", "second password!"); // the old password works until the reset completes
  // A weak password does not burn the token.
  assertProblem(assert, await api(t, null, "POST", "/api/password-reset", { token: reset.reset_token, password: "short" }), 400, "invalid-request");
  assert.equal((await api(t, null, "POST", "/api/password-reset", { token: reset.reset_token, password: "third password!" })).status, 204);
  await signIn("erin", "third password!");
  // Used, unknown and garbage tokens all read the same.
  const details = new Set();
  for (const token of [reset.reset_token, "x".repeat(43), ""]) {
    const r = await api(t, null, "POST", "/api/password-reset", { token, password: "fourth password!" });
    assertProblem(assert, r, 400, "invalid-request");
    details.add(r.json.detail);
  }
  assert.equal(details.size, 1);
});

test("disable and enable a user", async () => {
  const fay = await call("POST", U, { username: "fay", password: "fay's password" });
  const tokens = await signIn("fay", "fay's password");
  assert.equal((await call("PATCH", `${U}/${fay.id}`, { disabled: true })).disabled, true);
  await loginFails("fay", "fay's password");
  const userinfo = await fetch(`${t.base}/acme/main/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(userinfo.status, 401, "its grants were revoked");
  assert.equal((await call("PATCH", `${U}/${fay.id}`, { disabled: false })).disabled, false);
  await signIn("fay", "fay's password");
});

test("a foreign tenant's administrator, or a token without manage_users, changes no user", async () => {
  const ada = (await call("GET", `${U}?q=ada`)).items[0];
  await call("POST", "/api/tenants", { id: "other" });
  const foreign = await systemClient(t, { client_id: "other-admin", managed_tenant: "other" });
  const noUsers = await systemClient(t, { client_id: "no-users", scope: "manage_clients" });
  for (const token of [foreign.token, noUsers.token]) {
    for (const [m, p, b] of [["GET", U], ["GET", `${U}/${ada.id}`], ["PATCH", `${U}/${ada.id}`, { disabled: true }], ["PUT", `${U}/${ada.id}/password`, { password: "hijacked password" }], ["POST", `${U}/${ada.id}/password-reset`], ["DELETE", `${U}/${ada.id}`]]) {
      assertProblem(assert, await api(t, token, m, p, b), 403, "forbidden");
    }
  }
  await signIn("ada", "correct horse battery");
  assert.equal((await call("GET", `${U}/${ada.id}`)).disabled, false);
});

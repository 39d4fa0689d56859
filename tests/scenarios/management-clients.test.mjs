// Clients through the management API: the secret is shown once and stored hashed; get, list with
// pages, update, rotate the secret, delete; metadata validated; changes reach the token endpoint.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { basic, form } from "../support/target.mjs";
import { startManaged, api, systemClient, assertProblem } from "../support/management.mjs";

let t, sys, call;
const C = "/api/tenants/acme/workspaces/main/clients";
const cc = (id, secret) => form(`${t.base}/acme/main/token`, { grant_type: "client_credentials" }, { authorization: basic(id, secret) });

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme"], workspaces: { acme: ["main"] } }));
});
after(() => t.stop());

test("create shows the secret once; get and list never show it", async () => {
  const r = await api(t, sys.token, "POST", C, { client_id: "svc", client_name: "Service", grant_types: ["client_credentials"], scope: "api" });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get("location"), `${C}/svc`);
  assert.equal(r.headers.get("cache-control"), "no-store");
  assert.ok(r.json.client_secret.length >= 43);
  assert.equal((await cc("svc", r.json.client_secret)).status, 200);
  const got = await call("GET", `${C}/svc`);
  assert.equal(got.client_secret, undefined);
  assert.equal(got.client_name, "Service");
  assert.ok(!JSON.stringify(await call("GET", C)).includes(r.json.client_secret));
  // A client without a client_id gets a random one; a public client gets no secret.
  const pub = await call("POST", C, { token_endpoint_auth_method: "none", redirect_uris: ["https://app.example/cb"] });
  assert.ok(pub.client_id.length >= 16);
  assert.equal(pub.client_secret, undefined);
});

test("every client metadata field the protocol uses round-trips", async () => {
  const jwks = { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "k1", alg: "ES256", use: "sig" }] };
  const meta = {
    client_id: "full", client_name: "Full", redirect_uris: ["https://app.example/cb", "http://127.0.0.1:8080/cb"], post_logout_redirect_uris: ["https://app.example/bye"],
    grant_types: ["authorization_code", "refresh_token", "client_credentials"], response_types: ["code"], token_endpoint_auth_method: "private_key_jwt", jwks,
    scope: "openid profile api", id_token_signed_response_alg: "PS256", refresh_token_rotation: false, skip_consent: true,
  };
  const r = await call("POST", C, meta);
  assert.equal(r.client_secret, undefined, "private_key_jwt has no secret");
  assert.deepEqual(await call("GET", `${C}/full`), meta);
  const uri = await call("PUT", `${C}/full`, { ...meta, jwks: undefined, jwks_uri: "https://app.example/jwks" });
  assert.equal(uri.jwks_uri, "https://app.example/jwks");
  assert.equal(uri.jwks, undefined);
});

test("bad metadata is a 400 naming the problem, and stores nothing", async () => {
  for (const bad of [
    { client_id: "b1", redirect_uris: ["http://evil.example/cb"] },
    { client_id: "b2", grant_types: ["implicit"] },
    { client_id: "b3", token_endpoint_auth_method: "private_key_jwt", grant_types: ["client_credentials"] },
    { client_id: "b4", token_endpoint_auth_method: "none", grant_types: ["client_credentials"] },
    { client_id: "b5", grant_types: ["client_credentials"], unknown_field: 1 },
    { client_id: "b6", grant_types: ["client_credentials"], managed_tenant: "acme" },
    { client_id: "b7", grant_types: ["client_credentials"], id_token_signed_response_alg: "none" },
  ]) {
    const r = await api(t, sys.token, "POST", C, bad);
    assertProblem(assert, r, 400, "invalid-client-metadata");
    assertProblem(assert, await api(t, sys.token, "GET", `${C}/${bad.client_id}`), 404, "not-found");
  }
  assertProblem(assert, await api(t, sys.token, "POST", C, { client_id: "svc", grant_types: ["client_credentials"] }), 409, "conflict");
});

test("update changes what the token endpoint allows; client_id cannot change", async () => {
  const c = await call("POST", C, { client_id: "upd", grant_types: ["client_credentials"], scope: "api other" });
  assert.equal((await cc("upd", c.client_secret)).json.scope, "api other");
  const meta = await call("GET", `${C}/upd`);
  const u = await call("PUT", `${C}/upd`, { ...meta, scope: "api" });
  assert.equal(u.client_secret, undefined, "the secret stays and is not shown");
  assert.equal((await cc("upd", c.client_secret)).json.scope, "api");
  assertProblem(assert, await api(t, sys.token, "PUT", `${C}/upd`, { ...meta, client_id: "renamed" }), 400, "invalid-client-metadata");
  assertProblem(assert, await api(t, sys.token, "PUT", `${C}/nope`, meta), 404, "not-found");
  // Switching to a secret method issues a secret, shown once.
  const p = await call("POST", C, { client_id: "was-public", token_endpoint_auth_method: "none", redirect_uris: ["https://app.example/cb"] });
  const s = await call("PUT", `${C}/was-public`, { ...p, token_endpoint_auth_method: "client_secret_post", grant_types: ["client_credentials"] });
  assert.ok(s.client_secret);
});

test("rotating the secret replaces it at once", async () => {
  const c = await call("POST", C, { client_id: "rot", grant_types: ["client_credentials"], scope: "api" });
  const r = await call("POST", `${C}/rot/rotate-secret`);
  assert.equal(r.client_id, "rot");
  assert.notEqual(r.client_secret, c.client_secret);
  assert.equal((await cc("rot", c.client_secret)).status, 401);
  assert.equal((await cc("rot", r.client_secret)).status, 200);
  assertProblem(assert, await api(t, sys.token, "POST", `${C}/full/rotate-secret`), 400, "invalid-request");
  assertProblem(assert, await api(t, sys.token, "POST", `${C}/nope/rotate-secret`), 404, "not-found");
});

test("deleting a client stops it at once, and the access tokens it already holds", async () => {
  const c = await call("POST", C, { client_id: "gone", grant_types: ["client_credentials"], scope: "api" });
  const held = await cc("gone", c.client_secret);
  assert.equal(held.status, 200);
  const rs = await call("POST", C, { client_id: "rs", grant_types: ["client_credentials"], scope: "api" });
  const introspect = () => form(`${t.base}/acme/main/introspect`, { token: held.json.access_token }, { authorization: basic("rs", rs.client_secret) });
  assert.equal((await introspect()).json.active, true);
  assert.equal((await api(t, sys.token, "DELETE", `${C}/gone`)).status, 204);
  assert.equal((await cc("gone", c.client_secret)).status, 401);
  assert.equal((await introspect()).json.active, false, "a deleted client's token is no longer active");
  assertProblem(assert, await api(t, sys.token, "DELETE", `${C}/gone`), 404, "not-found");
});

test("clients are listed in pages", async () => {
  for (const id of ["l-1", "l-2", "l-3"]) await call("POST", C, { client_id: id, grant_types: ["client_credentials"] });
  const first = await call("GET", `${C}?limit=2&after=l-`);
  assert.deepEqual(first.items.map((c) => c.client_id), ["l-1", "l-2"]);
  assert.equal(first.next, "l-2");
  const second = await call("GET", `${C}?limit=2&after=${first.next}`);
  assert.equal(second.items[0].client_id, "l-3");
});

test("a manage_clients token cannot touch workspaces or users; a foreign tenant's admin cannot touch clients", async () => {
  const narrow = await systemClient(t, { client_id: "clients-only", scope: "manage_clients" });
  assert.equal((await api(t, narrow.token, "GET", C)).status, 200);
  assertProblem(assert, await api(t, narrow.token, "GET", "/api/tenants/acme/workspaces/main/config"), 403, "forbidden");
  assertProblem(assert, await api(t, narrow.token, "GET", "/api/tenants/acme/workspaces/main/users"), 403, "forbidden");
  await call("POST", "/api/tenants", { id: "other" });
  const foreign = await systemClient(t, { client_id: "other-admin", managed_tenant: "other" });
  assertProblem(assert, await api(t, foreign.token, "GET", `${C}/svc`), 403, "forbidden");
  assertProblem(assert, await api(t, foreign.token, "POST", `${C}/svc/rotate-secret`), 403, "forbidden");
  assertProblem(assert, await api(t, foreign.token, "DELETE", `${C}/svc`), 403, "forbidden");
  assert.equal((await api(t, sys.token, "GET", `${C}/svc`)).status, 200, "still there");
});

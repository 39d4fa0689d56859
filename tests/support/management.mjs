// Helpers for the management API scenarios: bootstrap a system client with the root secret, get
// tokens from the system workspace, and call /api with them.
import { basic, startTarget } from "./target.mjs";

/** Calls the API; `token` may be null (no Authorization header) or a raw header value via { raw }. */
export async function api(t, token, method, path, body, { contentType = "application/json", raw } = {}) {
  const headers = {};
  if (raw !== undefined) headers.authorization = raw;
  else if (token) headers.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    headers["content-type"] = contentType;
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const r = await fetch(t.base + path, { method, headers, body: payload });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

/** POST /api/bootstrap with the root secret: a system client (all scopes unless `scope`). */
export async function bootstrap(t, body = {}) {
  const r = await api(t, t.rootSecret, "POST", "/api/bootstrap", body);
  if (r.status !== 201) throw new Error(`bootstrap: ${r.status} ${r.text}`);
  return r.json;
}

/** A client_credentials token from the system workspace. */
export async function systemToken(t, clientId, secret, scope) {
  const form = { grant_type: "client_credentials" };
  if (scope) form.scope = scope;
  const r = await fetch(`${t.base}/system/system/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, secret) },
    body: new URLSearchParams(form).toString(),
  });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`token: ${r.status} ${JSON.stringify(json)}`);
  return json.access_token;
}

/** A new system client and a token for it. */
export async function systemClient(t, body = {}, scope) {
  const c = await bootstrap(t, body);
  return { ...c, token: await systemToken(t, c.client_id, c.client_secret, scope) };
}

/**
 * The common start of a management scenario: a target, a system client `ops` with every scope and
 * `call` for it, then the `tenants` and each tenant's `workspaces` created. Returns { t, sys, call }.
 */
export async function startManaged({ tenants = [], workspaces = {} } = {}) {
  const t = await startTarget();
  const sys = await systemClient(t, { client_id: "ops" });
  const call = must(t, sys.token);
  for (const id of tenants) await call("POST", "/api/tenants", { id });
  for (const [tenant, ids] of Object.entries(workspaces)) {
    for (const id of ids) await call("POST", `/api/tenants/${tenant}/workspaces`, { id });
  }
  return { t, sys, call };
}

/** Calls that must succeed. */
export function must(t, token) {
  return async (method, path, body, opts) => {
    const r = await api(t, token, method, path, body, opts);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
}

export const PROBLEM = "urn:edgeauth:problem:";

/** Asserts a problem document: status, content type and type URN. */
export function assertProblem(assert, r, status, kind) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers.get("content-type"), "application/problem+json");
  assert.equal(r.json.type, PROBLEM + kind, r.text);
  assert.equal(r.json.status, status);
  assert.ok(r.json.title && r.json.detail, r.text);
}

// A deployment with a configured public origin (PUBLIC_ORIGIN on Workers, the public_origin
// variable on Spin, --public-origin natively): the issuer is that origin whatever the Host header
// says, and a request for another host is refused with 421 before anything is read or written,
// except on the host of a workspace's own mtls_issuer. Without the setting the issuer follows the
// Host header (the README says to set it in production); bad-input and the rest of the suite run
// that way. Requests go through node:http so that each can carry its own Host header.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startTarget } from "../support/target.mjs";

const PUBLIC = "http://localhost";
let t, port;

/** One request to the target with `Host: host`; resolves to { status, headers, json, text }. */
function send(host, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: "127.0.0.1", port, method, path, headers: { host, ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}), ...headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          let json = null;
          try { json = JSON.parse(text); } catch {}
          resolve({ status: res.statusCode, headers: res.headers, json, text });
        });
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}
const admin = (host, method, path, body) => send(host, method, path, body, { authorization: `Bearer ${t.rootSecret}` });

before(async () => {
  t = await startTarget({ publicOrigin: PUBLIC });
  port = new URL(t.base).port;
  for (const [path, body] of [
    ["/admin/tenants/acme", { name: "acme" }],
    ["/admin/tenants/acme/workspaces/plain", {}],
    ["/admin/tenants/acme/workspaces/bank", { mtls_issuer: "http://127.0.0.2/acme/bank" }],
  ]) {
    const r = await admin("localhost", "PUT", path, body);
    assert.ok(r.status < 300, `${path}: ${r.status} ${r.text}`);
  }
});
after(() => t.stop());

test("the issuer is the configured origin; discovery for a forged Host is refused and names no issuer", async () => {
  const ok = await send("localhost", "GET", "/acme/plain/.well-known/openid-configuration");
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.issuer, `${PUBLIC}/acme/plain`);
  assert.equal(ok.json.token_endpoint, `${PUBLIC}/acme/plain/token`);
  for (const host of ["evil.example", `127.0.0.1:${port}`, "localhost.evil.example", "127.0.0.2"]) {
    const r = await send(host, "GET", "/acme/plain/.well-known/openid-configuration");
    assert.equal(r.status, 421, `${host}: ${r.text}`);
    assert.equal(r.json?.error, "invalid_request");
    assert.doesNotMatch(r.text, /evil|issuer/);
    assert.equal(r.headers["cache-control"], "no-store", "a refusal is not cached");
  }
  const root = await send("evil.example", "GET", "/.well-known/oauth-authorization-server/acme/plain");
  assert.equal(root.status, 421, root.text);
});

test("the management and bootstrap APIs answer only on the public origin; a refused write writes nothing", async () => {
  const r = await admin("evil.example", "PUT", "/admin/tenants/intruder", { name: "intruder" });
  assert.equal(r.status, 421, r.text);
  assert.equal((await admin("localhost", "GET", "/admin/tenants/intruder")).status, 404, "nothing was created");
  const api = await send("evil.example", "GET", "/api/tenants", undefined, { authorization: "Bearer x" });
  assert.equal(api.status, 421, api.text);
  assert.match(api.headers["content-type"], /application\/problem\+json/);
});

test("a workspace's mtls_issuer host is served for that workspace only", async () => {
  const viaMtls = await send("127.0.0.2", "GET", "/acme/bank/.well-known/openid-configuration");
  assert.equal(viaMtls.status, 200, viaMtls.text);
  const plain = await send("localhost", "GET", "/acme/bank/.well-known/openid-configuration");
  assert.equal(plain.json.issuer, `${PUBLIC}/acme/bank`);
  assert.equal(plain.json.mtls_endpoint_aliases?.token_endpoint, "http://127.0.0.2/acme/bank/token");
  // Another workspace on the bank's mTLS host: refused.
  assert.equal((await send("127.0.0.2", "GET", "/acme/plain/.well-known/openid-configuration")).status, 421);
});

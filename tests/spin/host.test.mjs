// What only the Spin target has: the manifest (spin.toml) is obeyed, as `spin up` obeys it. A
// required variable without a value stops the start; a master secret that cannot seal keys is an
// operator's mistake answered with a generic 500 (the reason goes to the log); outbound requests go
// only to `allowed_outbound_hosts`; and the stores the component uses are the ones the manifest grants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import * as jose from "jose";
import { startSpin, runSpinHost, SPIN_COMPONENT } from "../support/spin.mjs";
import { form } from "../support/target.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const rootSecret = "root-secret-for-this-test-0123456789";

async function admin(base, method, path, body) {
  const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) };
}

test("a required variable without a value stops the start, naming it", async () => {
  const r = await runSpinHost(["--from", join(ROOT, "spin.toml"), "--listen", "127.0.0.1:0"], { SPIN_VARIABLE_MASTER_SECRET: undefined });
  assert.notEqual(r.code, 0);
  assert.match(r.out, /master_secret/);
  assert.doesNotMatch(r.out, /listening on/);
});

test("a master secret shorter than 32 bytes: 500 without detail, the reason is logged, nothing is created", async () => {
  const s = await startSpin({ rootSecret, masterSecret: "too-short" });
  try {
    const meta = await fetch(`${s.base}/acme/main/.well-known/openid-configuration`);
    assert.equal(meta.status, 500);
    const body = await meta.json();
    assert.equal(body.error, "server_error");
    assert.doesNotMatch(JSON.stringify(body), /master_secret|too-short/i);
    const put = await admin(s.base, "PUT", "/admin/tenants/acme", {});
    assert.equal(put.status, 500);
  } finally {
    await assert.rejects(s.stop(), /master_secret must be base64url of at least 32 bytes/);
  }
});

test("allowed_outbound_hosts: a jwks_uri on a host the manifest does not allow is never fetched", async () => {
  let hits = 0;
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256");
  const jwk = { ...(await jose.exportJWK(publicKey)), alg: "ES256", kid: "k1", use: "sig" };
  const jwks = createServer((req, res) => { hits++; res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify({ keys: [jwk] })); });
  await new Promise((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  const jwksUri = `http://127.0.0.1:${jwks.address().port}/jwks`;
  // spin.toml allows https://*:443 only; this start adds nothing for loopback.
  const s = await startSpin({ rootSecret, allowLoopback: false });
  try {
    assert.ok((await admin(s.base, "PUT", "/admin/tenants/acme", { name: "acme" })).status < 300);
    assert.ok((await admin(s.base, "PUT", "/admin/tenants/acme/workspaces/main", {})).status < 300);
    const c = await admin(s.base, "POST", "/admin/tenants/acme/workspaces/main/clients", { client_id: "svc", token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri, grant_types: ["client_credentials"], scope: "api" });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const tokenUrl = `${s.base}/acme/main/token`;
    const assertion = await new jose.SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("svc").setSubject("svc").setAudience(tokenUrl).setIssuedAt().setExpirationTime("1m").sign(privateKey);
    const r = await form(tokenUrl, { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, "invalid_client");
    assert.equal(hits, 0, "the denied host was never contacted");
  } finally {
    await s.stop();
    jwks.close();
  }
});

test("the manifest's stores are the ones served: an ungranted or unconfigured label is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "spin-manifest-"));
  try {
    const manifest = readFileSync(join(ROOT, "spin.toml"), "utf8").replace(`source = "target/wasm32-wasip2/release/edgeauth_spin.wasm"`, `source = "${SPIN_COMPONENT}"`);
    // A label besides `default` needs a runtime configuration, as in Spin.
    writeFileSync(join(dir, "spin.toml"), manifest.replace(`key_value_stores = ["default"]`, `key_value_stores = ["default", "sessions"]`));
    const r = await runSpinHost(["--from", join(dir, "spin.toml"), "--listen", "127.0.0.1:0"], { SPIN_VARIABLE_MASTER_SECRET: "x".repeat(43) });
    assert.notEqual(r.code, 0);
    assert.match(r.out, /"sessions"/);
    // A manifest that does not grant the SQLite database: the component's open is access-denied,
    // which it reports as a generic 500 and a log line.
    writeFileSync(join(dir, "spin.toml"), manifest.replace(`sqlite_databases = ["default"]`, `sqlite_databases = []`));
    const s = await startSpin({ rootSecret, migrations: false, extraArgs: ["--from", join(dir, "spin.toml")] });
    try {
      // The database is opened on the first statement: a request that needs none (discovery of a
      // tenant that does not exist) answers without it, and the first that does fails.
      const meta = await fetch(`${s.base}/acme/main/.well-known/openid-configuration`);
      assert.equal(meta.status, 404);
      const write = await fetch(`${s.base}/admin/tenants/acme`, { method: "PUT", headers: { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" }, body: JSON.stringify({ name: "acme" }) });
      assert.equal(write.status, 500);
    } finally {
      await assert.rejects(s.stop(), /AccessDenied/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`--sqlite` applies the migrations the way `spin up --sqlite @file` does, and state lives in SQLite files", async () => {
  const dir = mkdtempSync(join(tmpdir(), "spin-state-"));
  const masterSecret = "A".repeat(43);
  try {
    const a = await startSpin({ rootSecret, masterSecret, extraArgs: ["--state-dir", dir] });
    let before;
    try {
      assert.ok((await admin(a.base, "PUT", "/admin/tenants/acme", { name: "acme" })).status < 300);
      assert.ok((await admin(a.base, "PUT", "/admin/tenants/acme/workspaces/main", {})).status < 300);
      before = await (await fetch(`${a.base}/acme/main/jwks`)).json();
      assert.ok(before.keys.length >= 1);
    } finally {
      await a.stop();
    }
    // A restart on the same state (the migrations run again: they are idempotent) serves the same
    // workspace (key-value) and the same keys (SQLite), sealed under the same master secret.
    const b = await startSpin({ rootSecret, masterSecret, extraArgs: ["--state-dir", dir] });
    try {
      const after = await fetch(`${b.base}/acme/main/jwks`);
      assert.equal(after.status, 200);
      assert.deepEqual(await after.json(), before);
    } finally {
      await b.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the client address is the connection's peer, in spin-client-addr as Spin sets it: a value the client sends is replaced", async () => {
  const s = await startSpin({ rootSecret });
  try {
    assert.ok((await admin(s.base, "PUT", "/admin/tenants/acme", { name: "acme" })).status < 300);
    // Failed client authentications lock an address after two; clients never lock here.
    assert.ok((await admin(s.base, "PUT", "/admin/tenants/acme/workspaces/main", { throttle: { address_max_failures: 2, client_max_failures: 1000 } })).status < 300);
    const token = (client, headers = {}) => form(`${s.base}/acme/main/token`, { grant_type: "client_credentials", client_id: client, client_secret: "guess" }, headers);
    assert.equal((await token("a")).status, 401);
    assert.equal((await token("b")).status, 429, "the address is locked");
    // Another address claimed in the header changes nothing: the host counts the peer.
    const r = await token("c", { "spin-client-addr": "203.0.113.9:4000" });
    assert.equal(r.status, 429, r.text);
    assert.ok(Number(r.headers.get("retry-after")) >= 1);
  } finally {
    await s.stop();
  }
});

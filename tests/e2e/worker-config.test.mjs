// The Workers bundle's own configuration: a bad MASTER_SECRET is an operator's mistake, answered
// as a generic 500 (the detail goes to the log, never to the client), and no key is generated
// under it. Runs against the Workers bundle only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../support/worker.mjs";

test("a MASTER_SECRET shorter than 32 bytes: 500 without detail, and the reason is logged", async () => {
  const rootSecret = "root-secret-for-this-test-0123456789";
  const w = await startWorker({ rootSecret, masterSecret: "too-short" });
  const meta = await fetch(`${w.base}/acme/main/.well-known/openid-configuration`);
  assert.equal(meta.status, 500);
  const body = await meta.json();
  assert.equal(body.error, "server_error");
  assert.doesNotMatch(JSON.stringify(body), /MASTER_SECRET|too-short/);
  const put = await fetch(`${w.base}/admin/tenants/acme`, { method: "PUT", headers: { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" }, body: "{}" });
  assert.equal(put.status, 500);
  await assert.rejects(w.stop(), /MASTER_SECRET must be base64url of at least 32 bytes/);
});

// The management API against its own OpenAPI 3.1 document (crates/core/src/management/openapi.json,
// served at /api/openapi.json): schemathesis (from PyPI, installed into .tools/schemathesis by
// scripts/setup.sh) generates requests for every operation and checks that none answers 5xx, every
// status is documented, and every body matches its schema and media type.
// TARGET=native|worker|spin like the scenario suite.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { startTarget } from "../support/target.mjs";
import { systemClient, must } from "../support/management.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const ST = `${ROOT}.tools/schemathesis/bin/st`;
let t, sys;

before(async () => {
  t = await startTarget();
  sys = await systemClient(t, { client_id: "ops" });
  // The identifiers the document's examples name, so the calls reach past 404.
  const call = must(t, sys.token);
  await call("POST", "/api/tenants", { id: "acme" });
  await call("PUT", "/api/tenants/acme/features", { tree_dump_tenant: true });
  await call("POST", "/api/tenants/acme/workspaces", { id: "main" });
  await call("POST", "/api/tenants/acme/workspaces/main/clients", { client_id: "svc", grant_types: ["client_credentials"], scope: "api" });
  await call("POST", "/api/tenants/acme/workspaces/main/users", { username: "ada", password: "correct horse battery" });
  await call("POST", "/api/tenants/acme/organizations", { id: "partner" });
  await call("POST", "/api/tenants/acme/organization-templates", { id: "bank", config: { access_token_ttl: 300 } });
});
after(() => t.stop());

test("the served document is the one in the repository", async () => {
  const served = await (await fetch(`${t.base}/api/openapi.json`)).json();
  assert.deepEqual(served, JSON.parse(readFileSync(`${ROOT}crates/core/src/management/openapi.json`, "utf8")));
  assert.equal(served.openapi, "3.1.0");
});

/** Runs a command to its end without blocking the event loop: the server under test writes its log
 * lines to a pipe this process drains, and a blocked loop would fill the pipe and stall the server. */
function run(cmd, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test("schemathesis: no 5xx, documented statuses, bodies match their schemas", { timeout: 15 * 60 * 1000 }, async () => {
  assert.ok(existsSync(ST), "schemathesis is missing: run scripts/setup.sh");
  const checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
  const r = await run(
    ST,
    [
      "run", `${t.base}/api/openapi.json`, "--url", t.base,
      "-H", `Authorization: Bearer ${sys.token}`,
      "--checks", checks,
      "--phases", "examples,coverage,fuzzing",
      "--max-examples", process.env.SCHEMATHESIS_MAX_EXAMPLES ?? "5",
      "--workers", "1",
      "--suppress-health-check", "all",
      "--request-timeout", "30",
      "--seed", process.env.SCHEMATHESIS_SEED ?? "20240501",
    ],
    { env: { ...process.env, SCHEMATHESIS_TELEMETRY: "false", NO_COLOR: "1" } },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out.slice(-20000));
  const doc = JSON.parse(readFileSync(`${ROOT}crates/core/src/management/openapi.json`, "utf8"));
  // schemathesis leaves out the operation that serves the document it loaded (GET /api/openapi.json).
  const operations = Object.entries(doc.paths).filter(([path]) => path !== "/api/openapi.json").flatMap(([, p]) => Object.keys(p).filter((m) => ["get", "put", "post", "patch", "delete"].includes(m))).length;
  assert.match(out, new RegExp(`Tested: ${operations}\\b`), `every operation (${operations}) was tested`);
});

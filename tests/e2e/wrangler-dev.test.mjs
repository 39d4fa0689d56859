// Smoke test of the developer path: the built bundle under `wrangler dev` (the same commands
// scripts/dev.sh runs), with D1 migrations applied by wrangler, a tenant created through the
// bootstrap API, a client_credentials token, and an SSO session kept by the Durable Object.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { basic, pkce, Agent, hidden } from "../support/target.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const ROOT_SECRET = randomBytes(24).toString("base64url");
let child, base, state;

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

before(async () => {
  state = mkdtempSync(join(tmpdir(), "edgeauth-wrangler-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" };
  execFileSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: ROOT, env, stdio: "pipe" });
  const port = await freePort();
  child = spawn(WRANGLER, ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--show-interactive-dev-session=false",
    "--var", `MASTER_SECRET:${randomBytes(32).toString("base64url")}`, "--var", `ROOT_SECRET:${ROOT_SECRET}`], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { if ((await fetch(`${base}/`)).status) break; } catch {}
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`wrangler dev did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(() => {
  if (child && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  if (state) rmSync(state, { recursive: true, force: true });
});

const admin = async (method, path, body) => {
  const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${ROOT_SECRET}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.ok(r.status < 300, `${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
};

test("wrangler dev: bootstrap a tenant, discovery, client_credentials, and an SSO login", async () => {
  await admin("PUT", "/admin/tenants/demo", { name: "Demo" });
  await admin("PUT", "/admin/tenants/demo/workspaces/main", {});
  await admin("POST", "/admin/tenants/demo/workspaces/main/users", { username: "demo", password: "demo-password", claims: { name: "Demo" } });
  const { client_secret } = await admin("POST", "/admin/tenants/demo/workspaces/main/clients", { client_id: "app", redirect_uris: ["http://localhost:3000/cb"], grant_types: ["authorization_code", "client_credentials"], scope: "openid api", skip_consent: true });

  const issuer = `${base}/demo/main`;
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(meta.issuer, issuer);

  const token = await fetch(meta.token_endpoint, { method: "POST", headers: { authorization: basic("app", client_secret), "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials&scope=api" });
  assert.equal(token.status, 200);
  assert.equal((await token.json()).token_type, "Bearer");

  const agent = new Agent();
  const auth = `${issuer}/authorize?response_type=code&client_id=app&redirect_uri=${encodeURIComponent("http://localhost:3000/cb")}&scope=openid&code_challenge=${pkce().challenge}&code_challenge_method=S256`;
  let r = await agent.request(auth);
  assert.equal(r.status, 200);
  r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "demo", password: "demo-password" } });
  assert.equal(r.status, 303, r.text_);
  // The session lives in a Durable Object: the next authorize skips the login.
  r = await agent.request(auth);
  assert.equal(r.status, 303);
  assert.ok(new URL(r.headers.get("location")).searchParams.get("code"));
});

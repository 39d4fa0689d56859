// Shared by the benchmarks (bench/bench.mjs: Workers; bench/spin.mjs: Spin): the load settings,
// the benchmark tenant's set-up through the bootstrap API, the code flow, wrk and CPU from /proc.
// Environment: BENCH_DURATION (seconds per load, default 5), BENCH_WARMUP (seconds, default 1),
// BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 8), BENCH_ONLY (comma-separated workload
// names), BENCH_PROFILE (a directory for `perf` profiles).
import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
export const ROOT = new URL("..", import.meta.url).pathname;
export const LUA = join(ROOT, "bench/wrk");
export const DURATION = Number(process.env.BENCH_DURATION ?? 5);
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
export const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
// A directory: record a `perf` profile of the workerd process during each edgeauth load there.
export const PROFILE = process.env.BENCH_PROFILE;
export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
export const REDIRECT_URI = "https://app.example/cb";
export const RESOURCE_ES256 = "https://api.example/es256";
export const RESOURCE_PS256 = "https://api.example/ps256";
export const PASSWORD = "bench-password-" + randomBytes(6).toString("hex");
export const log = (m) => process.stderr.write(`[bench] ${m}\n`);

// ---------------------------------------------------------------------------------------------
// helpers: a cookie-jar agent, PKCE, process CPU from /proc
// ---------------------------------------------------------------------------------------------

/** fetch, retried once when a pooled keep-alive connection turns out closed (a server closes idle
 * connections after a load). */
export async function fetchRetry(url, init) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      const stale = ["UND_ERR_SOCKET", "UND_ERR_CLOSED", "ECONNRESET", "EPIPE"].includes(e?.cause?.code);
      if (!stale || attempt >= 2) throw e;
    }
  }
}

export class Agent {
  constructor() { this.cookies = new Map(); }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "); }
  async request(url, { method = "GET", form, headers = {} } = {}) {
    const h = { ...headers };
    if (this.cookies.size) h.cookie = this.header();
    let body;
    if (form) { h["content-type"] = "application/x-www-form-urlencoded"; body = new URLSearchParams(form).toString(); }
    const r = await fetchRetry(url, { method, headers: h, body, redirect: "manual" });
    for (const c of r.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim(), value = pair.slice(i + 1).trim();
      const gone = value === "" || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /expires=.*1970/i.test(a));
      if (gone) this.cookies.delete(name); else this.cookies.set(name, value);
    }
    r.text_ = await r.text();
    return r;
  }
}

export const VERIFIER = randomBytes(32).toString("base64url");
export const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");
export const basic = (id, secret) => "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");
export const must = (ok, what) => { if (!ok) throw new Error(what); };

/** utime + stime of one process (all its threads), in ms. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** The pids of this process's descendants whose command is `name`. */
export function descendants(name, root = process.pid) {
  const procs = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((pid) => {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, "utf8");
      return { pid: Number(pid), comm: s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")), ppid: Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]) };
    } catch { return null; }
  }).filter(Boolean);
  const out = [];
  const walk = (p) => { for (const c of procs.filter((x) => x.ppid === p)) { if (c.comm === name) out.push(c.pid); walk(c.pid); } };
  walk(root);
  return out;
}

export function decodeJwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[0], "base64url"));
}

export async function timeToFirst200(url, init = {}, deadlineMs = 30000) {
  const t0 = performance.now();
  for (;;) {
    try {
      const r = await fetch(url, init);
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - t0;
    } catch {}
    if (performance.now() - t0 > deadlineMs) throw new Error(`no 200 from ${url}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// edgeauth under workerd (miniflare's API), state persisted to a temp dir so it survives a restart
// ---------------------------------------------------------------------------------------------

export function statements(sql) {
  return sql.split("\n").filter((l) => !l.trim().startsWith("--")).join("\n").split(";").map((s) => s.trim()).filter(Boolean);
}


export const SCOPES = {
  openid: { description: "Sign you in", claims: [] },
  profile: { description: "Your name", claims: ["name", "preferred_username"] },
  email: { description: "Your email address", claims: ["email", "email_verified"] },
  offline_access: { description: "Access while you are away", claims: [] },
  api: { description: "The API", claims: [] },
};
export const TTLS = { access_token_ttl: 600, id_token_ttl: 3600, refresh_token_ttl: 30 * 86400, authorization_code_ttl: 60, session_ttl: 8 * 3600 };

/** Creates the benchmark tenant: workspace `es` (ES256 tokens) and `ps` (PS256), clients, a user. */
export async function setUpEdgeauth(base, rootSecret) {
  const admin = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
    const text = await r.text();
    must(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text || "null");
  };
  await admin("PUT", "/admin/tenants/bench", { name: "Benchmark" });
  const secrets = {};
  for (const [ws, alg, resource] of [["es", "ES256", RESOURCE_ES256], ["ps", "PS256", RESOURCE_PS256]]) {
    await admin("PUT", `/admin/tenants/bench/workspaces/${ws}`, { ...TTLS, default_signing_alg: alg, access_token_audience: resource, scopes: SCOPES });
    secrets[`${ws}/svc`] = (await admin("POST", `/admin/tenants/bench/workspaces/${ws}/clients`, { client_id: "svc", grant_types: ["client_credentials"], response_types: [], redirect_uris: [], scope: "api" })).client_secret;
  }
  secrets["es/web"] = (await admin("POST", "/admin/tenants/bench/workspaces/es/clients", { client_id: "web", grant_types: ["authorization_code"], redirect_uris: [REDIRECT_URI], scope: "openid profile email", id_token_signed_response_alg: "ES256" })).client_secret;
  secrets["es/app"] = (await admin("POST", "/admin/tenants/bench/workspaces/es/clients", { client_id: "app", grant_types: ["authorization_code", "refresh_token"], redirect_uris: [REDIRECT_URI], scope: "openid profile email offline_access", id_token_signed_response_alg: "ES256" })).client_secret;
  await admin("POST", "/admin/tenants/bench/workspaces/es/users", { username: "bench", password: PASSWORD, claims: { name: "Bench User", email: "bench@example.com", email_verified: true } });
  return secrets;
}

export const hidden = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];

export function authorizeUrl(endpoint, client_id, scope, extra = {}) {
  const u = new URL(endpoint);
  for (const [k, v] of Object.entries({ response_type: "code", client_id, redirect_uri: REDIRECT_URI, scope, state: "bench-state", nonce: "bench-nonce", code_challenge: CHALLENGE, code_challenge_method: "S256", ...extra })) u.searchParams.set(k, v);
  return u.toString();
}

/** Follows an authorization request through edgeauth's login and consent pages to the code. */
export async function edgeauthCode(agent, issuer, client_id, scope) {
  let r = await agent.request(authorizeUrl(`${issuer}/authorize`, client_id, scope));
  if (r.status === 200 && r.text_.includes('name="password"')) {
    r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "bench", password: PASSWORD } });
  }
  if (r.status === 200 && r.text_.includes('name="decision"')) {
    r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  }
  const code = r.headers.get("location") && new URL(r.headers.get("location")).searchParams.get("code");
  must(code, `edgeauth authorize gave no code: ${r.status} ${r.text_.slice(0, 300)}`);
  return code;
}


export async function redeem(tokenUrl, auth, code) {
  const r = await fetchRetry(tokenUrl, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER }),
  });
  const j = await r.json();
  must(r.status === 200, `token: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

// ---------------------------------------------------------------------------------------------
// load: wrk, bounded in time, CPU of the server process from /proc before and after
// ---------------------------------------------------------------------------------------------

function wrkArgv(url, script, args, headers, seconds) {
  const argv = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "5s", "-s", join(LUA, script)];
  for (const [k, v] of Object.entries(headers)) argv.push("-H", `${k}: ${v}`);
  argv.push(url, "--", ...args);
  return argv;
}

function wrkResult(out, url) {
  const line = out.split("\n").find((l) => l.startsWith("BENCH "));
  must(line, `wrk printed no result:\n${out}`);
  const r = JSON.parse(line.slice(6));
  if (r.requests === 0) log(`wrk completed no request against ${url}:\n${out}`);
  return r;
}

export function wrk(url, script, args, headers, seconds) {
  const out = execFileSync("wrk", wrkArgv(url, script, args, headers, seconds), { env: { ...process.env, BENCH_LUA_DIR: LUA }, timeout: (seconds + 30) * 1000 }).toString();
  return wrkResult(out, url);
}

/** wrk without blocking this process's event loop: a worker under miniflare that logs (OpenAuth logs
 * every request) writes to a pipe this process drains, and would stall on a full pipe otherwise. */
export function wrkAsync(url, script, args, headers, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", wrkArgv(url, script, args, headers, seconds), { env: { ...process.env, BENCH_LUA_DIR: LUA }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk exited with ${code}:\n${out}`));
      else { try { resolve(wrkResult(out, url)); } catch (e) { reject(e); } }
    });
  });
}

/** `spec` is a load description, or an async function that makes a fresh one (the refresh grant
 * needs unused seed tokens for each wrk run). */
export async function load(pid, make, unit, profileAs) {
  const fresh = async () => (typeof make === "function" ? await make() : make);
  if (WARMUP > 0) { const w = await fresh(); await wrkAsync(w.url, w.script, w.args, w.headers, WARMUP); }
  const spec = await fresh();
  const perf = profileAs && spawn("perf", ["record", "-q", "-F", "999", "-g", "-p", String(pid), "-o", join(PROFILE, `${profileAs}.perf.data`), "--", "sleep", String(DURATION)], { stdio: "ignore" });
  const c0 = cpuMs(pid);
  const r = await wrkAsync(spec.url, spec.script, spec.args, spec.headers, DURATION);
  const cpu = cpuMs(pid) - c0;
  if (perf) await new Promise((resolve) => (perf.exitCode !== null ? resolve() : perf.on("exit", resolve)));
  const secs = r.duration_us / 1e6;
  // A unit is one request, except for the code flow, where it is one whole flow (3 requests).
  const units = unit === "flow" ? r.flows : r.requests;
  return {
    units_per_s: units / secs,
    requests_per_s: r.requests / secs,
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    cpu_ms_per_unit: cpu / units,
    cpu_ms_per_request: cpu / r.requests,
    errors: r.status_errors + r.socket_errors + r.bad,
  };
}

/** The median of each metric over rounds (errors are added up). */
export function median(rounds) {
  const out = {};
  for (const k of Object.keys(rounds[0])) {
    const xs = rounds.map((r) => r[k]).sort((a, b) => a - b);
    out[k] = k === "errors" ? xs.reduce((a, b) => a + b, 0) : xs[Math.floor(xs.length / 2)];
  }
  return out;
}


// The placement benchmark: end-to-end latency of edgeauth's release Workers bundle when its storage
// is where it would be on Workers, not on this machine. The bundle runs under workerd (miniflare's
// API) behind bench/placement-worker.mjs, which delays every D1, KV, Durable Object and outbound
// call by a round trip chosen by kind and regional profile, and counts the calls and their
// sequential waves per request. Run it through bench/placement.sh. See BENCHMARKS.md, "Placement model".
//
// Environment: BENCH_PLACEMENT_REQUESTS (measured requests, or flows, per workload and profile;
// default 40), BENCH_PLACEMENT_WARMUP (unmeasured ones first; default 5), BENCH_PLACEMENT_CONNECTIONS
// (requests in flight; default 2), BENCH_PLACEMENT_PROFILES (comma-separated; default all),
// BENCH_PLACEMENT_ONLY (comma-separated workload keys), BENCH_PLACEMENT_EXPIRED_WAIT (seconds idle
// before the expired-cache probe; 0 skips it), BENCH_PLACEMENT_LOG=1 (log every storage call),
// BENCH_JSON (a path: also write the results).
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { BUILD, edgeauthOptions } from "../tests/support/miniflare-options.mjs";
import { ROOT, REDIRECT_URI, log, fetchRetry, Agent, basic, must, statements, setUpEdgeauth, authorizeUrl, edgeauthCode, redeem, VERIFIER } from "./common.mjs";
import { PROFILES, KINDS } from "./placement-profiles.mjs";

const REQUESTS = Number(process.env.BENCH_PLACEMENT_REQUESTS ?? 40);
const WARMUP = Number(process.env.BENCH_PLACEMENT_WARMUP ?? 5);
const CONNECTIONS = Number(process.env.BENCH_PLACEMENT_CONNECTIONS ?? 2);
const PROFILE_NAMES = (process.env.BENCH_PLACEMENT_PROFILES ?? Object.keys(PROFILES).join(",")).split(",");
// Idle time before the expired-cache probe: past the engine's cache TTL (CONFIG_CACHE_TTL_MS); 0 skips it.
const EXPIRED_WAIT_S = Number(process.env.BENCH_PLACEMENT_EXPIRED_WAIT ?? 10.5);
// Log each storage call the worker makes (kind, and SQL, key or URL) on stderr.
const LOG = process.env.BENCH_PLACEMENT_LOG === "1";
const ONLY = process.env.BENCH_PLACEMENT_ONLY ? new Set(process.env.BENCH_PLACEMENT_ONLY.split(",")) : null;
for (const p of PROFILE_NAMES) must(PROFILES[p], `unknown profile ${p} (known: ${Object.keys(PROFILES).join(", ")})`);

// ---------------------------------------------------------------------------------------------
// the worker: the release bundle behind the placement wrapper
// ---------------------------------------------------------------------------------------------

function miniflare(stateDir, masterSecret, rootSecret, delays) {
  const problems = [];
  const options = edgeauthOptions({
    masterSecret,
    rootSecret,
    handleStructuredLogs: ({ level, message }) => {
      if (LOG && message.startsWith("[placement]")) return log(message.slice(12));
      if (level === "error" || level === "warn" || /panicked|RuntimeError/i.test(message)) problems.push(`${level}: ${message}`);
    },
    persistencePath: join(stateDir, "state"),
    directSocket: true,
  });
  const w = options.workers[0];
  // The wrapper is the main module (the first); it imports the bundle's index.js beside it.
  w.modules = [{ type: "ESModule", path: join(BUILD, "placement-worker.mjs"), contents: readFileSync(join(ROOT, "bench/placement-worker.mjs"), "utf8") }, ...w.modules];
  // AsyncLocalStorage, for the outbound fetch's per-request counters (the engine does not use it).
  w.compatibilityFlags = [...(w.compatibilityFlags ?? []), "nodejs_als"];
  w.bindings = { ...w.bindings, PLACEMENT: JSON.stringify({ ...delays, log: LOG }) };
  return { mf: new Miniflare(convertV4MiniflareOptions(options)), problems };
}

/** `x-bench-storage: d1_primary=2/2,...,waves=3` -> { d1_primary: [2, 2], ..., waves: 3 } */
function parseStorage(h) {
  must(h, "no x-bench-storage header: is the placement wrapper the main module?");
  const out = {};
  for (const part of h.split(",")) {
    const [k, v] = part.split("=");
    out[k] = k === "waves" ? Number(v) : v.split("/").map(Number);
  }
  return out;
}

async function timed(url, init) {
  const t0 = performance.now();
  const r = await fetchRetry(url, { redirect: "manual", ...init });
  const text = await r.text();
  const ms = performance.now() - t0;
  return { status: r.status, text, headers: r.headers, ms, storage: parseStorage(r.headers.get("x-bench-storage")) };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** Runs `n` units (after `warm` unmeasured ones) over CONNECTIONS workers; `unit(worker)` returns
 * { parts: [{ name, ms, storage }] } (one part per request; a code flow has three). */
async function run(n, warm, unit) {
  for (let i = 0; i < warm; i++) await unit(i % CONNECTIONS);
  const samples = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, worker) => {
    while (next < n) { next++; samples.push(await unit(worker)); }
  }));
  return samples;
}

/** Latency percentiles and the mean calls/waves per kind over samples (per request part, and summed over the unit). */
function summarize(samples) {
  const agg = (rows) => {
    const ms = rows.map((r) => r.ms);
    const mean = (f) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
    const storage = Object.fromEntries(KINDS.map((k) => [k, { calls: mean((r) => r.storage[k][0]), waves: mean((r) => r.storage[k][1]) }]));
    storage.waves = mean((r) => r.storage.waves);
    const varies = KINDS.some((k) => new Set(rows.map((r) => r.storage[k].join("/"))).size > 1);
    return { n: rows.length, p50_ms: pct(ms, 50), p99_ms: pct(ms, 99), mean_ms: mean((r) => r.ms), storage, counts_vary: varies };
  };
  const names = samples[0].parts.map((p) => p.name);
  const perPart = names.map((name, i) => ({ name, ...agg(samples.map((s) => s.parts[i])) }));
  if (names.length === 1) return { ...perPart[0], parts: null };
  // The unit (a flow): its requests are sequential, so its latency, calls and waves are sums.
  const units = samples.map((s) => ({
    ms: s.parts.reduce((a, p) => a + p.ms, 0),
    storage: { ...Object.fromEntries(KINDS.map((k) => [k, [0, 1].map((j) => s.parts.reduce((a, p) => a + p.storage[k][j], 0))])), waves: s.parts.reduce((a, p) => a + p.storage.waves, 0) },
  }));
  return { name: "flow", ...agg(units), parts: perPart };
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

if (!existsSync(join(BUILD, "index_bg.wasm"))) throw new Error("no worker bundle: run scripts/build-worker.sh");
const stateDir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "edgeauth-placement-"));
const masterSecret = randomBytes(32).toString("base64url");
const rootSecret = randomBytes(24).toString("base64url");
let current = null;
const cleanup = async () => {
  if (current) { try { await current.mf.dispose(); } catch {} current = null; }
  rmSync(stateDir, { recursive: true, force: true });
};
process.on("SIGINT", () => cleanup().then(() => process.exit(130)));
process.on("SIGTERM", () => cleanup().then(() => process.exit(143)));

const form = "application/x-www-form-urlencoded";
const started = performance.now();
try {
  // ---- set-up, without delays: schema, tenant, clients, user; sign in once and consent per client ----
  log("placement: set-up (no delays)");
  current = miniflare(stateDir, masterSecret, rootSecret, PROFILES.loopback.delays);
  await current.mf.ready;
  let base = (await current.mf.unsafeGetDirectURL("edgeauth")).origin;
  const db = await current.mf.getD1Database("DB");
  for (const f of readdirSync(join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort()) {
    await db.batch(statements(readFileSync(join(ROOT, "migrations", f), "utf8")).map((s) => db.prepare(s)));
  }
  const secrets = await setUpEdgeauth(base, rootSecret);
  const agent = new Agent();
  await edgeauthCode(agent, `${base}/bench/es`, "web", "openid profile email");
  await edgeauthCode(agent, `${base}/bench/es`, "app", "openid profile email offline_access");
  await current.mf.dispose();
  current = null;

  const results = [];
  for (const profileName of PROFILE_NAMES) {
    const profile = PROFILES[profileName];
    const t0 = performance.now();
    log(`placement: profile ${profileName}: start (cold)`);
    current = miniflare(stateDir, masterSecret, rootSecret, profile.delays);
    await current.mf.ready;
    base = (await current.mf.unsafeGetDirectURL("edgeauth")).origin;
    const issuer = `${base}/bench/es`;
    const ccInit = { method: "POST", headers: { authorization: basic("svc", secrets["es/svc"]), "content-type": form }, body: "grant_type=client_credentials&scope=api" };

    // ---- cold: the isolate's first requests (empty caches: configuration, keys, clients) ----
    const coldDiscovery = await timed(`${issuer}/.well-known/openid-configuration`);
    must(coldDiscovery.status === 200, `cold discovery: ${coldDiscovery.status} ${coldDiscovery.text.slice(0, 200)}`);
    const coldToken = await timed(`${issuer}/token`, ccInit);
    must(coldToken.status === 200, `cold client_credentials: ${coldToken.status} ${coldToken.text.slice(0, 200)}`);
    const cold = {
      discovery: { ms: coldDiscovery.ms, storage: coldDiscovery.storage },
      client_credentials: { ms: coldToken.ms, storage: coldToken.storage },
    };

    // ---- tokens for userinfo, introspection and the refresh chains (one chain per connection) ----
    const webAuth = basic("web", secrets["es/web"]);
    const appAuth = basic("app", secrets["es/app"]);
    const webTokens = await redeem(`${issuer}/token`, webAuth, await edgeauthCode(agent, issuer, "web", "openid profile email"));
    const chains = [];
    for (let i = 0; i < CONNECTIONS; i++) chains.push((await redeem(`${issuer}/token`, appAuth, await edgeauthCode(agent, issuer, "app", "openid profile email offline_access"))).refresh_token);

    const one = (name, url, init, check = (r) => r.status === 200) => async () => {
      const r = await timed(url, init);
      must(check(r), `${name}: ${r.status} ${r.text.slice(0, 300)}`);
      return { parts: [{ name, ms: r.ms, storage: r.storage }] };
    };
    const authorizePath = authorizeUrl(`${issuer}/authorize`, "web", "openid profile email");
    const workloads = [
      { key: "discovery", name: "discovery", unit: one("discovery", `${issuer}/.well-known/openid-configuration`) },
      { key: "jwks", name: "JWKS", unit: one("jwks", `${issuer}/jwks`) },
      { key: "client_credentials", name: "client_credentials ES256", unit: one("token", `${issuer}/token`, ccInit) },
      {
        key: "code_flow", name: "code flow (authorize+token+userinfo, SSO session)",
        unit: async () => {
          const a = await timed(authorizePath, { headers: { cookie: agent.header() } });
          const code = a.headers.get("location") && new URL(a.headers.get("location")).searchParams.get("code");
          must((a.status === 302 || a.status === 303) && code, `authorize: ${a.status} ${a.text.slice(0, 300)}`);
          const t = await timed(`${issuer}/token`, { method: "POST", headers: { authorization: webAuth, "content-type": form }, body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER }).toString() });
          must(t.status === 200, `token: ${t.status} ${t.text.slice(0, 300)}`);
          const u = await timed(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${JSON.parse(t.text).access_token}` } });
          must(u.status === 200, `userinfo: ${u.status} ${u.text.slice(0, 300)}`);
          return { parts: [{ name: "authorize", ms: a.ms, storage: a.storage }, { name: "token", ms: t.ms, storage: t.storage }, { name: "userinfo", ms: u.ms, storage: u.storage }] };
        },
      },
      {
        key: "refresh", name: "refresh (rotation)",
        unit: async (worker) => {
          const r = await timed(`${issuer}/token`, { method: "POST", headers: { authorization: appAuth, "content-type": form }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: chains[worker] }).toString() });
          must(r.status === 200, `refresh: ${r.status} ${r.text.slice(0, 300)}`);
          chains[worker] = JSON.parse(r.text).refresh_token;
          must(chains[worker], "refresh: no new refresh token");
          return { parts: [{ name: "token", ms: r.ms, storage: r.storage }] };
        },
      },
      { key: "userinfo", name: "userinfo", unit: one("userinfo", `${issuer}/userinfo`, { headers: { authorization: `Bearer ${webTokens.access_token}` } }) },
      {
        key: "introspection", name: "introspection (JWT access token)",
        unit: one("introspect", `${issuer}/introspect`, { method: "POST", headers: { authorization: webAuth, "content-type": form }, body: new URLSearchParams({ token: webTokens.access_token }).toString() }, (r) => r.status === 200 && JSON.parse(r.text).active === true),
      },
      {
        // The refresh token of the first chain, read before the refresh workload rotates it away.
        key: "introspection_refresh", name: "introspection (refresh token)",
        unit: one("introspect", `${issuer}/introspect`, { method: "POST", headers: { authorization: appAuth, "content-type": form }, body: new URLSearchParams({ token: chains[0] }).toString() }, (r) => r.status === 200 && JSON.parse(r.text).active === true),
      },
    ].filter((w) => !ONLY || ONLY.has(w.key));
    // The refresh token introspected must still be live: introspect before rotating.
    workloads.sort((a, b) => (a.key === "refresh") - (b.key === "refresh"));

    const rows = [];
    for (const w of workloads) {
      const n = w.key === "code_flow" ? Math.max(1, Math.round(REQUESTS / 2)) : REQUESTS;
      log(`placement: ${profileName}: ${w.name}: ${WARMUP} warm-up + ${n}, ${CONNECTIONS} in flight`);
      rows.push({ ...summarize(await run(n, WARMUP, w.unit)), key: w.key, name: w.name, unit: w.key === "code_flow" ? "flow" : "request" });
    }
    // ---- expired: the same isolate after its cached configuration, keys and clients have aged past
    // the engine's TTL (CONFIG_CACHE_TTL_MS, 10 s): the request that finds them stale reloads them ----
    let expired = null;
    if (EXPIRED_WAIT_S > 0) {
      log(`placement: ${profileName}: ${EXPIRED_WAIT_S} s idle, then discovery and client_credentials on expired caches`);
      await new Promise((r) => setTimeout(r, EXPIRED_WAIT_S * 1000));
      const d = await timed(`${issuer}/.well-known/openid-configuration`);
      const t = await timed(`${issuer}/token`, ccInit);
      must(d.status === 200 && t.status === 200, `expired: ${d.status} ${t.status}`);
      expired = { discovery: { ms: d.ms, storage: d.storage }, client_credentials: { ms: t.ms, storage: t.storage } };
    }
    results.push({ profile: profileName, description: profile.description, delays: profile.delays, cold, expired, workloads: rows, problems: current.problems.slice(0, 5), seconds: (performance.now() - t0) / 1000 });
    await current.mf.dispose();
    current = null;
  }

  // ---- report ----
  const f = (x, d = 0) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
  const cw = (s) => { const c = +s.calls.toFixed(2), w = +s.waves.toFixed(2); return c === 0 ? "·" : `${c}/${w}`; };
  const lines = [];
  const p = (s = "") => lines.push(s);
  p(`## edgeauth placement model: end-to-end latency with storage round trips (one run)`);
  p("");
  p(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}; loopback; ${CONNECTIONS} requests in flight, ${WARMUP} warm-up then ${REQUESTS} measured requests per workload (code flow: ${Math.max(1, Math.round(REQUESTS / 2))} flows); p99 of so few samples is close to the maximum`);
  p("storage cells: mean calls/sequential waves per request (calls that overlap share a wave); · = none; waves = round-trip waves of any kind");
  for (const r of results) {
    p("");
    p(`### ${r.profile}: ${r.description}`);
    p("");
    p(`delays (ms per round trip): ${KINDS.map((k) => `${k} ${r.delays[k]}`).join(", ")}`);
    p("");
    p(`| workload | p50 ms | p99 ms | ${KINDS.join(" | ")} | waves |`);
    p(`|---|---:|---:|${KINDS.map(() => "---:").join("|")}|---:|`);
    const row = (name, x) => p(`| ${name} | ${f(x.p50_ms, 1)} | ${f(x.p99_ms, 1)} | ${KINDS.map((k) => cw(x.storage[k])).join(" | ")} | ${+x.storage.waves.toFixed(2)} |`);
    for (const w of r.workloads) {
      row(w.unit === "flow" ? `${w.name}, per flow` : w.name, w);
      for (const part of w.parts ?? []) row(`&nbsp;&nbsp;${part.name}`, part);
      if (w.counts_vary || (w.parts ?? []).some((x) => x.counts_vary)) p(`| (${w.name}: counts varied between requests, as when one finds the engine's 10 s caches expired; means shown) |`);
    }
    p("");
    const calls = (x) => KINDS.filter((k) => x.storage[k][0]).map((k) => `${k} ${x.storage[k].join("/")}`).join(", ") || "no storage";
    p(`cold (the isolate's first requests): discovery ${f(r.cold.discovery.ms, 1)} ms (${calls(r.cold.discovery)}); then client_credentials ${f(r.cold.client_credentials.ms, 1)} ms (${calls(r.cold.client_credentials)})`);
    if (r.expired) p(`expired (warm isolate, ${EXPIRED_WAIT_S} s idle: cached configuration, keys and clients past the engine's 10 s TTL): discovery ${f(r.expired.discovery.ms, 1)} ms (${calls(r.expired.discovery)}); then client_credentials ${f(r.expired.client_credentials.ms, 1)} ms (${calls(r.expired.client_credentials)})`);
    if (r.problems.length) p(`worker log problems: ${r.problems.join(" | ")}`);
  }
  p("");
  p(`Summary: D1-primary calls/sequential waves per request (per flow for the code flow; ${results[0].profile} profile, mean), all round-trip waves, and p50 ms per profile`);
  p("");
  p(`| workload | D1 primary | all waves | ${results.map((r) => `${r.profile} p50`).join(" | ")} |`);
  p(`|---|---:|---:|${results.map(() => "---:").join("|")}|`);
  for (const w of results[0].workloads) {
    p(`| ${w.name} | ${cw(w.storage.d1_primary)} | ${+w.storage.waves.toFixed(2)} | ${results.map((r) => f(r.workloads.find((x) => x.key === w.key)?.p50_ms, 1)).join(" | ")} |`);
  }
  const coldRow = (what, key) => p(`| ${what} | ${cw({ calls: results[0][key].client_credentials.storage.d1_primary[0], waves: results[0][key].client_credentials.storage.d1_primary[1] })} | ${results[0][key].client_credentials.storage.waves} | ${results.map((r) => f(r[key]?.client_credentials.ms, 1)).join(" | ")} |`);
  coldRow("client_credentials, cold isolate (after a cold discovery)", "cold");
  if (results[0].expired) coldRow("client_credentials, expired caches", "expired");
  p("");
  p(`total ${f((performance.now() - started) / 1000)} s`);
  console.log(lines.join("\n"));
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ connections: CONNECTIONS, requests: REQUESTS, warmup: WARMUP, profiles: PROFILES, results }, null, 2));
} finally {
  await cleanup();
}

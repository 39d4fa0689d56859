// The edge benchmark: edgeauth's release Workers bundle under workerd (miniflare's API) against
// panva's oidc-provider (bench/oidc-provider.mjs), loaded side by side by the same tool with the
// same settings on loopback. Run it through bench/run.sh (installs wrk and oidc-provider, builds).
//
// Each workload runs BENCH_ROUNDS rounds (default 3), each round loading edgeauth then
// oidc-provider; the table shows the median of the rounds.
// Environment (see bench/common.mjs): BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS, BENCH_CONNECTIONS,
// BENCH_ONLY, BENCH_PROFILE; BENCH_JSON (a path: also write the results there).
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
// The worker's options, shared with the tests' harness (the same bundle, bindings and settings).
import { BUILD, COMPATIBILITY_DATE, edgeauthOptions } from "../tests/support/miniflare-options.mjs";

// The edge peers (workers-oauth-provider, OpenAuth), loaded in the same rounds: bench/peers.mjs.
import * as peers from "./peers.mjs";
import { ROOT, DURATION, WARMUP, ROUNDS, CONNECTIONS, ONLY, PROFILE, REDIRECT_URI, RESOURCE_ES256, RESOURCE_PS256, log, fetchRetry, Agent, basic, must, descendants, decodeJwtHeader, timeToFirst200, statements, setUpEdgeauth, authorizeUrl, edgeauthCode, redeem, load, median, VERIFIER } from "./common.mjs";

function miniflare(stateDir, masterSecret, rootSecret) {
  const problems = [];
  const mf = new Miniflare(convertV4MiniflareOptions(edgeauthOptions({
    masterSecret,
    rootSecret,
    handleStructuredLogs: ({ level, message }) => {
      if (level === "error" || level === "warn" || /edgeauth|panicked|RuntimeError/i.test(message)) problems.push(`${level}: ${message}`);
    },
    // KV, D1 and Durable Objects on disk, so the state outlives a restart (the cold start below).
    persistencePath: join(stateDir, "state"),
    // A socket straight to the worker, as bare `workerd serve` would have: the load skips
    // miniflare's entry worker (which alone costs ~0.2 ms of CPU per request here).
    directSocket: true,
  })));
  return { mf, problems };
}
/** Follows an authorization request through oidc-provider's interaction (bench/oidc-provider.mjs) to the code. */
async function providerCode(agent, issuer, client_id, scope, extra = {}) {
  let url = authorizeUrl(`${issuer}/auth`, client_id, scope, extra);
  for (let hops = 0; hops < 6; hops++) {
    const r = await agent.request(url);
    const loc = r.headers.get("location");
    must(loc, `oidc-provider: no redirect from ${url}: ${r.status} ${r.text_.slice(0, 300)}`);
    const next = new URL(loc, issuer);
    if (next.origin + next.pathname === REDIRECT_URI) {
      const code = next.searchParams.get("code");
      must(code, `oidc-provider gave no code: ${loc}`);
      return code;
    }
    url = next.toString();
  }
  throw new Error("oidc-provider: too many redirects");
}
// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

if (!existsSync(join(BUILD, "index_bg.wasm"))) throw new Error("no worker bundle: run scripts/build-worker.sh (bench/run.sh does)");
const wasm = readFileSync(join(BUILD, "index_bg.wasm"));
const bundle = { raw_kb: wasm.length / 1024, gzip_kb: gzipSync(wasm, { level: 9 }).length / 1024, js_kb: statSync(join(BUILD, "index.js")).size / 1024 };

// In memory (tmpfs) where there is one: oidc-provider's SQLite is in memory too.
const stateDir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "edgeauth-bench-"));
const masterSecret = randomBytes(32).toString("base64url");
const rootSecret = randomBytes(24).toString("base64url");
const children = [];
const references = [];
let current = null;
const cleanup = async () => {
  for (const c of children) { try { process.kill(-c.pid, "SIGTERM"); } catch {} }
  if (current) { try { await current.mf.dispose(); } catch {} current = null; }
  for (const r of references.splice(0)) { try { await r.dispose(); } catch {} }
  rmSync(stateDir, { recursive: true, force: true });
};
process.on("SIGINT", () => cleanup().then(() => process.exit(130)));
process.on("SIGTERM", () => cleanup().then(() => process.exit(143)));

try {
  // ---- edgeauth: set up once, then restart cold on the same persisted state ----
  log("edgeauth: first start, set-up through the bootstrap API");
  current = miniflare(stateDir, masterSecret, rootSecret);
  await current.mf.ready;
  let base = (await current.mf.unsafeGetDirectURL("edgeauth")).origin;
  const db = await current.mf.getD1Database("DB");
  for (const f of readdirSync(join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort()) {
    await db.batch(statements(readFileSync(join(ROOT, "migrations", f), "utf8")).map((s) => db.prepare(s)));
  }
  const eaSecrets = await setUpEdgeauth(base, rootSecret);
  const eaAgent = new Agent();
  // Sign in once (Argon2id) and consent once per client; later authorizations ride the SSO session.
  await edgeauthCode(eaAgent, `${base}/bench/es`, "web", "openid profile email");
  await edgeauthCode(eaAgent, `${base}/bench/es`, "app", "openid profile email offline_access");
  await current.mf.dispose();
  current = null;

  log("edgeauth: cold start");
  const t0 = performance.now();
  current = miniflare(stateDir, masterSecret, rootSecret);
  await current.mf.ready;
  base = (await current.mf.unsafeGetDirectURL("edgeauth")).origin;
  const tReady = performance.now() - t0;
  const firstDiscovery = await timeToFirst200(`${base}/bench/es/.well-known/openid-configuration`);
  const tFirst = performance.now() - t0;
  const tFirstToken = await timeToFirst200(`${base}/bench/es/token`, { method: "POST", headers: { authorization: basic("svc", eaSecrets["es/svc"]), "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials&scope=api" });
  const [workerd] = descendants("workerd");
  must(workerd, "no workerd process found under this node process");
  const eaCold = { to_listening_ms: tReady, first_200_ms: tFirst, first_request_ms: firstDiscovery, first_token_ms: tFirstToken };
  const ea = { name: "edgeauth", pid: workerd, issuer: `${base}/bench/es` };

  // ---- the reference: a minimal JS worker (bench/reference-worker.js), the harness's ceiling ----
  log("reference worker: start");
  const refMf = new Miniflare(convertV4MiniflareOptions({
    cf: false, host: "127.0.0.1", port: 0,
    workers: [{ name: "reference", modules: true, scriptPath: join(ROOT, "bench/reference-worker.js"), compatibilityDate: COMPATIBILITY_DATE, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
  }));
  references.push(refMf);
  await refMf.ready;
  const refBase = (await refMf.unsafeGetDirectURL("reference")).origin;
  const refPid = descendants("workerd").find((pid) => pid !== workerd);
  must(refPid, "no workerd process found for the reference worker");
  const ref = { name: "reference (minimal JS worker)", pid: refPid };

  // ---- oidc-provider ----
  log("oidc-provider: start");
  const p0 = performance.now();
  const child = spawn(process.execPath, [join(ROOT, "bench/oidc-provider.mjs")], {
    env: { ...process.env, NODE_ENV: "production", NODE_NO_WARNINGS: "1" }, detached: true, stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const ready = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => { buf += d; const m = buf.match(/READY (\d+) (\{.*\})\n/); if (m) resolve(m); });
    child.on("exit", (code) => reject(new Error(`oidc-provider exited with ${code}`)));
  });
  const opBase = `http://127.0.0.1:${ready[1]}`;
  const opSecrets = JSON.parse(ready[2]);
  const opFirst = await timeToFirst200(`${opBase}/.well-known/openid-configuration`);
  const opCold = { first_200_ms: performance.now() - p0, first_request_ms: opFirst };
  const op = { name: "oidc-provider", pid: child.pid, issuer: opBase };
  const opAgent = new Agent();
  await providerCode(opAgent, opBase, "web", "openid profile email");
  await providerCode(opAgent, opBase, "app", "openid profile email offline_access", { prompt: "consent" });

  // ---- refresh token seeds: 2 per connection, from full code flows on the live SSO sessions ----
  const seeds = async (n, code, tokenUrl, auth) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await redeem(tokenUrl, auth, await code())).refresh_token);
    must(out.every(Boolean), "a seed code flow gave no refresh token");
    return out;
  };
  let seedFiles = 0;
  const seedFile = (name, tokens) => { const p = join(stateDir, `${name}-${seedFiles++}`); writeFileSync(p, tokens.join("\n") + "\n"); return p; };

  // ---- the workloads: same tool (wrk, 1 thread, CONNECTIONS connections), same duration ----
  const form = "application/x-www-form-urlencoded";
  const cc = (issuer, tokenPath, id, secret, body) => ({
    url: issuer + tokenPath, script: "plain.lua", args: ["POST", body], headers: { Authorization: basic(id, secret), "Content-Type": form },
  });
  const flowTail = `&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${VERIFIER}`;
  const workloads = [
    {
      name: "discovery", tool: "wrk",
      ea: { url: `${ea.issuer}/.well-known/openid-configuration`, script: "plain.lua", args: ["GET"], headers: {} },
      op: { url: `${opBase}/.well-known/openid-configuration`, script: "plain.lua", args: ["GET"], headers: {} },
      ref: { url: `${refBase}/ref/.well-known/openid-configuration`, script: "plain.lua", args: ["GET"], headers: {} },
    },
    {
      name: "jwks", tool: "wrk",
      ea: { url: `${ea.issuer}/jwks`, script: "plain.lua", args: ["GET"], headers: {} },
      op: { url: `${opBase}/jwks`, script: "plain.lua", args: ["GET"], headers: {} },
      ref: { url: `${refBase}/ref/jwks`, script: "plain.lua", args: ["GET"], headers: {} },
    },
    {
      name: "client_credentials ES256", tool: "wrk",
      ea: cc(`${base}/bench/es`, "/token", "svc", eaSecrets["es/svc"], "grant_type=client_credentials&scope=api"),
      op: cc(opBase, "/token", "svc", opSecrets.svc, `grant_type=client_credentials&scope=api&resource=${encodeURIComponent(RESOURCE_ES256)}`),
      ref: cc(`${refBase}/ref`, "/token", "svc", "reference-secret", "grant_type=client_credentials&scope=api"),
      check: "ES256",
    },
    {
      name: "client_credentials PS256", tool: "wrk",
      ea: cc(`${base}/bench/ps`, "/token", "svc", eaSecrets["ps/svc"], "grant_type=client_credentials&scope=api"),
      op: cc(opBase, "/token", "svc", opSecrets.svc, `grant_type=client_credentials&scope=api&resource=${encodeURIComponent(RESOURCE_PS256)}`),
      ref: cc(`${refBase}/ref-ps`, "/token", "svc", "reference-secret", "grant_type=client_credentials&scope=api"),
      check: "PS256",
    },
    {
      name: "refresh (rotation)", tool: "wrk + bench/wrk/refresh.lua",
      ea: async () => ({
        url: `${ea.issuer}/token`, script: "refresh.lua", headers: { Authorization: basic("app", eaSecrets["es/app"]), "Content-Type": form },
        args: [seedFile("ea-refresh", await seeds(2 * CONNECTIONS, () => edgeauthCode(eaAgent, ea.issuer, "app", "openid profile email offline_access"), `${ea.issuer}/token`, basic("app", eaSecrets["es/app"])))],
      }),
      op: async () => ({
        url: `${opBase}/token`, script: "refresh.lua", headers: { Authorization: basic("app", opSecrets.app), "Content-Type": form },
        args: [seedFile("op-refresh", await seeds(2 * CONNECTIONS, () => providerCode(opAgent, opBase, "app", "openid profile email offline_access", { prompt: "consent" }), `${opBase}/token`, basic("app", opSecrets.app)))],
      }),
    },
    {
      name: "code flow (authorize+token+userinfo)", tool: "wrk + bench/wrk/codeflow.lua", unit: "flow",
      ea: () => ({
        url: ea.issuer + "/authorize", script: "codeflow.lua", headers: {},
        args: [new URL(authorizeUrl(`${ea.issuer}/authorize`, "web", "openid profile email")).pathname + new URL(authorizeUrl(`${ea.issuer}/authorize`, "web", "openid profile email")).search,
          "/bench/es/token", "/bench/es/userinfo", basic("web", eaSecrets["es/web"]), eaAgent.header(), flowTail],
      }),
      op: () => ({
        url: opBase + "/auth", script: "codeflow.lua", headers: {},
        args: [new URL(authorizeUrl(`${opBase}/auth`, "web", "openid profile email")).pathname + new URL(authorizeUrl(`${opBase}/auth`, "web", "openid profile email")).search,
          "/token", "/me", basic("web", opSecrets.web), opAgent.header(), flowTail],
      }),
    },
  ].filter((w) => !ONLY || ONLY.has(w.name.split(" ")[0]) || ONLY.has(w.name));
  // The edge peers (BENCH_PEERS=0 skips them): each under its own workerd, added to the workloads it supports.
  const peerState = peers.wantsPeers(workloads) ? await peers.startPeers(stateDir) : null;
  if (peerState) { references.push(...peerState.peers.map((p) => p.mf)); peers.attach(peerState, workloads, seedFile); }

  // One request of each kind through fetch first: both servers answer 200, with the same token format.
  const formats = {};
  for (const w of workloads.filter((w) => w.check)) {
    for (const [who, spec] of [["edgeauth", w.ea], ["oidc-provider", w.op], ...(w.ref ? [["reference", w.ref]] : [])]) {
      const r = await fetchRetry(spec.url, { method: "POST", headers: { authorization: spec.headers.Authorization, "content-type": form }, body: spec.args[1] });
      const j = await r.json();
      must(r.status === 200, `${who} ${w.name}: ${r.status} ${JSON.stringify(j)}`);
      const h = decodeJwtHeader(j.access_token);
      must(h.alg === w.check && /^at\+jwt$/i.test(h.typ), `${who} ${w.name}: access token header ${JSON.stringify(h)}`);
      formats[`${who} ${w.name}`] = `${h.typ} ${h.alg}`;
    }
  }

  const results = [];
  for (const w of workloads) {
    const row = { name: w.name, tool: w.tool, tools: w.tools, unit: w.unit ?? "request" };
    const rounds = { ea: [], op: [], ref: [] };
    for (const p of w.peers ?? []) rounds[p.key] = [];
    // Alternate the servers, round after round, so drift in the machine's speed hits both alike.
    for (let i = 0; i < ROUNDS; i++) {
      for (const [key, server] of [["ea", ea], ["op", op], ...(w.ref ? [["ref", ref]] : []), ...(w.peers ?? []).map((p) => [p.key, p])]) {
        log(`${w.name}: ${server.name}, round ${i + 1}/${ROUNDS} (${WARMUP} s warm-up, ${DURATION} s load)`);
        // edgeauth's first round, and the reference's (its profile is the baseline to compare with).
        const profileAs = PROFILE && (key === "ea" || key === "ref") && i === 0 ? w.name.split(" (")[0].replace(/ /g, "-") + (key === "ref" ? "-reference" : "") : null;
        rounds[key].push(await load(server.pid, w[key], w.unit, profileAs));
      }
    }
    row.rounds = rounds;
    row.ea = median(rounds.ea);
    row.op = median(rounds.op);
    if (rounds.ref.length) row.ref = median(rounds.ref);
    for (const p of w.peers ?? []) row[p.key] = median(rounds[p.key]);
    results.push(row);
  }
  // One refresh token refreshed by 20 requests at once, on every server (bench/peers.mjs).
  const concurrency = peers.CONCURRENT_ON ? await peers.checkConcurrentRefresh(peerState, [
    peers.oauthTarget("edgeauth", { tokenUrl: `${ea.issuer}/token`, auth: basic("app", eaSecrets["es/app"]), protectedUrl: `${ea.issuer}/userinfo`, code: () => edgeauthCode(eaAgent, ea.issuer, "app", "openid profile email offline_access"), exactlyOne: true }),
    peers.oauthTarget("oidc-provider", { tokenUrl: `${opBase}/token`, auth: basic("app", opSecrets.app), protectedUrl: `${opBase}/me`, code: () => providerCode(opAgent, opBase, "app", "openid profile email offline_access", { prompt: "consent" }) }),
  ]) : [];
  const oidcVersion = JSON.parse(readFileSync(join(ROOT, "bench/node_modules/oidc-provider/package.json"), "utf8")).version;
  const workerdVersion = (() => { try { return execFileSync(join(ROOT, "node_modules/.bin/workerd"), ["--version"]).toString().trim(); } catch { return "?"; } })();

  // ---- report ----
  const f = (x, d = 0) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
  const lines = [];
  const p = (s = "") => lines.push(s);
  p(`## edgeauth (workerd, a direct socket to the worker; miniflare's local KV, D1 and Durable Objects) vs oidc-provider ${oidcVersion} (Node ${process.versions.node}), one run`);
  p("");
  p(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}; ${workerdVersion}; wrk 1 thread, ${CONNECTIONS} connections, ${DURATION} s per load after ${WARMUP} s warm-up, ${ROUNDS} rounds alternating the servers, medians shown; loopback`);
  p("CPU = utime+stime from /proc of the workerd process (edgeauth) or the node process (oidc-provider) over the load, divided by the units served");
  p("");
  p("| workload | tool | server | units/s | p50 ms | p99 ms | CPU ms/unit | errors |");
  p("|---|---|---|---:|---:|---:|---:|---:|");
  for (const r of results) {
    for (const [key, who] of [["ea", "edgeauth"], ["op", "oidc-provider"], ["ref", ref.name], ...(peerState?.peers ?? []).map((x) => [x.key, x.name])]) {
      const x = r[key];
      if (!x) continue;
      p(`| ${r.name}${r.unit === "flow" ? " (unit: flow)" : ""} | ${r.tools?.[key] ?? r.tool} | ${who} | ${f(x.units_per_s)} | ${f(x.p50_ms, 2)} | ${f(x.p99_ms, 2)} | ${f(x.cpu_ms_per_unit, 3)} | ${x.errors} |`);
    }
  }
  p("");
  p("Ratios, edgeauth / oidc-provider (same run): throughput above 1 and CPU below 1 favour edgeauth.");
  p("");
  p("| workload | throughput | p50 | p99 | CPU per unit |");
  p("|---|---:|---:|---:|---:|");
  for (const r of results) {
    p(`| ${r.name} | ${f(r.ea.units_per_s / r.op.units_per_s, 2)} | ${f(r.ea.p50_ms / r.op.p50_ms, 2)} | ${f(r.ea.p99_ms / r.op.p99_ms, 2)} | ${f(r.ea.cpu_ms_per_unit / r.op.cpu_ms_per_unit, 2)} |`);
  }
  p("");
  // Per round (the servers of a round are loaded back to back): the CPU ratios' median and range.
  const ratios = (r, key) => r.rounds.ea.map((x, i) => x.cpu_ms_per_unit / r.rounds[key][i].cpu_ms_per_unit).sort((a, b) => a - b);
  const span = (xs) => (xs.length ? `${f(xs[Math.floor(xs.length / 2)], 2)} (${f(xs[0], 2)}-${f(xs[xs.length - 1], 2)})` : "-");
  p("CPU per unit by round, edgeauth over oidc-provider and over the reference: median (range)");
  p("");
  p("| workload | / oidc-provider | / reference |");
  p("|---|---:|---:|");
  for (const r of results) p(`| ${r.name} | ${span(ratios(r, "op"))} | ${r.rounds.ref.length ? span(ratios(r, "ref")) : "-"} |`);
  p("");
  p(`The reference (bench/reference-worker.js) is the ceiling of this harness, not a peer: a minimal JS worker under the same workerd that checks one fixed credential and signs one ES256 (or PS256) JWT with WebCrypto, with no tenant, client lookup, configuration or key management. Its throughput against oidc-provider's, same run: ${results.filter((r) => r.ref).map((r) => `${r.name} ${f(r.ref.units_per_s / r.op.units_per_s, 2)}x (edgeauth ${f(r.ea.units_per_s / r.op.units_per_s, 2)}x)`).join("; ")}.`);
  p("");
  p("For the code flow a unit is one whole flow (authorize with the SSO session cookie, token, userinfo: 3 requests); p50/p99 are over its requests.");
  p("Token formats checked before the loads: " + Object.entries(formats).map(([k, v]) => `${k}: ${v}`).join("; "));
  p("In the code flow and the refresh grant oidc-provider issues an opaque, stored access token (its userinfo accepts nothing else); edgeauth a JWT (ES256). Both sign an ES256 ID token.");
  p("");
  lines.push(...peers.report(peerState, results, concurrency, f));
  p("");
  p(`wasm bundle: ${f(bundle.raw_kb)} KB raw, ${f(bundle.gzip_kb)} KB gzip (-9); JS glue ${f(bundle.js_kb)} KB`);
  p(`cold start, edgeauth: miniflare+workerd start to listening ${f(eaCold.to_listening_ms)} ms; to the first 200 (discovery) ${f(eaCold.first_200_ms)} ms, of which the first request ${f(eaCold.first_request_ms, 1)} ms; first token (keys unsealed, WebCrypto import) ${f(eaCold.first_token_ms, 1)} ms`);
  p(`cold start, oidc-provider: node start to the first 200 (discovery) ${f(opCold.first_200_ms)} ms, of which the first request ${f(opCold.first_request_ms, 1)} ms`);
  const maxCpu = Math.max(...results.map((r) => r.ea.cpu_ms_per_request));
  p(`Workers free plan (10 ms CPU per request): the highest edgeauth mean is ${f(maxCpu, 2)} ms per request (${results.find((r) => r.ea.cpu_ms_per_request === maxCpu)?.name}); this counts the whole workerd process, including miniflare's local KV, D1 and Durable Object simulators, which on Workers run elsewhere`);
  if (current.problems.length) p(`worker log problems: ${current.problems.slice(0, 5).join(" | ")}`);
  console.log(lines.join("\n"));
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ bundle, eaCold, opCold, formats, results, peers: peers.summary(peerState), concurrency }, null, 2));
} finally {
  await cleanup();
}

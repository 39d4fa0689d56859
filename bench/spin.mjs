// The Spin benchmark: edgeauth's release Spin component (target/wasm32-wasip2/release/edgeauth_spin.wasm)
// served by the Spin test host (crates/spin-host: wasmtime, a fresh instance per request as Spin
// makes one), against the floor, a minimal spin-sdk 5.2 component answering a fixed JSON body
// (bench/spin-floor), served by the same host binary in the same run. Run it through
// bench/run-spin.sh (installs wrk, builds both components and the host).
//
// Each workload runs BENCH_ROUNDS rounds (default 3), each round loading edgeauth then the floor;
// the table shows the median of the rounds. Environment: see bench/common.mjs; BENCH_JSON (a path:
// also write the results there). BENCH_PROFILE=<dir> records `perf` profiles of edgeauth's host
// during the first round (the host is started with WASMTIME_PERFMAP=1 then, so the component's
// functions have names).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  ROOT, DURATION, WARMUP, ROUNDS, CONNECTIONS, ONLY, PROFILE, REDIRECT_URI, VERIFIER, log, fetchRetry, Agent, basic, must,
  decodeJwtHeader, setUpEdgeauth, authorizeUrl, edgeauthCode, redeem, load, median,
} from "./common.mjs";

// The host built `--profile spin-bench` (optimised, no debug assertions: bench/run-spin.sh builds it).
const HOST = process.env.BENCH_SPIN_HOST ?? join(ROOT, "target/spin-bench/edgeauth-spin-host");
const COMPONENT = join(ROOT, "target/wasm32-wasip2/release/edgeauth_spin.wasm");
const FLOOR_MANIFEST = join(ROOT, "bench/spin-floor/spin.toml");
const FLOOR = join(ROOT, "target/bench-floor/wasm32-wasip2/release/edgeauth_bench_floor.wasm");
for (const f of [HOST, COMPONENT, FLOOR]) must(existsSync(f), `missing ${f}: run bench/run-spin.sh`);

const stateDir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "edgeauth-spin-bench-"));
const masterSecret = randomBytes(32).toString("base64url");
const rootSecret = randomBytes(24).toString("base64url");
const children = [];
const hostLogs = [];
/** What the hosts logged, but for wrk closing its connections mid-request when a load ends (hyper and the SDK say so). */
const problems = () => hostLogs.flatMap(({ name, log }) => (existsSync(log) ? readFileSync(log, "utf8").split("\n") : [])
  .filter((l) => l && !/^listening on |connection error: hyper::Error\(IncompleteMessage\)|Could not set `ResponseOutparam`|^StreamError::Closed$/.test(l)).map((l) => `${name}: ${l}`));

/** Starts edgeauth-spin-host on a free loopback port; resolves with its base URL and pid. */
async function startHost(name, args, env = {}) {
  // The host's output (and the component's) goes to a file, not a pipe: this process blocks in
  // wrk (execFileSync) during every load and drains no pipe meanwhile, and a host whose stderr is
  // full stops answering (its connection-error lines block a worker thread on the write).
  const log = join(stateDir, `${name.replace(/\W+/g, "-")}.log`);
  const out = openSync(log, "w");
  const child = spawn(HOST, ["--listen", "127.0.0.1:0", ...args], {
    cwd: ROOT, env: { ...process.env, ...(PROFILE ? { WASMTIME_PERFMAP: "1" } : {}), ...env }, stdio: ["ignore", out, out],
  });
  children.push(child);
  hostLogs.push({ name, log });
  for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
    const listening = readFileSync(log, "utf8").match(/^listening on (\S+)$/m);
    if (listening) return { name, base: listening[1], pid: child.pid };
    if (child.exitCode !== null || Date.now() - t0 > 120000) throw new Error(`${name}: edgeauth-spin-host did not start: ${readFileSync(log, "utf8").slice(-2000)}`);
  }
}

const cleanup = async () => {
  for (const c of children) {
    if (c.exitCode === null) await new Promise((resolve) => { c.once("exit", resolve); c.kill("SIGTERM"); });
  }
  rmSync(stateDir, { recursive: true, force: true });
};
process.on("SIGINT", () => cleanup().then(() => process.exit(130)));
process.on("SIGTERM", () => cleanup().then(() => process.exit(143)));

const sizes = (path) => { const b = readFileSync(path); return { raw_kb: b.length / 1024, gzip_kb: gzipSync(b, { level: 9 }).length / 1024 }; };

/** A manifest like spin.toml but naming `component` (for BENCH_BEFORE). */
function manifestFor(component, dir) {
  if (component === COMPONENT) return join(ROOT, "spin.toml");
  const path = join(dir, "spin.toml");
  writeFileSync(path, readFileSync(join(ROOT, "spin.toml"), "utf8").replace(/^source = .*$/m, `source = ${JSON.stringify(component)}`));
  return path;
}

/** Starts edgeauth (`component`) in the test host and sets up the benchmark tenant in it. */
async function startEdgeauth(name, component) {
  const dir = mkdtempSync(join(stateDir, "ea-"));
  const migrations = readdirSync(join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort().flatMap((f) => ["--sqlite", `@${join(ROOT, "migrations", f)}`]);
  log(`${name}: start the Spin test host, set up through the bootstrap API`);
  const ea = await startHost(name, ["--from", manifestFor(component, dir), "--state-dir", dir, ...migrations], {
    SPIN_VARIABLE_MASTER_SECRET: masterSecret, SPIN_VARIABLE_ROOT_SECRET: rootSecret,
  });
  ea.component = component;
  ea.issuer = `${ea.base}/bench/es`;
  ea.secrets = await setUpEdgeauth(ea.base, rootSecret);
  ea.agent = new Agent();
  // Sign in once (Argon2id) and consent once per client; later authorizations ride the SSO session.
  await edgeauthCode(ea.agent, ea.issuer, "web", "openid profile email");
  await edgeauthCode(ea.agent, ea.issuer, "app", "openid profile email offline_access");
  return ea;
}

let seedFiles = 0;
const seedFile = (name, tokens) => { const p = join(stateDir, `${name}-${seedFiles++}`); writeFileSync(p, tokens.join("\n") + "\n"); return p; };
const form = "application/x-www-form-urlencoded";

/** The workloads' load descriptions against one edgeauth host. */
function specs(ea) {
  const seeds = async (n) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await redeem(`${ea.issuer}/token`, basic("app", ea.secrets["es/app"]), await edgeauthCode(ea.agent, ea.issuer, "app", "openid profile email offline_access"))).refresh_token);
    must(out.every(Boolean), "a seed code flow gave no refresh token");
    return out;
  };
  const cc = (ws) => ({ url: `${ea.base}/bench/${ws}/token`, script: "plain.lua", args: ["POST", "grant_type=client_credentials&scope=api"], headers: { Authorization: basic("svc", ea.secrets[`${ws}/svc`]), "Content-Type": form } });
  const authorizePath = () => { const u = new URL(authorizeUrl(`${ea.issuer}/authorize`, "web", "openid profile email")); return u.pathname + u.search; };
  return {
    discovery: { url: `${ea.issuer}/.well-known/openid-configuration`, script: "plain.lua", args: ["GET"], headers: {} },
    jwks: { url: `${ea.issuer}/jwks`, script: "plain.lua", args: ["GET"], headers: {} },
    "client_credentials ES256": cc("es"),
    "client_credentials PS256": cc("ps"),
    "refresh (rotation)": async () => ({ url: `${ea.issuer}/token`, script: "refresh.lua", headers: { Authorization: basic("app", ea.secrets["es/app"]), "Content-Type": form }, args: [seedFile("refresh", await seeds(2 * CONNECTIONS))] }),
    "code flow (authorize+token+userinfo)": () => ({ url: `${ea.issuer}/authorize`, script: "codeflow.lua", headers: {}, args: [authorizePath(), "/bench/es/token", "/bench/es/userinfo", basic("web", ea.secrets["es/web"]), ea.agent.header(), `&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${VERIFIER}`] }),
  };
}

try {
  const servers = [await startEdgeauth("edgeauth", COMPONENT)];
  // BENCH_BEFORE=<an older edgeauth_spin.wasm>: loaded too, in the same rounds, for a before/after table.
  if (process.env.BENCH_BEFORE) servers.push(await startEdgeauth("edgeauth (before)", process.env.BENCH_BEFORE));
  for (const ea of servers) ea.specs = specs(ea);

  log("floor: start the same host with the minimal component");
  const floor = await startHost("floor (minimal spin-sdk component)", ["--from", FLOOR_MANIFEST]);
  const floorSpec = { url: `${floor.base}/floor`, script: "plain.lua", args: ["GET"], headers: {} };
  must((await fetchRetry(floorSpec.url)).status === 200, "the floor does not answer 200");

  const workloads = [
    { name: "discovery" },
    { name: "jwks" },
    { name: "client_credentials ES256", check: "ES256" },
    { name: "client_credentials PS256", check: "PS256" },
    { name: "refresh (rotation)" },
    { name: "code flow (authorize+token+userinfo)", unit: "flow" },
  ].filter((w) => !ONLY || ONLY.has(w.name.split(" ")[0]) || ONLY.has(w.name));

  const formats = {};
  for (const ea of servers) {
    for (const w of workloads.filter((w) => w.check)) {
      const spec = ea.specs[w.name];
      const r = await fetchRetry(spec.url, { method: "POST", headers: { authorization: spec.headers.Authorization, "content-type": form }, body: spec.args[1] });
      const j = await r.json();
      must(r.status === 200, `${ea.name} ${w.name}: ${r.status} ${JSON.stringify(j)}`);
      const h = decodeJwtHeader(j.access_token);
      must(h.alg === w.check && /^at\+jwt$/i.test(h.typ), `${ea.name} ${w.name}: access token header ${JSON.stringify(h)}`);
      formats[`${ea.name} ${w.name}`] = `${h.typ} ${h.alg}`;
    }
  }

  const results = [];
  for (const w of workloads) {
    const rounds = { floor: [] };
    for (const ea of servers) rounds[ea.name] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const ea of servers) {
        log(`${w.name}: ${ea.name}, round ${i + 1}/${ROUNDS} (${WARMUP} s warm-up, ${DURATION} s load)`);
        const profileAs = PROFILE && i === 0 && ea === servers[0] ? "spin-" + w.name.split(" (")[0].replace(/ /g, "-") : null;
        rounds[ea.name].push(await load(ea.pid, ea.specs[w.name], w.unit, profileAs));
      }
      log(`${w.name}: floor, round ${i + 1}/${ROUNDS}`);
      rounds.floor.push(await load(floor.pid, floorSpec, "request", null));
    }
    results.push({ name: w.name, unit: w.unit ?? "request", rounds });
  }

  // ---- report ----
  const f = (x, d = 0) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
  const range = (xs, d) => { const s = [...xs].sort((a, b) => a - b); return s.length > 1 ? `${f(s[0], d)}-${f(s[s.length - 1], d)}` : f(s[0], d); };
  const lines = [];
  const p = (s = "") => lines.push(s);
  p("## edgeauth on Spin (edgeauth-spin-host: wasmtime, one instance per request) vs the floor (a minimal spin-sdk 5.2 component), one run");
  p("");
  p(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}; wrk 1 thread, ${CONNECTIONS} connections, ${DURATION} s per load after ${WARMUP} s warm-up, ${ROUNDS} rounds alternating the servers, medians shown (ranges over the rounds in brackets); loopback`);
  p("CPU = utime+stime from /proc of the host process serving it (all its threads) over the load, divided by the units served");
  p("");
  p("| workload | server | units/s | p50 ms | p99 ms | CPU ms/unit | errors | req/s / floor's (same round) |");
  p("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    for (const who of [...servers.map((s) => s.name), "floor"]) {
      const xs = r.rounds[who];
      const m = median(xs);
      const ratios = xs.map((x, i) => x.requests_per_s / r.rounds.floor[i].requests_per_s);
      const ratio = who === "floor" ? "" : `${f([...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)], 2)} (${range(ratios, 2)})`;
      p(`| ${who === servers[0].name ? r.name + (r.unit === "flow" ? " (unit: flow, 3 requests)" : "") : ""} | ${who} | ${f(m.units_per_s)} (${range(xs.map((x) => x.units_per_s), 0)}) | ${f(m.p50_ms, 2)} | ${f(m.p99_ms, 2)} (${range(xs.map((x) => x.p99_ms), 1)}) | ${f(m.cpu_ms_per_unit, 3)} | ${m.errors} | ${ratio} |`);
    }
  }
  p("");
  p("The ratio is of requests per second (for the code flow, its 3 requests per flow), edgeauth's over the floor's in the same round; the median round and the range.");
  p("Token formats checked before the loads: " + Object.entries(formats).map(([k, v]) => `${k}: ${v}`).join("; "));
  const fl = sizes(FLOOR);
  p(`components: ${servers.map((s) => { const c = sizes(s.component); return `${s.name} ${f(c.raw_kb)} KB raw, ${f(c.gzip_kb)} KB gzip (-9)`; }).join("; ")}; floor ${f(fl.raw_kb)} KB raw, ${f(fl.gzip_kb)} KB gzip`);
  const high = results.filter((r) => r.unit === "request" && median(r.rounds.edgeauth).p99_ms > 10).map((r) => `${r.name} ${f(median(r.rounds.edgeauth).p99_ms, 1)} ms`);
  p(`p99 above 10 ms (single-request workloads): ${high.length ? high.join("; ") : "none"}`);
  const logged = problems();
  if (logged.length) p(`host log (${logged.length} lines): ${logged.slice(0, 5).join(" | ")}`);
  console.log(lines.join("\n"));
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ floor: fl, formats, results }, null, 2));
} finally {
  await cleanup();
}

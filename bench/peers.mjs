// The edge peers of bench/bench.mjs: the two libraries a Workers developer would pick instead of
// edgeauth, each as a small worker (bench/peers/*.js) bundled with esbuild and served under its own
// workerd through miniflare's API, on a direct socket, with its KV persisted under the bench's state
// directory, as edgeauth's is:
//   - @cloudflare/workers-oauth-provider (key "wop"): code flow, refresh; it has no client_credentials;
//   - @openauthjs/openauth (key "oa", issuer built on every request as its Workers examples do, and
//     "oac", the same worker with the issuer built once per isolate): code flow, refresh, and
//     client_credentials through a provider's `client()` hook.
// bench.mjs calls startPeers() once the other servers run, attach() on its workloads (a peer is loaded
// in the same rounds, by the same wrk scripts and settings), and concurrentRefresh() for the
// correctness check; report() prints the peers' ratios and the check's counts.
// Environment: BENCH_PEERS=0 skips the peers; BENCH_PEERS=wop,oa,oac picks some.
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { COMPATIBILITY_DATE } from "../tests/support/miniflare-options.mjs";
import { ROOT, ONLY, CONNECTIONS, REDIRECT_URI, VERIFIER, log, fetchRetry, Agent, basic, must, descendants, decodeJwtHeader, authorizeUrl, redeem } from "./common.mjs";

const SETTING = process.env.BENCH_PEERS ?? "1";
export const PEERS_ON = SETTING !== "0";
const WANTED = SETTING === "1" ? null : new Set(SETTING.split(","));
/** Concurrent refresh requests with one refresh token. */
export const CONCURRENT = 20;
/** The concurrent-refresh check runs with every run, or when BENCH_ONLY names refresh or it. */
export const CONCURRENT_ON = !ONLY || ONLY.has("refresh") || ONLY.has("concurrent-refresh");
const form = "application/x-www-form-urlencoded";
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, "bench/node_modules", pkg, "package.json"), "utf8")).version;
const pathOf = (url) => { const u = new URL(url); return u.pathname + u.search; };

async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function bundle(name, outDir) {
  const out = join(outDir, `${name}.js`);
  // As wrangler bundles a worker: one ES module, the workerd/worker/browser export conditions,
  // cloudflare:* and node:* left to the runtime.
  execFileSync(join(ROOT, "node_modules/.bin/esbuild"), [
    join(ROOT, "bench/peers", `${name}.js`), "--bundle", "--format=esm", "--platform=browser", "--target=es2022",
    "--conditions=workerd,worker,browser", "--main-fields=browser,module,main",
    "--external:cloudflare:*", "--external:node:*", `--outfile=${out}`, "--log-level=warning",
  ], { stdio: ["ignore", "ignore", "inherit"] });
  return out;
}

/** One worker under its own workerd (miniflare's API), a direct socket on `port`, one KV namespace. */
async function serve({ name, script, port, kv, bindings, flags = [], persist, problems }) {
  const before = new Set(descendants("workerd"));
  const mf = new Miniflare(convertV4MiniflareOptions({
    cf: false, host: "127.0.0.1", port: 0,
    resourcePersistencePath: persist,
    handleStructuredLogs: ({ level, message }) => {
      if ((level === "error" || level === "warn") && !/CIMD .*is disabled/.test(message)) problems.push(`${name} ${level}: ${message.slice(0, 200)}`);
    },
    workers: [{
      name, modules: true, scriptPath: script, modulesRoot: dirname(script), compatibilityDate: COMPATIBILITY_DATE, compatibilityFlags: flags,
      kvNamespaces: [kv], bindings, unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    }],
  }));
  await mf.ready;
  const base = (await mf.unsafeGetDirectURL(name)).origin;
  const pid = descendants("workerd").find((p) => !before.has(p));
  must(pid, `no workerd process found for ${name}`);
  return { mf, base, pid };
}

const json = async (r) => { try { return JSON.parse(await r.text()); } catch { return {}; } };

// ---------------------------------------------------------------------------------------------
// @cloudflare/workers-oauth-provider
// ---------------------------------------------------------------------------------------------

async function startWop(dirs, problems) {
  const port = await freePort();
  const setupSecret = randomBytes(16).toString("hex");
  const s = await serve({
    name: "workers-oauth-provider", script: bundle("workers-oauth-provider", dirs.build), port, kv: "OAUTH_KV",
    bindings: { RESOURCE: `http://127.0.0.1:${port}/api`, SETUP_SECRET: setupSecret }, persist: join(dirs.state, "wop"), problems,
  });
  const { base } = s;
  const r = await fetchRetry(`${base}/bench/setup`, { method: "POST", headers: { authorization: `Bearer ${setupSecret}`, "content-type": "application/json" }, body: JSON.stringify({ redirectUris: [REDIRECT_URI] }) });
  const client = await json(r);
  must(r.status === 200 && client.clientId && client.clientSecret, `workers-oauth-provider setup: ${r.status} ${JSON.stringify(client)}`);
  const auth = basic(client.clientId, client.clientSecret);
  const scope = "openid profile email offline_access";
  const authorize = authorizeUrl(`${base}/authorize`, client.clientId, scope);
  const tokenUrl = `${base}/oauth/token`;
  const code = async () => {
    const r = await fetchRetry(authorize, { redirect: "manual" });
    await r.arrayBuffer();
    const loc = r.headers.get("location");
    const c = loc && new URL(loc).searchParams.get("code");
    must(c, `workers-oauth-provider authorize gave no code: ${r.status} ${loc}`);
    return c;
  };
  const fresh = async () => redeem(tokenUrl, auth, await code());
  return {
    key: "wop", name: `workers-oauth-provider ${version("@cloudflare/workers-oauth-provider")}`, pid: s.pid, mf: s.mf, base,
    signs: "nothing: opaque tokens (userId:grantId:secret), stored in KV by SHA-256 hash",
    units: {
      "code flow": "GET /authorize (defaultHandler: parseAuthRequest, completeAuthorization for the fixed user) → 302 with a code → POST /oauth/token (client_secret_basic, PKCE) → opaque access and refresh tokens → GET /api/me (apiHandler behind the provider's token check); 3 requests",
      "refresh (rotation)": "POST /oauth/token grant_type=refresh_token (client_secret_basic); each answer's new refresh token used once",
    },
    fresh,
    refresh: (t) => fetchRetry(tokenUrl, { method: "POST", headers: { authorization: auth, "content-type": form }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t }) }),
    protected: async (a) => { const r = await fetchRetry(`${base}/api/me`, { headers: { authorization: `Bearer ${a}` } }); await r.arrayBuffer(); return r.status === 200; },
    workloads: {
      "refresh (rotation)": async (seedFile) => ({
        url: tokenUrl, script: "refresh.lua", headers: { Authorization: auth, "Content-Type": form },
        args: [seedFile("wop-refresh", await seeds(2 * CONNECTIONS, fresh))],
      }),
      "code flow": () => ({
        url: authorize, script: "codeflow.lua", headers: {},
        args: [pathOf(authorize), "/oauth/token", "/api/me", auth, "", `&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${VERIFIER}`],
      }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// @openauthjs/openauth
// ---------------------------------------------------------------------------------------------

async function startOpenauth(key, perRequest, dirs, problems, script) {
  const port = await freePort();
  const svcSecret = randomBytes(16).toString("hex");
  const s = await serve({
    name: key === "oa" ? "openauth" : "openauth-cached", script, port, kv: "AUTH_STORAGE", flags: ["nodejs_compat", "enable_nodejs_fs_module"],
    bindings: { REDIRECT_URI, SVC_SECRET: svcSecret, ISSUER_PER_REQUEST: perRequest ? "1" : "0" }, persist: join(dirs.state, key), problems,
  });
  const { base } = s;
  const authorize = authorizeUrl(`${base}/authorize`, "app", "openid");
  const tokenUrl = `${base}/token`;
  const code = async () => {
    const agent = new Agent();
    let r = await agent.request(authorize);
    for (let hops = 0; hops < 3; hops++) {
      const loc = r.headers.get("location");
      must(loc, `openauth authorize: no redirect: ${r.status} ${r.text_.slice(0, 300)}`);
      const next = new URL(loc, base);
      if (next.origin + next.pathname === REDIRECT_URI) {
        const c = next.searchParams.get("code");
        must(c, `openauth gave no code: ${loc}`);
        return c;
      }
      r = await agent.request(next.toString());
    }
    throw new Error("openauth: too many redirects");
  };
  const redeemPublic = async (c) => {
    const r = await fetchRetry(tokenUrl, { method: "POST", headers: { "content-type": form }, body: new URLSearchParams({ grant_type: "authorization_code", code: c, redirect_uri: REDIRECT_URI, client_id: "app", code_verifier: VERIFIER }) });
    const j = await json(r);
    must(r.status === 200 && j.access_token && j.refresh_token, `openauth token: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const fresh = async () => redeemPublic(await code());
  const ccBody = `grant_type=client_credentials&provider=auto&client_id=svc&client_secret=${svcSecret}`;
  const label = `openauth ${version("@openauthjs/openauth")}${perRequest ? "" : " (issuer per isolate)"}`;
  return {
    key, name: label, pid: s.pid, mf: s.mf, base, ccBody,
    tools: { "code flow": "wrk + bench/wrk/codeflow-openauth.lua" },
    signs: "ES256 JWT access tokens (fixed by the library); opaque refresh tokens in KV",
    units: {
      "code flow": "GET /authorize → 302 to /auto/authorize with the authorization state in an RSA-OAEP-encrypted cookie → GET /auto/authorize (the provider approves the fixed user) → 302 with a code → POST /token (public client: client_id and code_verifier, no secret) → ES256 JWT access token, opaque refresh token → GET /me (createClient().verify(): the JWT against the cached JWKS); 4 requests",
      "refresh (rotation)": "POST /token grant_type=refresh_token (no client authentication: OpenAuth has none); each answer's new refresh token used once",
      "client_credentials ES256": "POST /token grant_type=client_credentials&provider=auto&client_id&client_secret (form; the provider's client() checks the secret) → ES256 JWT access token and a refresh token, written to KV",
    },
    fresh,
    refresh: (t) => fetchRetry(tokenUrl, { method: "POST", headers: { "content-type": form }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t }) }),
    protected: async (a) => { const r = await fetchRetry(`${base}/me`, { headers: { authorization: `Bearer ${a}` } }); await r.arrayBuffer(); return r.status === 200; },
    workloads: {
      "client_credentials ES256": { url: tokenUrl, script: "plain.lua", args: ["POST", ccBody], headers: { "Content-Type": form } },
      "refresh (rotation)": async (seedFile) => ({
        url: tokenUrl, script: "refresh.lua", headers: { "Content-Type": form },
        args: [seedFile(`${key}-refresh`, await seeds(2 * CONNECTIONS, fresh))],
      }),
      "code flow": () => ({
        url: authorize, script: "codeflow-openauth.lua", headers: {},
        args: [pathOf(authorize), "/token", "/me", `&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&client_id=app&code_verifier=${VERIFIER}`],
      }),
    },
  };
}

async function seeds(n, fresh) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await fresh()).refresh_token);
  must(out.every(Boolean), "a peer's seed code flow gave no refresh token");
  return out;
}

// ---------------------------------------------------------------------------------------------
// start, attach, check, report
// ---------------------------------------------------------------------------------------------

/** Whether any of these workloads has a peer (their names as bench.mjs gives them). */
export const wantsPeers = (workloads) => PEERS_ON && (CONCURRENT_ON || workloads.some((w) => ["client_credentials ES256", "refresh (rotation)"].includes(w.name) || w.name.startsWith("code flow")));

/** Starts the peers under `stateDir` (call after the other workerd processes run). */
export async function startPeers(stateDir) {
  const dirs = { build: join(stateDir, "peers-build"), state: join(stateDir, "peers-state") };
  mkdirSync(dirs.build, { recursive: true });
  const problems = [];
  const want = (k) => !WANTED || WANTED.has(k);
  const peers = [];
  if (want("wop")) { log("peer: workers-oauth-provider: bundle, start, register a client"); peers.push(await startWop(dirs, problems)); }
  if (want("oa") || want("oac")) {
    const script = bundle("openauth", dirs.build);
    if (want("oa")) { log("peer: openauth (issuer per request): bundle, start"); peers.push(await startOpenauth("oa", true, dirs, problems, script)); }
    if (want("oac")) { log("peer: openauth (issuer per isolate): start"); peers.push(await startOpenauth("oac", false, dirs, problems, script)); }
  }
  // One token of each kind through fetch first: every peer answers, and the JWTs are what we say.
  const formats = {};
  for (const p of peers) {
    const t = await p.fresh();
    must(await p.protected(t.access_token), `${p.name}: the protected call refused a fresh access token`);
    formats[`${p.name} code flow`] = t.access_token.split(".").length === 3 ? `${decodeJwtHeader(t.access_token).typ} ${decodeJwtHeader(t.access_token).alg}` : "opaque";
    if (p.ccBody) {
      const r = await fetchRetry(`${p.base}/token`, { method: "POST", headers: { "content-type": form }, body: p.ccBody });
      const j = await json(r);
      must(r.status === 200 && j.access_token, `${p.name} client_credentials: ${r.status} ${JSON.stringify(j)}`);
      const h = decodeJwtHeader(j.access_token);
      must(h.alg === "ES256", `${p.name} client_credentials: access token header ${JSON.stringify(h)}`);
      formats[`${p.name} client_credentials`] = `${h.typ} ${h.alg}`;
      const bad = await fetchRetry(`${p.base}/token`, { method: "POST", headers: { "content-type": form }, body: p.ccBody.replace(/client_secret=[^&]*/, "client_secret=wrong") });
      const bj = await json(bad);
      formats[`${p.name} client_credentials, wrong secret`] = `${bad.status}${bj.access_token ? " WITH A TOKEN" : ""}`;
    }
  }
  // What the checks above logged (a refused secret) is expected; the report shows what comes later.
  problems.length = 0;
  return { peers, problems, formats };
}

/** Adds each peer's spec to the workloads it supports (by name): w[peer.key] and w.peers. */
export function attach(state, workloads, seedFile) {
  for (const w of workloads) {
    for (const p of state.peers) {
      const k = Object.keys(p.workloads).find((n) => w.name === n || w.name.startsWith(n + " "));
      if (!k) continue;
      const spec = p.workloads[k];
      w[p.key] = typeof spec === "function" ? () => spec(seedFile) : spec;
      if (p.tools?.[k]) (w.tools ??= {})[p.key] = p.tools[k];
      (w.peers ??= []).push(p);
    }
  }
}

/**
 * One refresh token, then CONCURRENT refresh requests with it at once (Promise.all of fetches);
 * then every issued access token at the protected call, every distinct new refresh token used once
 * in turn, and the original token once more. `target`: { name, fresh, refresh(token) → Response,
 * protected(access) → bool }.
 */
export async function concurrentRefresh(target) {
  const { refresh_token } = await target.fresh();
  const answers = await Promise.all(Array.from({ length: CONCURRENT }, async () => {
    const r = await target.refresh(refresh_token);
    return { status: r.status, body: await json(r) };
  }));
  const won = answers.filter((a) => a.status === 200 && a.body.refresh_token);
  const statuses = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const newRefresh = [...new Set(won.map((a) => a.body.refresh_token))];
  const accessOk = (await Promise.all(won.map((a) => target.protected(a.body.access_token)))).filter(Boolean).length;
  let refreshOk = 0;
  for (const t of newRefresh) { const r = await target.refresh(t); await r.arrayBuffer(); if (r.status === 200) refreshOk++; }
  const again = await target.refresh(refresh_token);
  await again.arrayBuffer();
  return { name: target.name, requests: CONCURRENT, succeeded: won.length, statuses, distinct_new_refresh_tokens: newRefresh.length, access_tokens_usable: accessOk, new_refresh_tokens_usable: refreshOk, original_usable_after: again.status === 200 };
}

/** A concurrent-refresh target for a server with client_secret_basic, a code flow and a protected URL. */
export function oauthTarget(name, { tokenUrl, auth, code, protectedUrl, exactlyOne = false }) {
  return {
    name, exactlyOne,
    fresh: async () => redeem(tokenUrl, auth, await code()),
    refresh: (t) => fetchRetry(tokenUrl, { method: "POST", headers: { authorization: auth, "content-type": form }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t }) }),
    protected: async (a) => { const r = await fetchRetry(protectedUrl, { headers: { authorization: `Bearer ${a}` } }); await r.arrayBuffer(); return r.status === 200; },
  };
}

/** The concurrent-refresh check on `targets` (bench.mjs's servers) and then every peer. A target
 * with `exactlyOne` must let exactly one of the concurrent requests succeed, or the run fails. */
export async function checkConcurrentRefresh(state, targets) {
  if (state) state.loadProblems = state.problems.splice(0);
  const out = [];
  for (const t of [...targets, ...(state?.peers ?? []).map((p) => ({ name: p.name, fresh: p.fresh, refresh: p.refresh, protected: p.protected }))]) {
    log(`concurrent refresh: ${t.name}, ${CONCURRENT} requests with one refresh token`);
    const c = await concurrentRefresh(t);
    out.push(c);
    must(!t.exactlyOne || c.succeeded === 1, `${t.name}: ${c.succeeded} of ${CONCURRENT} concurrent refreshes of one token succeeded, not exactly 1: ${JSON.stringify(c)}`);
  }
  return out;
}

/** The peers' lines of the report: units, formats, ratios edgeauth / peer, the concurrency check. */
export function report(state, results, concurrency, f) {
  const lines = [];
  const p = (s = "") => lines.push(s);
  if (state) {
    p("");
    p("Edge peers: edgeauth / peer (same run; a peer's CPU is its own workerd process's): throughput above 1 and CPU per unit below 1 favour edgeauth.");
    p("");
    p("| workload | peer | throughput | CPU per unit |");
    p("|---|---|---:|---:|");
    for (const r of results) {
      for (const peer of state.peers) {
        const x = r[peer.key];
        if (!x) continue;
        p(`| ${r.name} | ${peer.name} | ${f(r.ea.units_per_s / x.units_per_s, 2)} | ${f(r.ea.cpu_ms_per_unit / x.cpu_ms_per_unit, 2)} |`);
      }
    }
    p("");
    for (const peer of state.peers) {
      p(`${peer.name}: signs ${peer.signs}. Units: ${Object.entries(peer.units).map(([k, v]) => `${k}: ${v}`).join("; ")}.`);
    }
    p("Peer token formats checked before the loads: " + Object.entries(state.formats).map(([k, v]) => `${k}: ${v}`).join("; "));
    const during = state.loadProblems ?? state.problems;
    if (during.length) p(`peer log problems during the loads (${during.length}): ${during.slice(0, 5).join(" | ")}`);
  }
  if (concurrency?.length) {
    p("");
    p(`Concurrent refresh: one refresh token, ${CONCURRENT} refresh requests with it at once; afterwards each issued access token at the protected call, each distinct new refresh token used once (in turn), the original once more.`);
    p("");
    p("| server | succeeded | statuses | distinct new refresh tokens | access tokens usable after | new refresh tokens usable after | original usable after |");
    p("|---|---:|---|---:|---:|---:|---|");
    for (const c of concurrency) {
      p(`| ${c.name} | ${c.succeeded} / ${c.requests} | ${Object.entries(c.statuses).map(([s, n]) => `${s}×${n}`).join(" ")} | ${c.distinct_new_refresh_tokens} | ${c.access_tokens_usable} / ${c.succeeded} | ${c.new_refresh_tokens_usable} / ${c.distinct_new_refresh_tokens} | ${c.original_usable_after ? "yes" : "no"} |`);
    }
  }
  return lines;
}

export function summary(state) {
  return state && {
    versions: { "@cloudflare/workers-oauth-provider": version("@cloudflare/workers-oauth-provider"), "@openauthjs/openauth": version("@openauthjs/openauth") },
    peers: state.peers.map((p) => ({ key: p.key, name: p.name, signs: p.signs, units: p.units })),
    formats: state.formats, problems: state.loadProblems ?? state.problems,
  };
}

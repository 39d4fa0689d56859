// A check of the placement wrapper's classification (bench/placement-worker.mjs), against the real
// bindings under workerd: the wrapper is the main module, as in the benchmark, but in front of a
// small stand-in for the bundle's index.js whose paths each make a known set of calls. Not part of
// scripts/test.sh; run it after changing the wrapper:
//   node bench/placement-check.mjs
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;

// The stand-in: a plain module handler like the bundle's entry (crates/cloudflare/js/entry.mjs).
const standIn = `
import { DurableObject } from "cloudflare:workers";
export class SsoSessionObject extends DurableObject { async fetch() { return new Response("object"); } }
const sel = (db) => db.prepare("SELECT v FROM t WHERE k = ?").bind("a");
const ins = (db) => db.prepare("INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)").bind("a", "1");
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    let out = "";
    switch (path) {
      case "/setup": await env.DB.prepare("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)").run(); break;
      case "/plain-select": await sel(env.DB).all(); break;
      case "/plain-first-raw-run": await sel(env.DB).first(); await sel(env.DB).raw(); await ins(env.DB).run(); break;
      case "/plain-batch-select": await env.DB.batch([sel(env.DB), sel(env.DB)]); break;
      case "/plain-parallel": await Promise.all([sel(env.DB).all(), sel(env.DB).all()]); break;
      case "/unconstrained-select": { const s = env.DB.withSession("first-unconstrained"); await sel(s).all(); await s.batch([sel(s), sel(s)]); out = typeof s.getBookmark(); break; }
      case "/default-session-select": { const s = env.DB.withSession(); await sel(s).all(); break; }
      case "/unconstrained-write": { const s = env.DB.withSession("first-unconstrained"); await s.batch([sel(s), ins(s)]); await sel(s).first(); break; }
      case "/first-primary": { const s = env.DB.withSession("first-primary"); await sel(s).all(); await sel(s).all(); out = s.getBookmark() ?? "null"; break; }
      case "/bookmark": { const b = env.DB.withSession("first-primary"); await ins(b).run(); const bm = b.getBookmark(); const s = env.DB.withSession(bm); await sel(s).all(); out = bm ? "bookmark" : "none"; break; }
      case "/kv-missing": await env.CONFIG.get("nope"); await env.CONFIG.get("nope"); break;
      case "/kv-put-get": await env.CONFIG.put("k1", "v"); await env.CONFIG.get("k1"); break;
      case "/kv-get": out = String(await env.CONFIG.get("k1")); break;
      case "/kv-parallel": await Promise.all([env.CONFIG.get("k1"), env.CONFIG.get("k1")]); break;
      case "/do": { const stub = env.SESSIONS.get(env.SESSIONS.idFromName("x")); out = await (await stub.fetch("https://session.internal/")).text(); break; }
      case "/fetch": out = await (await fetch(env.ORIGIN)).text(); break;
      case "/mixed": await Promise.all([sel(env.DB).all(), env.CONFIG.get("k1")]); await env.SESSIONS.get(env.SESSIONS.idFromName("x")).fetch("https://session.internal/"); break;
    }
    return new Response(out);
  }
}`;

// [path, expected x-bench-storage, expected body]
const K = (o, waves) => ["d1_primary", "d1_replica", "kv_hit", "kv_miss", "kv_write", "do", "fetch"].map((k) => `${k}=${o[k] ?? "0/0"}`).join(",") + `,waves=${waves}`;
const cases = [
  ["/setup", K({ d1_primary: "1/1" }, 1)],
  ["/plain-select", K({ d1_primary: "1/1" }, 1)],
  ["/plain-first-raw-run", K({ d1_primary: "3/3" }, 3)],
  ["/plain-batch-select", K({ d1_primary: "1/1" }, 1)],
  ["/plain-parallel", K({ d1_primary: "2/1" }, 1)],
  ["/unconstrained-select", K({ d1_replica: "2/2" }, 2), "string"],
  ["/default-session-select", K({ d1_replica: "1/1" }, 1)],
  ["/unconstrained-write", K({ d1_primary: "1/1", d1_replica: "1/1" }, 2)],
  ["/first-primary", K({ d1_primary: "1/1", d1_replica: "1/1" }, 2)],
  ["/bookmark", K({ d1_primary: "1/1", d1_replica: "1/1" }, 2), "bookmark"],
  ["/kv-missing", K({ kv_miss: "2/2" }, 2)],
  ["/kv-put-get", K({ kv_write: "1/1", kv_hit: "1/1" }, 2)],
  ["/kv-get", K({ kv_hit: "1/1" }, 1), "v"],
  ["/kv-parallel", K({ kv_hit: "2/1" }, 1)],
  ["/do", K({ do: "1/1" }, 1), "object"],
  ["/fetch", K({ fetch: "1/1" }, 1), "origin"],
  ["/mixed", K({ d1_primary: "1/1", kv_hit: "1/1", do: "1/1" }, 2)],
];

const origin = createServer((_, res) => res.end("origin"));
await new Promise((r) => origin.listen(0, "127.0.0.1", r));
const mf = new Miniflare(convertV4MiniflareOptions({
  cf: false, host: "127.0.0.1", port: 0,
  workers: [{
    name: "check",
    modules: [
      { type: "ESModule", path: "/check/placement-worker.mjs", contents: readFileSync(join(ROOT, "bench/placement-worker.mjs"), "utf8") },
      { type: "ESModule", path: "/check/index.js", contents: standIn },
    ],
    modulesRoot: "/check",
    compatibilityDate: "2025-09-01",
    compatibilityFlags: ["nodejs_als"],
    kvNamespaces: ["CONFIG"],
    d1Databases: ["DB"],
    durableObjects: { SESSIONS: { className: "SsoSessionObject", useSQLite: true } },
    // Small delays, so calls made together overlap and sequential ones do not.
    bindings: { PLACEMENT: JSON.stringify({ d1_primary: 5, d1_replica: 3, kv_hit: 2, kv_miss: 4, kv_write: 4, do: 3, fetch: 3 }), ORIGIN: `http://127.0.0.1:${origin.address().port}/` },
  }],
}));
let failed = 0;
try {
  const base = await mf.ready;
  for (const [path, want, body] of cases) {
    const r = await mf.dispatchFetch(new URL(path, base));
    const got = r.headers.get("x-bench-storage");
    const text = await r.text();
    const ok = r.status === 200 && got === want && (body === undefined || text === body);
    if (!ok) failed++;
    console.log(`${ok ? "ok  " : "FAIL"} ${path}${ok ? "" : `\n     want ${want}${body !== undefined ? ` body ${body}` : ""}\n     got  ${got} status ${r.status} body ${text.slice(0, 200)}`}`);
  }
} finally {
  await mf.dispose();
  origin.close();
}
console.log(failed ? `${failed} of ${cases.length} failed` : `all ${cases.length} passed`);
process.exit(failed ? 1 : 0);

// The placement benchmark's main module (bench/placement.mjs serves it in front of the release
// bundle, as `placement-worker.mjs` beside crates/cloudflare/build/index.js): every storage binding
// the worker sees is wrapped so that each call waits a configured round trip first, as it would on
// Workers where D1's primary, KV's central stores and Durable Objects sit away from the edge
// location that runs the request. Not part of the product and not part of the CPU benchmark.
//
// Configuration: the PLACEMENT binding, a JSON object of delays in ms by kind (any missing is 0):
//   d1_primary  a D1 call (statement or batch) served by the primary database
//   d1_replica  a read-only D1 call a session may serve from a nearby read replica
//   kv_hit      a KV read answered by this location's cache
//   kv_miss     a KV read that goes to the central stores (see `kvRead` for the model)
//   kv_write    a KV put or delete (written to the central stores)
//   do          a Durable Object call (a stub's fetch)
//   fetch       an outbound fetch
// and optionally `kv_cache_ttl_s` (default 60: KV's default cacheTtl) and `log` (true: log each
// call's kind and SQL, key or URL with console.log).
//
// Each request gets its own wrapped `env` and counters; the response carries them in the header
//   x-bench-storage: d1_primary=2/2,d1_replica=0/0,kv_hit=1/1,kv_miss=0/0,kv_write=0/0,do=1/1,fetch=0/0,waves=3
// (calls/sequential waves per kind: calls that overlap in time share a wave; `waves` counts waves of
// any kind). Only this wrapper adds that header.
import Edgeauth from "./index.js";
import { AsyncLocalStorage } from "node:async_hooks";

// The Durable Object class, unchanged: its own storage is local to the object.
export { SsoSessionObject } from "./index.js";

export const KINDS = ["d1_primary", "d1_replica", "kv_hit", "kv_miss", "kv_write", "do", "fetch"];

// ---------------------------------------------------------------------------------------------
// per-request counters
// ---------------------------------------------------------------------------------------------

export class Stats {
  constructor(delays) {
    this.delays = delays;
    this.calls = Object.fromEntries(KINDS.map((k) => [k, 0]));
    this.waves = Object.fromEntries(KINDS.map((k) => [k, 0]));
    this.inflight = Object.fromEntries(KINDS.map((k) => [k, 0]));
    this.anyInflight = 0;
    this.anyWaves = 0;
  }
  /** Runs `call` as one round trip of `kind`: counted, delayed by the kind's delay, then made. */
  async trip(kind, call, what = "") {
    if (this.delays.log) console.log(`[placement] ${kind} ${what}`);
    this.begin(kind);
    try {
      await sleep(this.delays[kind]);
      return await call();
    } finally {
      this.end(kind);
    }
  }
  begin(kind) {
    this.calls[kind]++;
    if (this.inflight[kind]++ === 0) this.waves[kind]++;
    if (this.anyInflight++ === 0) this.anyWaves++;
  }
  end(kind) {
    this.inflight[kind]--;
    this.anyInflight--;
  }
  header() {
    return KINDS.map((k) => `${k}=${this.calls[k]}/${this.waves[k]}`).join(",") + `,waves=${this.anyWaves}`;
  }
}

const sleep = (ms) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

// ---------------------------------------------------------------------------------------------
// D1: the plain database, sessions (withSession), statements and batches
// ---------------------------------------------------------------------------------------------

/** A plain SELECT: anything else (INSERT, UPDATE, DELETE, REPLACE, PRAGMA, WITH ..., DDL) writes
 * or may, and goes to the primary. */
export const isPlainSelect = (sql) => /^\s*select\b/i.test(sql);

/**
 * Where a D1 call is served. `route` is the state of the database handle it was made on:
 * { replicas: false } for the plain database (no replicas: always the primary), or a session's
 * { replicas: true, started } : a session made with "first-unconstrained" or a bookmark may serve
 * reads from a replica at once; one made with "first-primary" sends its first call to the primary
 * and may read from a replica after that. Any statement that is not a plain SELECT goes to the
 * primary. (Replication lag, a replica behind the session's bookmark, is not modelled.)
 */
export function d1Kind(route, sqls) {
  const readOnly = sqls.every(isPlainSelect);
  let kind = "d1_primary";
  if (readOnly && route.replicas && route.started) kind = "d1_replica";
  route.started = true;
  return kind;
}

class WrappedStatement {
  constructor(db, real, sql) {
    this.db = db; // { stats, route }
    this.real = real;
    this.sql = sql;
  }
  bind(...args) {
    return new WrappedStatement(this.db, this.real.bind(...args), this.sql);
  }
  #call(method, args) {
    const kind = d1Kind(this.db.route, [this.sql]);
    return this.db.stats.trip(kind, () => this.real[method](...args), this.sql.slice(0, 120));
  }
  all(...a) { return this.#call("all", a); }
  run(...a) { return this.#call("run", a); }
  first(...a) { return this.#call("first", a); }
  raw(...a) { return this.#call("raw", a); }
}

const unwrapStatement = (s) => (s instanceof WrappedStatement ? s.real : s);
const sqlOf = (s) => (s instanceof WrappedStatement ? s.sql : "?");

function batchOf(real, handle) {
  return (statements) => {
    const kind = d1Kind(handle.route, statements.map(sqlOf));
    return handle.stats.trip(kind, () => real.batch(statements.map(unwrapStatement)), `batch: ${statements.map((st) => sqlOf(st).slice(0, 60)).join(" | ")}`);
  };
}

/** The D1 binding: prepare/batch counted as primary calls; withSession gives a wrapped session. */
export function wrapD1(db, stats) {
  const handle = { stats, route: { replicas: false, started: true } };
  const prepare = (sql) => new WrappedStatement(handle, db.prepare(sql), sql);
  const batch = batchOf(db, handle);
  const exec = (sql) => stats.trip("d1_primary", () => db.exec(sql));
  const withSession = (constraintOrBookmark) => wrapSession(db.withSession(constraintOrBookmark), stats, constraintOrBookmark);
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return prepare;
      if (prop === "batch") return batch;
      if (prop === "exec") return exec;
      if (prop === "withSession") return withSession;
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function wrapSession(session, stats, constraintOrBookmark) {
  // "first-primary": the first call is the primary's; "first-unconstrained" (the default) or a
  // bookmark: a replica may answer from the first read.
  const firstPrimary = constraintOrBookmark === "first-primary";
  const handle = { stats, route: { replicas: true, started: !firstPrimary } };
  const prepare = (sql) => new WrappedStatement(handle, session.prepare(sql), sql);
  const batch = batchOf(session, handle);
  return new Proxy(session, {
    get(target, prop) {
      if (prop === "prepare") return prepare;
      if (prop === "batch") return batch;
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v; // getBookmark and the rest pass through
    },
  });
}

// ---------------------------------------------------------------------------------------------
// KV: a read hits this location's cache when the key was read here (or written from here) within
// the cache TTL and existed then (a key read often stays cached: KV refreshes it in the background); a key read here for the first time, one whose cached copy
// is older than the TTL, and a key that did not exist (negative answers are not taken as cached)
// go to the central stores: a miss.
// ---------------------------------------------------------------------------------------------

const kvSeen = new Map(); // key -> { at: when fetched from / written to the central stores here, found }

export function kvReadKind(key, ttlMs, now = Date.now()) {
  const seen = kvSeen.get(key);
  return seen && seen.found && now - seen.at < ttlMs ? "kv_hit" : "kv_miss";
}

export function wrapKv(kv, stats, ttlMs) {
  const read = (method) => (key, ...rest) => {
    const kind = kvReadKind(key, ttlMs);
    return stats.trip(kind, async () => {
      const value = await kv[method](key, ...rest);
      // A miss fills the cache; a hit keeps it warm (KV refreshes keys read often in the background).
      const found = method === "getWithMetadata" ? value?.value != null : value != null;
      kvSeen.set(key, { at: Date.now(), found });
      return value;
    }, key);
  };
  const write = (method) => (key, ...rest) => stats.trip("kv_write", async () => {
    const r = await kv[method](key, ...rest);
    kvSeen.set(key, { at: Date.now(), found: method === "put" });
    return r;
  }, key);
  const wrapped = { get: read("get"), getWithMetadata: read("getWithMetadata"), put: write("put"), delete: write("delete") };
  const list = (...a) => stats.trip("kv_miss", () => kv.list(...a));
  return new Proxy(kv, {
    get(target, prop) {
      if (prop in wrapped) return wrapped[prop];
      if (prop === "list") return list;
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Durable Objects: the namespace hands out stubs whose fetch is one round trip
// ---------------------------------------------------------------------------------------------

export function wrapNamespace(ns, stats) {
  const wrapStub = (stub) => new Proxy(stub, {
    get(target, prop) {
      if (prop === "fetch") return (...a) => stats.trip("do", () => target.fetch(...a), String(a[0]?.url ?? a[0]));
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return new Proxy(ns, {
    get(target, prop) {
      if (prop === "get" || prop === "getByName") return (...a) => wrapStub(target[prop](...a));
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// outbound fetch: the engine calls the global fetch (glue.js guardedFetch), so the global is
// wrapped and finds its request's counters through AsyncLocalStorage.
// ---------------------------------------------------------------------------------------------

const current = new AsyncLocalStorage();
const realFetch = globalThis.fetch;
globalThis.fetch = function (...a) {
  const stats = current.getStore();
  return stats ? stats.trip("fetch", () => realFetch(...a), String(a[0]?.url ?? a[0])) : realFetch(...a);
};

// ---------------------------------------------------------------------------------------------
// the entry
// ---------------------------------------------------------------------------------------------

let delays = null;

export function wrapEnv(env, stats) {
  const ttlMs = 1000 * (Number(stats.delays.kv_cache_ttl_s) || 60);
  const wrapped = {
    DB: env.DB && wrapD1(env.DB, stats),
    CONFIG: env.CONFIG && wrapKv(env.CONFIG, stats, ttlMs),
    SESSIONS: env.SESSIONS && wrapNamespace(env.SESSIONS, stats),
  };
  return new Proxy(env, {
    get(target, prop) {
      if (typeof prop === "string" && wrapped[prop]) return wrapped[prop];
      return Reflect.get(target, prop);
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    delays ??= { ...Object.fromEntries(KINDS.map((k) => [k, 0])), ...JSON.parse(env.PLACEMENT || "{}") };
    const stats = new Stats(delays);
    // The bundle's entry is a plain module handler (crates/cloudflare/js/entry.mjs).
    const response = await current.run(stats, () => Edgeauth.fetch(request, wrapEnv(env, stats), ctx));
    const out = new Response(response.body, response);
    out.headers.set("x-bench-storage", stats.header());
    return out;
  },
};

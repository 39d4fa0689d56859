// The worker's entry point, bundled over worker-build's output by scripts/build-worker.sh.
//
// worker-build exports its entrypoint class wrapped in a Proxy that, on every request, builds a
// Proxy of the instance, another of its `fetch` and an extra async frame, only to notice a wasm
// trap and re-instantiate the module before the next request. That costs ~0.02 ms of CPU per
// request under workerd, more than the engine spends on a discovery document. This handler keeps the
// recovery and drops the per-request proxies: it calls the same wasm `fetch` export directly.
import Generated from "./generated.js";

// The Durable Object class (SsoSessionObject), unchanged.
export * from "./generated.js";

/** Bodies larger than this are not read (the engine answers 413); it refuses anything over its
 * own 64 KB limit anyway. Mirrors MAX_READ_BODY in src/lib.rs. */
const MAX_READ_BODY = 1024 * 1024;

/** Answers the engine marked reusable (discovery, JWKS: `Response::reusable_until_ms` in the core;
 * set by `newResponse` in js/glue.js), by full URL (host included), kept until the time the engine
 * gave: when the configuration or key cache entry the answer was built from expires, so a kept
 * answer is never older than the engine's own caches allow (CONFIG_CACHE_TTL_MS, 10 s). Only GET
 * requests use and fill it. Any other method but HEAD empties it, at its start and again at its
 * end, and a GET that overlapped one is not kept: a management write through this isolate is seen
 * by the next request, as it is by the engine's caches. */
const reusable = (globalThis[Symbol.for("edgeauth.reusable")] ??= new WeakMap());
const kept = new Map();
/** Bounds the memory a scan of many URLs can take (each entry is a few KB at most). */
const KEPT_MAX = 256;
/** Counts the requests with other methods than GET and HEAD that have started and ended. */
let writes = 0;

function forgetKept() {
  writes++;
  kept.clear();
}

// The class behind worker-build's Proxy (the Proxy traps only `construct`), whose prototype has
// the wasm export bound as `fetch(request)` with `this.env` and `this.ctx`.
const wasmFetch = Generated.prototype.fetch;
// worker-build's shared flag: set when the wasm instance trapped, cleared when it is rebuilt.
const initState = globalThis.__worker_init_state;
if (typeof wasmFetch !== "function" || !initState) throw new Error("edgeauth: unexpected worker-build output (no fetch export or init state)");

// A plain module handler, not a WorkerEntrypoint class: workerd then builds no instance per request
// (the reference worker of bench/ is written so too). `env` and `ctx` come as arguments.
export default {
  async fetch(request, env, ctx) {
    const method = request.method;
    const get = method === "GET";
    if (get) {
      const hit = kept.get(request.url);
      if (hit !== undefined) {
        if (Date.now() < hit.until) return new Response(hit.body, hit.init);
        kept.delete(request.url);
      }
    } else if (method !== "HEAD") {
      forgetKept();
    }
    const writesBefore = writes;
    // After a trap (a Rust panic aborts), constructing worker-build's class through its Proxy
    // resets the wasm instance, as its own entry would have done for this request.
    if (initState.criticalError) {
      kept.clear();
      Reflect.construct(Generated, [ctx, env]);
    }
    try {
      // The body, read here with one native await (in this function: no promise of a helper's
      // own); null when there is none to read, it is declared too large, or reading failed (the
      // engine answers each).
      let body = null;
      if (!get && method !== "HEAD" && method !== "OPTIONS" && !(Number(request.headers.get("content-length")) > MAX_READ_BODY)) {
        try {
          body = await request.arrayBuffer();
        } catch {
          body = null;
        }
      }
      // worker-build's wrapper passes its `this.env` and `this.ctx` on to the wasm export; the
      // export takes the body in the place of `ctx`, which the engine does not use.
      const response = await wasmFetch.call({ env, ctx: body }, request);
      if (get && writes === writesBefore) {
        const answer = reusable.get(response);
        if (answer !== undefined) {
          if (kept.size >= KEPT_MAX) kept.clear();
          kept.set(request.url, answer);
        }
      }
      return response;
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        console.error("edgeauth: the wasm instance trapped; it is rebuilt before the next request", e);
        initState.criticalError = true;
      }
      throw e;
    } finally {
      if (!get && method !== "HEAD") forgetKept();
    }
  },
};

// The worker's entry point, bundled over worker-build's output by scripts/build-worker.sh.
//
// worker-build exports its entrypoint class wrapped in a Proxy that, on every request, builds a
// Proxy of the instance, another of its `fetch` and an extra async frame, only to notice a wasm
// trap and re-instantiate the module before the next request. That costs ~0.02 ms of CPU per
// request under workerd, more than the engine spends on a discovery document. This class keeps the
// recovery and drops the per-request proxies: it calls the same wasm `fetch` export directly.
import { WorkerEntrypoint } from "cloudflare:workers";
import Generated from "./generated.js";

// The Durable Object class (SsoSessionObject), unchanged.
export * from "./generated.js";

/** Bodies larger than this are not read (the engine answers 413); it refuses anything over its
 * own 64 KB limit anyway. Mirrors MAX_READ_BODY in src/lib.rs. */
const MAX_READ_BODY = 1024 * 1024;

const EMPTY = new ArrayBuffer(0);

/** The body, read here with one native await rather than by the wasm side through its executor
 * (a JsFuture, two closures and an extra microtask hop per request); null when there is none to
 * read, it is declared too large, or reading failed (the engine answers each). */
async function readBody(request) {
  if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return null;
  if (request.body === null) return EMPTY;
  if (Number(request.headers.get("content-length")) > MAX_READ_BODY) return null;
  try {
    return await request.arrayBuffer();
  } catch {
    return null;
  }
}

// The class behind worker-build's Proxy (the Proxy traps only `construct`), whose prototype has
// the wasm export bound as `fetch(request)` with `this.env` and `this.ctx`.
const wasmFetch = Generated.prototype.fetch;
// worker-build's shared flag: set when the wasm instance trapped, cleared when it is rebuilt.
const initState = globalThis.__worker_init_state;
if (typeof wasmFetch !== "function" || !initState) throw new Error("edgeauth: unexpected worker-build output (no fetch export or init state)");

export default class Edgeauth extends WorkerEntrypoint {
  async fetch(request) {
    // After a trap (a Rust panic aborts), constructing worker-build's class through its Proxy
    // resets the wasm instance, as its own entry would have done for this request.
    if (initState.criticalError) Reflect.construct(Generated, [this.ctx, this.env]);
    try {
      const body = await readBody(request);
      // worker-build's wrapper passes `this.env` and `this.ctx` on to the wasm export; the export
      // takes the body in the place of `ctx`, which the engine does not use.
      return await wasmFetch.call({ env: this.env, ctx: body }, request);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        console.error("edgeauth: the wasm instance trapped; it is rebuilt before the next request", e);
        initState.criticalError = true;
      }
      throw e;
    }
  }
}

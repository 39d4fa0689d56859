// The one description of the edgeauth worker under miniflare, shared by the test harness
// (tests/support/worker.mjs) and the benchmark (bench/bench.mjs), so the two serve the same bundle
// with the same bindings. It mirrors wrangler.toml (miniflare does not read that file itself) and
// imports nothing from miniflare: callers pass the result to `new Miniflare(convertV4MiniflareOptions(...))`.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The Workers bundle that scripts/build-worker.sh writes. */
export const BUILD = join(ROOT, "crates/cloudflare/build");

/** wrangler.toml's compatibility_date, read rather than copied so a bump there reaches both. */
export const COMPATIBILITY_DATE = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

/**
 * Miniflare's (v4-style) options serving the bundle as the worker "edgeauth" on 127.0.0.1, a free port.
 * - masterSecret, rootSecret: the MASTER_SECRET and ROOT_SECRET bindings, passed as given.
 * - clientCertHeader: the optional CLIENT_CERT_HEADER variable; absent when not given (as undeployed).
 * - extensionHosts: the optional EXTENSION_HOSTS variable (the hosts extensions may reach).
 * - cf: the `request.cf` of every HTTP request (an object or a JSON file's path); false is
 *   miniflare's built-in blob.
 * - handleStructuredLogs: the caller's view of the worker's log lines.
 * - persistencePath: keep KV, D1 and Durable Objects on disk there; omitted, they live in memory.
 * - directSocket: also open a socket straight to the worker (`mf.unsafeGetDirectURL("edgeauth")`),
 *   skipping miniflare's entry worker, as bare `workerd serve` would.
 * - emailFrom: a `send_email` binding EMAIL (miniflare's emulation) and EMAIL_FROM; `log` then
 *   receives miniflare's log lines, where the emulation says what it sent.
 */
export function edgeauthOptions({ masterSecret, rootSecret, clientCertHeader, publicOrigin, extensionHosts, cf = false, handleStructuredLogs, persistencePath, directSocket = false, emailFrom, log }) {
  return {
    cf,
    host: "127.0.0.1",
    port: 0,
    handleStructuredLogs,
    ...(log ? { log } : {}),
    // Spread in only when set: the tests have always run with miniflare's defaults for these.
    ...(persistencePath ? { resourcePersistencePath: persistencePath } : {}),
    workers: [
      {
        name: "edgeauth",
        ...(directSocket ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
        modules: [
          { type: "ESModule", path: join(BUILD, "index.js") },
          { type: "CompiledWasm", path: join(BUILD, "index_bg.wasm") },
        ],
        modulesRoot: BUILD,
        compatibilityDate: COMPATIBILITY_DATE,
        // The bindings declared in wrangler.toml.
        kvNamespaces: ["CONFIG"],
        d1Databases: ["DB"],
        // SSO sessions and throttle counters (one class, named apart; see crates/cloudflare/src/lib.rs).
        durableObjects: { SESSIONS: { className: "SsoSessionObject", useSQLite: true } },
        ...(emailFrom ? { email: { send_email: [{ name: "EMAIL" }] } } : {}),
        bindings: { MASTER_SECRET: masterSecret, ROOT_SECRET: rootSecret, ...(clientCertHeader ? { CLIENT_CERT_HEADER: clientCertHeader } : {}), ...(publicOrigin ? { PUBLIC_ORIGIN: publicOrigin } : {}), ...(extensionHosts ? { EXTENSION_HOSTS: extensionHosts } : {}), ...(emailFrom ? { EMAIL_FROM: emailFrom } : {}) },
      },
    ],
  };
}

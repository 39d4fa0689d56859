// Serves the Spin component (target/wasm32-wasip2/release/edgeauth_spin.wasm) under
// `edgeauth-spin-host`, a wasmtime host that reads the real spin.toml and provides Spin's
// key-value, SQLite and variables interfaces over real SQLite files, as `spin up` would with:
//   SPIN_VARIABLE_MASTER_SECRET=... SPIN_VARIABLE_ROOT_SECRET=... scripts/spin-up.sh   (every migration)
// (TARGET=spin-real runs the same suite under a real `spin up`: tests/support/spin-real.mjs.)
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { advanceClock } from "./native.mjs";
import { collectFailure } from "./failures.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
export const SPIN_HOST = join(ROOT, "target/debug/edgeauth-spin-host");
export const SPIN_COMPONENT = join(ROOT, "target/wasm32-wasip2/release/edgeauth_spin.wasm");

/** Every migration, in order, as `--sqlite @file` arguments. */
export function migrationArgs() {
  const dir = join(ROOT, "migrations");
  return readdirSync(dir).filter((f) => f.endsWith(".sql")).sort().flatMap((f) => ["--sqlite", `@${join(dir, f)}`]);
}

/**
 * Starts the host. `allowLoopback` adds `http://127.0.0.1:*` to the manifest's outbound hosts (a
 * client's jwks_uri served by the test); `masterSecret: null` leaves the required variable unset;
 * `migrations: false` starts without the `--sqlite @migrations/...` arguments.
 * The component's stderr is collected: a line from the adapter (`edgeauth:`) or a wasm trap fails
 * the test file at stop(), as the worker target does with workerd's log.
 */
export async function startSpin({ rootSecret, masterSecret = randomBytes(32).toString("base64url"), allowLoopback = true, migrations = true, extraArgs = [], clientCertHeader, publicOrigin, extensionHosts }) {
  for (const f of [SPIN_HOST, SPIN_COMPONENT]) if (!existsSync(f)) throw new Error(`missing ${f}: build with scripts/build-spin.sh`);
  const env = { ...process.env, SPIN_VARIABLE_ROOT_SECRET: rootSecret ?? "" };
  if (clientCertHeader) env.SPIN_VARIABLE_CLIENT_CERT_HEADER = clientCertHeader;
  if (publicOrigin) env.SPIN_VARIABLE_PUBLIC_ORIGIN = publicOrigin;
  if (extensionHosts) env.SPIN_VARIABLE_EXTENSION_HOSTS = extensionHosts;
  if (masterSecret !== null) env.SPIN_VARIABLE_MASTER_SECRET = masterSecret;
  else delete env.SPIN_VARIABLE_MASTER_SECRET;
  const args = ["--from", join(ROOT, "spin.toml"), "--listen", "127.0.0.1:0", "--test-controls", ...(migrations ? migrationArgs() : []), ...extraArgs];
  if (allowLoopback) args.push("--allow-outbound", "http://127.0.0.1:*");
  const child = spawn(SPIN_HOST, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const complaints = [];
  const failures = [];
  let stderr = "";
  createInterface({ input: child.stderr }).on("line", (l) => {
    if (collectFailure(l, failures, complaints)) return;
    stderr += l + "\n";
    if (/^edgeauth:|panicked|wasm trap|the component failed/i.test(l)) complaints.push(l);
    else process.stderr.write(`[spin-host] ${l}\n`);
  });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (l) => { rl.close(); resolve(l); });
    child.once("exit", (code) => setTimeout(() => reject(new Error(`edgeauth-spin-host exited with ${code}:\n${stderr}`)), 50));
  });
  const base = line.replace(/^listening on /, "").trim();
  return {
    base,
    canAdvanceClock: true,
    advanceClock: (secs) => advanceClock(base, secs),
    complaints,
    failures,
    async stop() {
      if (child.exitCode === null) await new Promise((resolve) => { child.once("exit", resolve); child.kill(); });
      if (complaints.length) throw new Error(`the component logged problems:\n${complaints.join("\n")}`);
    },
  };
}

/**
 * Runs the host and waits for it to exit (a misconfiguration it must refuse before serving); it is
 * killed after 20 s. An `undefined` value in `env` removes that variable.
 */
export function runSpinHost(args, env = {}) {
  const merged = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  return new Promise((resolve) => {
    const child = spawn(SPIN_HOST, args, { cwd: ROOT, env: merged, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 20000);
    child.once("exit", (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

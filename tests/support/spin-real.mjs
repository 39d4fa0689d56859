// Serves the Spin component (target/wasm32-wasip2/release/edgeauth_spin.wasm) under a real `spin up`
// (SPIN_BIN, else `spin` on PATH): what a maintainer runs before a release, since the Spin CLI cannot
// be installed where CI runs. Each start gets its own temporary directory: a copy of spin.toml (the
// component path made absolute, loopback added to the outbound hosts when asked) and the state
// directory, so it begins from empty key-value and SQLite stores with every migration applied.
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { SPIN_COMPONENT, migrationArgs } from "./spin.mjs";
import { collectFailure } from "./failures.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The Spin CLI: SPIN_BIN (a path, or a name on PATH; it must exist), else `spin` on PATH, else null. */
export function spinBinary() {
  const executable = (f) => { try { accessSync(f, constants.X_OK); return true; } catch { return false; } };
  const find = (name) => name.includes("/") ? (executable(name) ? name : null)
    : (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir || ".", name)).find(executable) ?? null;
  const wanted = process.env.SPIN_BIN;
  if (wanted && !find(wanted)) throw new Error(`SPIN_BIN=${wanted} is not an executable file`);
  return find(wanted || "spin");
}

/** A loopback port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Whether something accepts a TCP connection on the loopback port (no request is sent). */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => resolve(false));
  });
}

/** spin.toml with the component's source made absolute and, when asked, `http://127.0.0.1:*` allowed. */
function manifest(allowLoopback) {
  let text = readFileSync(join(ROOT, "spin.toml"), "utf8");
  const edit = (re, f) => {
    if (!re.test(text)) throw new Error(`spin.toml: no line matching ${re}: update tests/support/spin-real.mjs`);
    text = text.replace(re, f);
  };
  edit(/^source = "([^"]+)"$/m, (_, p) => `source = ${JSON.stringify(join(ROOT, p))}`);
  if (allowLoopback) edit(/^allowed_outbound_hosts = \[(.*)\]$/m, (_, hosts) => `allowed_outbound_hosts = [${hosts}, "http://127.0.0.1:*"]`);
  return text;
}

/**
 * Starts `spin up` with the options of the test host (tests/support/spin.mjs): `allowLoopback`,
 * `masterSecret: null`, `migrations: false`, `extraArgs`, `clientCertHeader`. Spin's clock is the
 * machine's: `canAdvanceClock` is false. The component's stderr is collected as the test host's is.
 */
export async function startSpinReal({ rootSecret, masterSecret = randomBytes(32).toString("base64url"), allowLoopback = true, migrations = true, extraArgs = [], clientCertHeader, publicOrigin }) {
  const spin = spinBinary();
  if (!spin) throw new Error("no spin binary: set SPIN_BIN or put `spin` on PATH");
  if (!existsSync(SPIN_COMPONENT)) throw new Error(`missing ${SPIN_COMPONENT}: build with scripts/build-spin.sh`);
  const dir = mkdtempSync(join(tmpdir(), "edgeauth-spin-real-"));
  writeFileSync(join(dir, "spin.toml"), manifest(allowLoopback));
  const env = { ...process.env, SPIN_VARIABLE_ROOT_SECRET: rootSecret ?? "" };
  if (clientCertHeader) env.SPIN_VARIABLE_CLIENT_CERT_HEADER = clientCertHeader;
  if (publicOrigin) env.SPIN_VARIABLE_PUBLIC_ORIGIN = publicOrigin;
  else delete env.SPIN_VARIABLE_CLIENT_CERT_HEADER;
  if (masterSecret !== null) env.SPIN_VARIABLE_MASTER_SECRET = masterSecret;
  else delete env.SPIN_VARIABLE_MASTER_SECRET;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const args = ["up", "--from", join(dir, "spin.toml"), "--state-dir", join(dir, "state"), "--listen", `127.0.0.1:${port}`, ...(migrations ? migrationArgs() : []), ...extraArgs];
  const child = spawn(spin, args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let exitCode = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => { exitCode = code ?? signal; resolve(); });
    child.once("error", (e) => { exitCode = e.message; resolve(); });
  });
  // `spin up` runs the HTTP trigger as a child process and stops it on SIGINT (Ctrl-C), not SIGTERM.
  const halt = async () => {
    if (exitCode !== null) return;
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const complaints = [];
  const failures = [];
  let output = "";
  createInterface({ input: child.stdout }).on("line", (l) => { output += l + "\n"; });
  createInterface({ input: child.stderr }).on("line", (l) => {
    if (collectFailure(l, failures, complaints)) return;
    output += l + "\n";
    if (/^edgeauth:|panicked|wasm trap|the component failed/i.test(l)) complaints.push(l);
    else process.stderr.write(`[spin] ${l}\n`);
  });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  // Spin compiles the component before it listens: wait until the port answers, or spin exits.
  for (const deadline = Date.now() + 120_000; ; ) {
    if (exitCode !== null) {
      cleanup();
      throw new Error(`spin up exited with ${exitCode}:\n${output}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await halt();
      cleanup();
      throw new Error(`spin up did not answer on ${base} within 120 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    base,
    canAdvanceClock: false,
    complaints,
    failures,
    async stop() {
      await halt();
      cleanup();
      if (complaints.length) throw new Error(`the component logged problems:\n${complaints.join("\n")}`);
    },
  };
}

// Serves the engine on the native runtime (SQLite in memory): the `edgeauth-native` binary that
// `cargo build -p edgeauth-testkit --bin edgeauth-native` produces.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { collectFailure } from "./failures.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;

export async function startNative({ rootSecret, clientCertHeader, publicOrigin, extensionHosts }) {
  // CARGO_TARGET_DIR, when set, is where cargo put the binary (a second checkout's own build).
  const bin = `${process.env.CARGO_TARGET_DIR ?? `${ROOT}target`}/debug/edgeauth-native`;
  if (!existsSync(bin)) throw new Error("no native server: cargo build -p edgeauth-testkit --bin edgeauth-native");
  const args = ["--port", "0", "--root-secret", rootSecret, "--test-controls", ...(clientCertHeader ? ["--client-cert-header", clientCertHeader] : []), ...(publicOrigin ? ["--public-origin", publicOrigin] : []), ...(extensionHosts ? ["--extension-hosts", extensionHosts] : [])];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const complaints = [];
  const failures = [];
  createInterface({ input: child.stderr }).on("line", (l) => {
    if (collectFailure(l, failures, complaints)) return;
    if (/panicked/i.test(l)) complaints.push(l);
    process.stderr.write(`[native] ${l}\n`);
  });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (l) => { rl.close(); resolve(l); });
    child.once("exit", (code) => reject(new Error(`edgeauth-native exited with ${code}`)));
  });
  const base = line.replace(/^listening on /, "").trim();
  return {
    base,
    canAdvanceClock: true,
    advanceClock: (secs) => advanceClock(base, secs),
    failures,
    async stop() {
      await new Promise((resolve) => { child.once("exit", resolve); child.kill(); });
      if (complaints.length) throw new Error(`the native server logged problems:\n${complaints.join("\n")}`);
    },
  };
}

/** Moves a test server's clock (native and the Spin host answer `POST /__test/clock/advance`). */
export async function advanceClock(base, secs) {
  const r = await fetch(`${base}/__test/clock/advance?secs=${secs}`, { method: "POST" });
  if (r.status !== 200) throw new Error(`clock advance: ${r.status}`);
}

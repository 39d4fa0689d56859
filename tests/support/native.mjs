// Serves the engine on the native runtime (SQLite in memory): the `edgeauth-native` binary that
// `cargo build -p edgeauth-testkit --bin edgeauth-native` produces.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";

const ROOT = new URL("../..", import.meta.url).pathname;

export async function startNative({ rootSecret }) {
  const bin = `${ROOT}target/debug/edgeauth-native`;
  if (!existsSync(bin)) throw new Error("no native server: cargo build -p edgeauth-testkit --bin edgeauth-native");
  const child = spawn(bin, ["--port", "0", "--root-secret", rootSecret, "--test-controls"], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (l) => { rl.close(); resolve(l); });
    child.once("exit", (code) => reject(new Error(`edgeauth-native exited with ${code}`)));
  });
  const base = line.replace(/^listening on /, "").trim();
  return {
    base,
    canAdvanceClock: true,
    async advanceClock(secs) {
      const r = await fetch(`${base}/__test/clock/advance?secs=${secs}`, { method: "POST" });
      if (r.status !== 200) throw new Error(`clock advance: ${r.status}`);
    },
    stop: () => new Promise((resolve) => { child.once("exit", resolve); child.kill(); }),
  };
}

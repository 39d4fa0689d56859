// Measures what password hashing costs inside the Workers bundle under workerd, per Argon2id
// setting: the time of creating a user (one hash) minus the time of a request that hashes nothing.
// Usage: node scripts/measure-kdf.mjs   (after scripts/build-worker.sh)
import { startWorker } from "../tests/support/worker.mjs";
import { randomBytes } from "node:crypto";

const rootSecret = randomBytes(24).toString("base64url");
const w = await startWorker({ rootSecret });
const h = { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" };
const call = (method, path, body) => fetch(w.base + path, { method, headers: h, body: body && JSON.stringify(body) });
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await call("PUT", "/admin/tenants/m", { name: "m" });

const settings = [
  { memory_kib: 8192, iterations: 1, parallelism: 1 },
  { memory_kib: 19456, iterations: 2, parallelism: 1 },
  { memory_kib: 47104, iterations: 1, parallelism: 1 },
  { memory_kib: 65536, iterations: 3, parallelism: 1 },
];
console.log("| memory_kib | iterations | parallelism | ms per hash (workerd, this machine) |");
console.log("|---:|---:|---:|---:|");
for (const [i, p] of settings.entries()) {
  const ws = `w${i}`;
  await call("PUT", `/admin/tenants/m/workspaces/${ws}`, { login: { password_hashing: p } });
  const base = [], hashed = [];
  for (let n = 0; n < 7; n++) {
    let t0 = performance.now();
    await call("GET", `/admin/tenants/m/workspaces/${ws}`);
    base.push(performance.now() - t0);
    t0 = performance.now();
    const r = await call("POST", `/admin/tenants/m/workspaces/${ws}/users`, { username: `u${n}`, password: "correct horse battery staple" });
    if (r.status !== 201) throw new Error(`${r.status} ${await r.text()}`);
    hashed.push(performance.now() - t0);
  }
  console.log(`| ${p.memory_kib} | ${p.iterations} | ${p.parallelism} | ${(median(hashed) - median(base)).toFixed(1)} |`);
}
await w.stop();

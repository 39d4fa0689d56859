// Serves the built Workers bundle (crates/cloudflare/build) under workerd through miniflare's API,
// with real KV, D1 and SQLite-backed Durable Objects in memory, and the D1 schema from migrations/.
import { Miniflare, convertV4MiniflareOptions, Log, LogLevel } from "miniflare";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BUILD, edgeauthOptions } from "./miniflare-options.mjs";
import { collectFailure } from "./failures.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Splits a migration file into statements (the schema has no semicolons inside literals). */
function statements(sql) {
  return sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Starts the bundle. `cf` is the `request.cf` of every HTTP request (an object, or the path of a JSON
 * file); the default, false, gives miniflare's built-in blob (no client certificate). The returned
 * `dispatchFetch(url, init)` sends one request through miniflare's API, where `init.cf` replaces the
 * whole `cf` object for that request.
 */
/** Miniflare's log, kept quiet but for what its `send_email` emulation says it sent. */
class EmailLog extends Log {
  constructor(emails) {
    super(LogLevel.INFO);
    this.emails = emails;
  }
  logWithLevel(level, message) {
    const m = /send_email binding called with MessageBuilder:[\s\S]*?From: (.*)\nTo: (.*)\nSubject: (.*)[\s\S]*?Text: (\S+)/.exec(message);
    if (m) this.emails.push({ from: m[1], to: m[2], subject: m[3], text: readFileSync(m[4], "utf8") });
  }
}

export async function startWorker({ rootSecret, masterSecret = randomBytes(32).toString("base64url"), clientCertHeader, publicOrigin, extensionHosts, cf = false, emailFrom }) {
  // The worker logs only when something is wrong (a misconfiguration, WebCrypto refusing a key):
  // any such line fails the test file at stop().
  const complaints = [];
  const failures = [];
  const emails = [];
  if (!existsSync(join(BUILD, "index.js"))) throw new Error("no worker bundle: run scripts/build-worker.sh");
  const mf = new Miniflare(
    convertV4MiniflareOptions(
      edgeauthOptions({
        masterSecret,
        rootSecret,
        clientCertHeader,
        publicOrigin,
        extensionHosts,
        cf,
        emailFrom,
        log: emailFrom ? new EmailLog(emails) : undefined,
        handleStructuredLogs: ({ level, message }) => {
          if (collectFailure(message, failures, complaints)) return;
          if (/edgeauth|panicked|RuntimeError|uncaught/i.test(message)) complaints.push(`${level}: ${message}`);
          else if (level === "error" || level === "warn") process.stderr.write(`[workerd ${level}] ${message}\n`);
        },
      }),
    ),
  );
  const url = await mf.ready;
  const db = await mf.getD1Database("DB");
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    await db.batch(statements(readFileSync(join(dir, file), "utf8")).map((s) => db.prepare(s)));
  }
  return {
    base: url.origin,
    canAdvanceClock: false,
    failures,
    /** What the `send_email` binding sent (with `emailFrom`): { from, to, subject, text }. */
    emails,
    dispatchFetch: (url, init) => mf.dispatchFetch(url, init),
    async stop() {
      await mf.dispose();
      if (complaints.length) throw new Error(`the worker logged problems:\n${complaints.join("\n")}`);
    },
  };
}

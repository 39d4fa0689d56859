// One scenario suite, several targets: TARGET=native (the engine on SQLite), TARGET=worker (the
// release Workers bundle under workerd via miniflare), TARGET=spin (the Spin component under a
// wasmtime host with Spin's interfaces) or TARGET=spin-real (the Spin component under a real
// `spin up`, from SPIN_BIN or PATH; run by hand before a release). Each test file starts its own server.
import { randomBytes, createHash } from "node:crypto";
import { startNative } from "./native.mjs";
import { startWorker } from "./worker.mjs";
import { startSpin } from "./spin.mjs";
import { startSpinReal, spinBinary } from "./spin-real.mjs";

export const TARGET = process.env.TARGET ?? "native";

// Without the Spin CLI the whole file is skipped, before any test runs, and says so.
if (TARGET === "spin-real" && !spinBinary()) {
  console.log("TARGET=spin-real: no spin binary (set SPIN_BIN); skipped");
  process.exit(0);
}

/**
 * Starts the target and returns { base, stop, canAdvanceClock, advanceClock?, admin(method, path, body),
 * workspace(tenant, ws, config) }.
 */
export async function startTarget(options = {}) {
  const rootSecret = randomBytes(24).toString("base64url");
  const start = { native: startNative, worker: startWorker, spin: startSpin, "spin-real": startSpinReal }[TARGET];
  if (!start) throw new Error(`unknown TARGET ${TARGET} (native, worker, spin or spin-real)`);
  // options.clientCertHeader: the deployment trusts a client certificate (URL-encoded PEM) in that header.
  const server = await start({ rootSecret, ...options });
  const admin = async (method, path, body) => {
    const r = await fetch(server.base + path, {
      method,
      headers: { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch {}
    return { status: r.status, json, text };
  };
  const must = async (method, path, body) => {
    const r = await admin(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  return {
    ...server,
    rootSecret,
    admin,
    /** Creates tenant and workspace (config merged into the workspace document). */
    async workspace(tenant, ws, config = {}) {
      await must("PUT", `/admin/tenants/${tenant}`, { name: tenant });
      await must("PUT", `/admin/tenants/${tenant}/workspaces/${ws}`, config);
      return `${server.base}/${tenant}/${ws}`;
    },
    client: (tenant, ws, metadata) => must("POST", `/admin/tenants/${tenant}/workspaces/${ws}/clients`, metadata),
    user: (tenant, ws, user) => must("POST", `/admin/tenants/${tenant}/workspaces/${ws}/users`, user),
  };
}

export function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

export const basic = (id, secret) => "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");

/** A `Set-Cookie` header's name, value and path, and whether it removes the cookie. */
export function parseSetCookie(header) {
  const [pair, ...attrs] = header.split(";");
  const i = pair.indexOf("=");
  const name = pair.slice(0, i).trim(), value = pair.slice(i + 1).trim();
  const path = attrs.map((a) => a.trim()).find((a) => /^path=/i.test(a))?.slice(5) ?? "/";
  return { name, value, path, expired: attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "" };
}

/** A browser without a browser: a cookie jar over fetch, redirects not followed. */
export class Agent {
  constructor() { this.cookies = new Map(); }
  cookieHeader() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "); }
  async request(url, { method = "GET", form, headers = {} } = {}) {
    const h = { ...headers };
    if (this.cookies.size) h.cookie = this.cookieHeader();
    let body;
    if (form) { h["content-type"] = "application/x-www-form-urlencoded"; body = new URLSearchParams(form).toString(); }
    const r = await fetch(url, { method, headers: h, body, redirect: "manual" });
    for (const c of r.headers.getSetCookie()) {
      const { name, value, expired } = parseSetCookie(c);
      if (expired) this.cookies.delete(name); else this.cookies.set(name, value);
    }
    r.text_ = await r.text();
    return r;
  }
}

/** The value of a hidden form field in a page. */
export function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no ${name} field in page:\n${html.slice(0, 2000)}`);
  return m[1].replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
}

export async function form(url, fields, headers = {}) {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields).toString(), redirect: "manual" });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

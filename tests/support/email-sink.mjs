// The customer's mail relay, on loopback: the webhook that emailed one-time codes are POSTed to
// (`login.email_codes.webhook_url`). Each delivery is a JWT (`application/jwt`) signed by the
// workspace; the sink verifies it against the workspace's JWKS (fetched ahead with `trust`: the
// native test server answers one request at a time and is waiting for the sink while it sends),
// keeps every delivery, and hands a test the next code sent to an address. It can be told to fail.
import http from "node:http";
import { createLocalJWKSet, jwtVerify, decodeJwt } from "jose";

export async function startEmailSink() {
  /** Every POST received, in order: { path, contentType, claims, email, error, answered }. */
  const deliveries = [];
  const jwks = new Map(); // issuer -> local JWKS
  const taken = new Set(); // deliveries already handed out by next()
  const waiters = []; // { to, resolve }
  let failWith = null; // status to answer, or null

  /** Fetches a workspace's JWKS ahead, so that verifying a delivery makes no call to the server. */
  async function trust(issuer) {
    const r = await fetch(`${issuer}/jwks`);
    if (r.status !== 200) throw new Error(`${issuer}/jwks: ${r.status}`);
    jwks.set(issuer, createLocalJWKSet(await r.json()));
  }

  const wake = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const d = find(waiters[i].to);
      if (d) { taken.add(d); waiters[i].resolve(d); waiters.splice(i, 1); }
    }
  };
  const find = (to) => deliveries.find((d) => !taken.has(d) && !d.error && d.answered < 300 && d.email?.to?.toLowerCase() === to.toLowerCase());

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    const send = (status, value) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (req.method !== "POST") return send(405, { error: "method not allowed" });
    const audience = `http://127.0.0.1:${server.address().port}${url.pathname}`;
    const delivery = { path: url.pathname, contentType: req.headers["content-type"], claims: null, email: null, error: null, answered: 0, raw: body };
    try {
      if (!/^application\/jwt\b/i.test(delivery.contentType ?? "")) throw new Error(`content-type ${delivery.contentType}`);
      const { iss } = decodeJwt(body);
      const keys = jwks.get(iss);
      if (!keys) throw new Error(`the sink does not trust ${iss} (call sink.trust(issuer) first)`);
      const { payload } = await jwtVerify(body, keys, { issuer: iss, audience, requiredClaims: ["iat", "exp", "jti"] });
      delivery.claims = payload;
      delivery.email = payload.email ?? null;
      if (!delivery.email) throw new Error("no email claim");
    } catch (e) {
      delivery.error = e.message;
    }
    delivery.answered = delivery.error ? 400 : failWith ?? 202;
    deliveries.push(delivery);
    if (delivery.error) send(400, { error: delivery.error });
    else if (failWith) send(failWith, { error: "the mail relay is down" });
    else send(202, { queued: true });
    wake();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    /** The webhook URL to configure (`path` lets workspaces use their own). */
    url: (path = "/hook") => `${origin}${path}`,
    deliveries,
    trust,
    /** Deliveries (verified, answered 2xx or not) to an address. */
    to: (address) => deliveries.filter((d) => d.email?.to?.toLowerCase() === address.toLowerCase()),
    /** Deliveries the sink could not verify (a test should expect none). */
    rejected: () => deliveries.filter((d) => d.error),
    /** The next successfully delivered email to `address` not handed out yet: its `email` claim
     * ({ to, code, purpose, expires_in, locale }) plus the JWT's claims as `claims`. */
    next(address, { timeoutMs = 5000 } = {}) {
      const d = find(address);
      if (d) { taken.add(d); return Promise.resolve({ ...d.email, claims: d.claims }); }
      return new Promise((resolve, reject) => {
        const w = { to: address, resolve: (x) => { clearTimeout(timer); resolve({ ...x.email, claims: x.claims }); } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          const bad = deliveries.filter((x) => x.error).map((x) => x.error);
          reject(new Error(`no email to ${address} within ${timeoutMs} ms${bad.length ? ` (rejected deliveries: ${bad.join("; ")})` : ""}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    /** From now on answer `status` (e.g. 500) to every delivery; `fail(null)` to recover. */
    fail: (status = 500) => { failWith = status; },
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

// The customer's side of post-authentication extensions, on loopback: a service that `call`
// extensions POST the signed context to (it verifies the JWT against the workspace's JWKS and
// answers as the test asks), and an application that `redirect` extensions send the browser to
// (a plain HTML form, no JavaScript, that sends the user back with a result signed by its key).
import http from "node:http";
import { createRemoteJWKSet, createLocalJWKSet, jwtVerify, generateKeyPair, exportJWK, SignJWT, decodeJwt } from "jose";

export async function startExtensionService() {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: "app-1", use: "sig", alg: "ES256" };
  const calls = [];
  const modes = new Map(); // path -> how to answer
  const jwks = new Map(); // issuer -> remote JWKS
  let lastState = null;

  /** Verifies a JWT the server signed: signature (its JWKS), audience, expiry. */
  async function verifyFromServer(jwt, audience) {
    const { iss } = decodeJwt(jwt);
    if (!jwks.has(iss)) jwks.set(iss, createRemoteJWKSet(new URL(`${iss}/jwks`)));
    const { payload } = await jwtVerify(jwt, jwks.get(iss), { audience, issuer: iss });
    return payload;
  }

  /** Fetches a workspace's JWKS ahead (the native test server answers one request at a time, so
   * the service cannot fetch it while the server waits for the service's answer). */
  async function trust(issuer) {
    const r = await fetch(`${issuer}/jwks`);
    jwks.set(issuer, createLocalJWKSet(await r.json()));
  }

  /** A result for the state a redirect sent: signed by the application's key unless `key` says otherwise. */
  async function result(state, { attributes = {}, deny, audience, exp = "5m", key = privateKey, kid = "app-1", stateJti } = {}) {
    const claims = decodeJwt(state);
    const body = { state: stateJti ?? claims.jti, ...(deny ? { deny } : { attributes }) };
    return new SignJWT(body).setProtectedHeader({ alg: "ES256", kid }).setIssuedAt().setExpirationTime(exp).setAudience(audience ?? claims.iss).setIssuer("https://app.example").sign(key);
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    const send = (status, value, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(typeof value === "string" ? value : JSON.stringify(value));
    };
    if (req.method === "POST" && url.pathname.startsWith("/call/")) {
      const audience = `http://127.0.0.1:${server.address().port}${url.pathname}`;
      let claims = null, error = null;
      try {
        claims = await verifyFromServer(body, audience);
      } catch (e) {
        error = e.message;
      }
      calls.push({ path: url.pathname, contentType: req.headers["content-type"], claims, error });
      if (error) return send(401, { error });
      const mode = modes.get(url.pathname) ?? { answer: {} };
      if (mode.delayMs) await new Promise((r) => setTimeout(r, mode.delayMs));
      if (mode.raw !== undefined) return send(mode.status ?? 200, mode.raw, "text/html");
      return send(mode.status ?? 200, typeof mode.answer === "function" ? mode.answer(claims) : mode.answer);
    }
    if (req.method === "GET" && url.pathname === "/app") {
      // The application's page: asks for the missing attribute, no JavaScript.
      lastState = url.searchParams.get("state");
      const resume = url.searchParams.get("resume_uri");
      const esc = (s) => String(s).replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
      return send(200, `<!doctype html><html lang="en"><head><title>Complete your profile</title></head><body><main><h1>Complete your profile</h1>
<form method="post" action="/app/submit"><input type="hidden" name="state" value="${esc(lastState)}"><input type="hidden" name="resume_uri" value="${esc(resume)}">
<label for="region">State</label><input id="region" name="region" required><button type="submit">Continue</button></form></main></body></html>`, "text/html");
    }
    if (req.method === "POST" && url.pathname === "/app/submit") {
      const f = new URLSearchParams(body);
      const state = f.get("state");
      try {
        const audience = `http://127.0.0.1:${server.address().port}/app`;
        await verifyFromServer(state, audience);
      } catch (e) {
        return send(400, `bad state: ${e.message}`, "text/plain");
      }
      const jwt = await result(state, { attributes: { region: f.get("region") } });
      const to = new URL(f.get("resume_uri"));
      to.searchParams.set("result", jwt);
      res.writeHead(303, { location: to.toString() });
      return res.end();
    }
    send(404, { error: "not found" });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    publicJwk,
    calls,
    result,
    trust,
    verifyFromServer,
    lastState: () => lastState,
    /** How POST `path` answers: { answer } (JSON or a function of the claims), { raw }, { status }, { delayMs }. */
    answer: (path, mode) => modes.set(path, mode),
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

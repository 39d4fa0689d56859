// The browser tests' client application: a loopback page at `/cb` that records each redirect's
// query (the code, state, iss) in `received` and shows "signed in"; and the two requests a client
// makes around it (the authorization URL, the code's redemption).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { pkce, form, basic } from "./target.mjs";
import { decodeJwt } from "./signin.mjs";

/** Starts it; returns { base, received, close }. */
export async function startRelyingParty() {
  const received = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname === "/favicon.ico") return res.writeHead(404).end();
    received.push(Object.fromEntries(url.searchParams));
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>RP</title><p>signed in</p>");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${server.address().port}`, received, close: () => server.close() };
}

/** An authorization request's URL (PKCE S256) and the verifier the token request will need. */
export function authorizeRequest(issuer, params) {
  const { verifier, challenge } = pkce();
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", code_challenge: challenge, code_challenge_method: "S256", ...params })) u.searchParams.set(k, v);
  return { url: u.toString(), verifier };
}

/** The client's view of the last redirect the relying party received: its code redeemed, the ID token's claims. */
export async function idTokenClaims(issuer, { received, redirect_uri, verifier, client_id, secret }) {
  const code = received.at(-1)?.code;
  assert.ok(code, JSON.stringify(received));
  const r = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri, code_verifier: verifier }, { authorization: basic(client_id, secret) });
  assert.equal(r.status, 200, r.text);
  return decodeJwt(r.json.id_token).payload;
}

// The one guarded path for outbound requests (a client's jwks_uri here): URLs are parsed, not
// prefix-matched, when they are stored and when they are followed; a fetch has a deadline, a size
// limit and follows no redirect; what is fetched is cached per client, and a key the cache lacks
// refetches it at most once per 10 s. The documents are served by this test on loopback, and it
// counts the requests each path receives.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import * as jose from "jose";
import { startTarget, form } from "../support/target.mjs";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
let t, issuer, tokenUrl, jwks, port;
const hits = {};
const keys = {};
/** What `/rotating` serves: the keys named here. */
let rotating = ["r1"];
const held = [];
/** Seconds the target's clock was moved forward (assertions must be fresh by its clock). */
let skew = 0;

async function keyPair(kid) {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  return { privateKey, kid, jwk: { ...(await jose.exportJWK(publicKey)), alg: "ES256", use: "sig", kid } };
}

before(async () => {
  for (const kid of ["k1", "r1", "r2", "r3", "stranger"]) keys[kid] = await keyPair(kid);
  jwks = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    hits[path] = (hits[path] ?? 0) + 1;
    const json = (status, body) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };
    switch (path) {
      case "/keys": case "/cached": case "/target": return json(200, { keys: [keys.k1.jwk] });
      case "/rotating": return json(200, { keys: rotating.map((k) => keys[k].jwk) });
      // Never answers: the server must give up on its own.
      case "/silent": held.push(res); return;
      case "/redirect": res.writeHead(302, { location: `http://127.0.0.1:${port}/target` }); return res.end();
      // A JWK set padded past the quarter-megabyte limit.
      case "/big": return json(200, { keys: [keys.k1.jwk], padding: "x".repeat(300 * 1024) });
      case "/error": return json(500, { error: "down" });
      case "/not-a-set": return json(200, ["not", "a", "jwk", "set"]);
      default: return json(404, {});
    }
  });
  await new Promise((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  port = jwks.address().port;
  t = await startTarget();
  issuer = await t.workspace("acme", "ob");
  tokenUrl = `${issuer}/token`;
  for (const path of ["keys", "cached", "rotating", "silent", "redirect", "big", "error", "not-a-set"]) {
    await t.client("acme", "ob", { client_id: `c-${path}`, grant_types: ["client_credentials"], scope: "api", token_endpoint_auth_method: "private_key_jwt", jwks_uri: `http://127.0.0.1:${port}/${path}` });
  }
});
after(async () => {
  for (const res of held) res.destroy();
  await t.stop();
  await new Promise((resolve) => jwks.close(resolve));
});

async function authenticate(client_id, key) {
  const now = Math.floor(Date.now() / 1000) + skew;
  const jwt = await new jose.SignJWT({ iss: client_id, sub: client_id, aud: tokenUrl, jti: randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .sign(key.privateKey);
  return form(tokenUrl, { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: jwt });
}

function refused(r, why) {
  assert.equal(r.status, 401, `${why}: ${r.text}`);
  assert.equal(r.json?.error, "invalid_client", why);
  assert.equal(r.json.access_token, undefined, why);
  // What went wrong on the wire stays in the log.
  assert.doesNotMatch(r.json.error_description ?? "", /timed out|larger than|30[12]|500|127\.0\.0\.1/, why);
}

test("stored URLs are parsed: userinfo and look-alike hosts are not loopback, and nothing is stored", async () => {
  const base = "/admin/tenants/acme/workspaces/ob";
  const cases = [
    [{ redirect_uris: ["http://127.0.0.1:80@evil.example/cb"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["http://localhost:1@evil.example/cb"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["http://127.0.0.1.nip.io/cb"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["https://rp.example/cb"], post_logout_redirect_uris: ["http://localhost@evil.example/"] }, "invalid_redirect_uri"],
    [{ grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://127.0.0.1.nip.io/jwks" }, "invalid_client_metadata"],
    [{ grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://localhost@evil.example/jwks" }, "invalid_client_metadata"],
    [{ grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://user:pw@rp.example/jwks" }, "invalid_client_metadata"],
  ];
  for (const [i, [metadata, code]] of cases.entries()) {
    const client_id = `bad-url-${i}`;
    const r = await t.admin("POST", `${base}/clients`, { client_id, ...metadata });
    assert.equal(r.status, 400, `${JSON.stringify(metadata)}: ${r.text}`);
    assert.equal(r.json?.error ?? r.json?.code, code, r.text);
    assert.equal((await t.admin("GET", `${base}/clients/${client_id}`)).status, 404, "nothing stored");
  }
  // A loopback redirect URI by its parsed host is fine.
  const ok = await t.admin("POST", `${base}/clients`, { client_id: "loopback-app", redirect_uris: ["http://127.0.0.1:8080/cb", "http://[::1]/cb"] });
  assert.equal(ok.status, 201, ok.text);

  // mtls_issuer: a look-alike host is not loopback http.
  const before = await t.admin("GET", base);
  const bad = await t.admin("PUT", base, { mtls_issuer: "http://127.0.0.1.nip.io/x" });
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual((await t.admin("GET", base)).json, before.json, "the configuration is unchanged");
});

test("a jwks_uri that never answers, redirects, or sends too much is invalid_client, and the request ends", async () => {
  const started = Date.now();
  refused(await authenticate("c-silent", keys.k1), "silent");
  // The deadline is 3 s; allow for a slow machine, but not for "forever".
  assert.ok(Date.now() - started < 15_000, `the silent jwks_uri held the request ${Date.now() - started} ms`);
  assert.equal(hits["/silent"], 1);

  refused(await authenticate("c-redirect", keys.k1), "redirect");
  assert.equal(hits["/redirect"], 1);
  assert.equal(hits["/target"], undefined, "the redirect was not followed");

  refused(await authenticate("c-big", keys.k1), "oversized");
  refused(await authenticate("c-error", keys.k1), "500");
  refused(await authenticate("c-not-a-set", keys.k1), "not a JWK set");
  // Failures are not cached: the next attempt asks again.
  refused(await authenticate("c-error", keys.k1), "500 again");
  assert.equal(hits["/error"], 2);
});

test("a fetched JWK set is cached per client: the second authentication makes no request", async () => {
  assert.equal((await authenticate("c-cached", keys.k1)).status, 200);
  assert.equal((await authenticate("c-cached", keys.k1)).status, 200);
  assert.equal((await authenticate("c-cached", keys.k1)).status, 200);
  assert.equal(hits["/cached"], 1);
  // Another client's cache is its own.
  assert.equal((await authenticate("c-keys", keys.k1)).status, 200);
  assert.equal(hits["/keys"], 1);
});

test("a key the cache lacks refetches the set once; more unknown kids within 10 s make no request", async () => {
  assert.equal((await authenticate("c-rotating", keys.r1)).status, 200);
  assert.equal(hits["/rotating"], 1);
  // The client rotates to r2: its first assertion with r2 refetches the set.
  rotating = ["r2"];
  const r = await authenticate("c-rotating", keys.r2);
  assert.equal(r.status, 200, r.text);
  assert.equal(hits["/rotating"], 2);
  // Made-up kids (and r3, rotated in just now) cannot make the server fetch again at once.
  rotating = ["r2", "r3"];
  refused(await authenticate("c-rotating", keys.stranger), "unknown kid");
  refused(await authenticate("c-rotating", keys.r3), "rotated in too soon");
  assert.equal(hits["/rotating"], 2);
  // The retired key is gone from the refreshed set.
  refused(await authenticate("c-rotating", keys.r1), "retired key");
  assert.equal((await authenticate("c-rotating", keys.r2)).status, 200);
  assert.equal(hits["/rotating"], 2);
});

test("after the cache's lifetime the set is fetched again", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target's clock cannot be moved");
  const before = hits["/keys"];
  assert.equal((await authenticate("c-keys", keys.k1)).status, 200);
  assert.equal(hits["/keys"], before, "still cached");
  await t.advanceClock(301);
  skew += 301;
  assert.equal((await authenticate("c-keys", keys.k1)).status, 200);
  assert.equal(hits["/keys"], before + 1, "fetched again after 300 s");
});

// Limits on guessing credentials (issue 13 item 2): failed sign-ins per account and per client
// address, failed client authentications per client, and the posts of one sealed login form. Each
// test has its own workspace with low limits, so the counters of one (the address's above all:
// every request here comes from 127.0.0.1) never reach another.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { startTarget, pkce, basic, Agent, hidden, form } from "../support/target.mjs";

const REDIRECT = "https://rp.example/cb";
const PASSWORD = "correct horse battery";
const LIMITS = { account_max_failures: 3, address_max_failures: 6, client_max_failures: 3, window_secs: 600, base_lock_secs: 60, max_lock_secs: 240, login_form_max_posts: 3 };
let t;

before(async () => {
  t = await startTarget();
});
after(() => t.stop());

/** A workspace with the low limits (and `throttle` overrides), the user ada and the client web. */
async function workspace(ws, throttle = {}) {
  const issuer = await t.workspace("guard", ws, { throttle: { ...LIMITS, ...throttle } });
  await t.user("guard", ws, { username: "ada", password: PASSWORD });
  await t.client("guard", ws, { client_id: "web", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid", skip_consent: true });
  return issuer;
}

/** A login page for `agent`: its interaction (sealed form state). */
async function loginPage(agent, issuer) {
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid", code_challenge: pkce().challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
  const r = await agent.request(u.toString());
  assert.equal(r.status, 200, r.text_);
  return hidden(r.text_, "interaction");
}

const post = (agent, issuer, interaction, username, password) => agent.request(`${issuer}/login`, { method: "POST", form: { interaction, username, password } });

/** One sign-in attempt on a fresh login page. */
async function attempt(agent, issuer, username, password) {
  return post(agent, issuer, await loginPage(agent, issuer), username, password);
}

function wrongPassword(r) {
  assert.equal(r.status, 200, r.text_);
  assert.match(r.text_, /Invalid username or password/);
  assert.equal(r.headers.get("retry-after"), null);
  // The name comes back as typed, the password never; both fields point at the error.
  assert.match(r.text_, /<input type="text" id="username" name="username"[^>]* value="[^"]+" aria-invalid="true" aria-describedby="login-error">/);
  assert.match(r.text_, /<input type="password" id="password" name="password" [^>]*required aria-invalid="true" aria-describedby="login-error" autofocus>/);
  assert.doesNotMatch(r.text_, /type="password"[^>]* value=/);
}

/** Locked: 429, Retry-After within the lock, the login page again with a neutral text, nobody signed in. */
function locked(r, agent, maxSecs = 60) {
  assert.equal(r.status, 429, r.text_);
  const after = Number(r.headers.get("retry-after"));
  assert.ok(Number.isInteger(after) && after >= 1 && after <= maxSecs, `Retry-After ${r.headers.get("retry-after")}`);
  assert.match(r.text_, /Too many failed sign-in attempts/);
  assert.match(r.text_, /name="password"/, "a fresh form, for after the wait");
  assert.doesNotMatch(r.text_, /Invalid username or password/);
  assert.equal(r.headers.get("location"), null);
  assert.ok(!agent.cookies.has("ea_session"), "no session");
  return after;
}

test("wrong passwords lock the account: the failure that reaches the limit is answered 429, and then the right password is refused too", async () => {
  const issuer = await workspace("account");
  const agent = new Agent();
  for (let i = 1; i < LIMITS.account_max_failures; i++) wrongPassword(await attempt(agent, issuer, "ada", "wrong"));
  locked(await attempt(agent, issuer, "ada", "wrong"), agent);
  locked(await attempt(agent, issuer, "ada", PASSWORD), agent);
  // Any spelling of the login name is the same account.
  locked(await attempt(agent, issuer, "  ADA ", PASSWORD), agent);
  // The lock is the account's: another user of the workspace (from the same address) signs in.
  await t.user("guard", "account", { username: "bob", password: PASSWORD });
  const bob = new Agent();
  assert.equal((await attempt(bob, issuer, "bob", PASSWORD)).status, 303);
  // The log says a lock answered, without the login name.
  const lines = t.failures.filter((f) => f.workspace === "account" && f.status === 429);
  assert.ok(lines.length >= 3 && lines.every((f) => f.kind === "temporarily_unavailable" && f.endpoint === "login"), JSON.stringify(lines));
  assert.ok(!JSON.stringify(lines).includes("ada"), "no login name in the log");
});

test("an unknown login name is answered exactly like a known one: status, headers and page, lock included", async () => {
  // Two workspaces, each with ada: one is asked about ada, the other about a name without an account.
  const known = await workspace("known");
  const unknown = await workspace("unknown");
  const shape = (r) => ({
    status: r.status,
    // The seconds left differ by the moment each lock began; that there is one is what must match.
    retryAfter: r.headers.get("retry-after") === null ? null : Number(r.headers.get("retry-after")) >= 1 && Number(r.headers.get("retry-after")) <= 60,
    headers: [...r.headers.keys()].filter((k) => !["date", "content-length", "keep-alive", "connection"].includes(k)).sort(),
    cookies: r.headers.getSetCookie().map((c) => c.split("=")[0]).sort(),
    // The name typed comes back in its field: the same page but for that.
    page: r.text_.replace(/name="interaction" value="[^"]*"/, "").replaceAll(known, "ISSUER").replaceAll(unknown, "ISSUER").replace(/value="(ada|nobody-here)"/, 'value="NAME"'),
  });
  const a = new Agent(), b = new Agent();
  for (let i = 1; i <= LIMITS.account_max_failures + 1; i++) {
    const last = i > LIMITS.account_max_failures;
    const rk = await attempt(a, known, "ada", last ? PASSWORD : "wrong");
    const ru = await attempt(b, unknown, "nobody-here", last ? PASSWORD : "wrong");
    assert.deepEqual(shape(ru), shape(rk), `attempt ${i}`);
  }
  locked(await attempt(b, unknown, "nobody-here", "anything"), b);
});

/** A POST of `fields` to `url` from another loopback address, with `cookie`. */
function postFrom(localAddress, url, fields, cookie) {
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", localAddress, headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body), cookie } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("failed sign-ins from one address across many accounts lock the address; another address is not locked", async () => {
  const issuer = await workspace("spray");
  const agent = new Agent();
  for (let i = 1; i < LIMITS.address_max_failures; i++) wrongPassword(await attempt(agent, issuer, `user${i}`, "guess"));
  locked(await attempt(agent, issuer, `user${LIMITS.address_max_failures}`, "guess"), agent);
  // Every name from this address is refused now, a real account with its right password too.
  locked(await attempt(agent, issuer, "ada", PASSWORD), agent);
  // The same person from another address signs in (its own counters are clean).
  const interaction = await loginPage(agent, issuer);
  const r = await postFrom("127.0.0.2", `${issuer}/login`, { interaction, username: "ada", password: PASSWORD }, agent.cookieHeader());
  assert.equal(r.status, 303, r.text);
  assert.ok(r.headers.location?.startsWith(REDIRECT), r.headers.location);
});

test("token endpoint: wrong client secrets lock the client (429 temporarily_unavailable, Retry-After); the right secret is refused while locked", async () => {
  const issuer = await workspace("token");
  const cc = { grant_types: ["client_credentials"], scope: "api" };
  const svc = (await t.client("guard", "token", { client_id: "svc", ...cc })).client_secret;
  const other = (await t.client("guard", "token", { client_id: "other", ...cc })).client_secret;
  const token = (headers, fields = {}) => form(`${issuer}/token`, { grant_type: "client_credentials", ...fields }, headers);
  // A method the client does not use fails whatever the secret: it does not count.
  for (let i = 0; i < LIMITS.client_max_failures + 1; i++) {
    const r = await token({}, { client_id: "svc", client_secret: svc });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, "invalid_client");
  }
  for (let i = 1; i < LIMITS.client_max_failures; i++) {
    const r = await token({ authorization: basic("svc", svc + "x") });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, "invalid_client");
  }
  const lockedAnswer = (r) => {
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error, "temporarily_unavailable");
    assert.equal(r.json.access_token, undefined);
    const after = Number(r.headers.get("retry-after"));
    assert.ok(Number.isInteger(after) && after >= 1 && after <= 60, `Retry-After ${r.headers.get("retry-after")}`);
    assert.equal(r.headers.get("cache-control"), "no-store");
  };
  lockedAnswer(await token({ authorization: basic("svc", "still-wrong") }));
  lockedAnswer(await token({ authorization: basic("svc", svc) }));
  // The lock is the client's: another client of the workspace, from the same address, gets tokens.
  const ok = await token({ authorization: basic("other", other) });
  assert.equal(ok.status, 200, ok.text);
  // A client_id nobody registered is counted the same way, so a lock does not tell which exist.
  for (let i = 1; i < LIMITS.client_max_failures; i++) assert.equal((await token({ authorization: basic("ghost", "x") })).status, 401);
  lockedAnswer(await token({ authorization: basic("ghost", "x") }));
});

test("a sealed login form can be posted a bounded number of times; then it has expired", async () => {
  const issuer = await workspace("form", { account_max_failures: 10 });
  const agent = new Agent();
  const interaction = await loginPage(agent, issuer);
  for (let i = 0; i < LIMITS.login_form_max_posts; i++) wrongPassword(await post(agent, issuer, interaction, "ada", "wrong"));
  const r = await post(agent, issuer, interaction, "ada", PASSWORD);
  assert.equal(r.status, 400, r.text_);
  assert.match(r.text_, /has expired \(it was submitted too many times\); start again/);
  assert.doesNotMatch(r.text_, /name="password"/, "no fresh form: start again from the application");
  assert.ok(!agent.cookies.has("ea_session"), "nobody signed in");
  // Starting again works.
  assert.equal((await attempt(agent, issuer, "ada", PASSWORD)).status, 303);
});

test("a sign-in resets its account's counter", async () => {
  const issuer = await workspace("reset");
  const agent = new Agent();
  for (let i = 1; i < LIMITS.account_max_failures; i++) wrongPassword(await attempt(agent, issuer, "ada", "wrong"));
  assert.equal((await attempt(agent, issuer, "ada", PASSWORD)).status, 303);
  // Afresh: as many failures as before are allowed again (without the reset the next one would lock).
  const later = new Agent();
  for (let i = 1; i < LIMITS.account_max_failures; i++) wrongPassword(await attempt(later, issuer, "ada", "wrong"));
  locked(await attempt(later, issuer, "ada", "wrong"), later);
});

test("locks end: the right password works after the wait; a failure after a lock locks for twice as long (movable clock)", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const issuer = await workspace("expiry");
  const agent = new Agent();
  for (let i = 1; i < LIMITS.account_max_failures; i++) wrongPassword(await attempt(agent, issuer, "ada", "wrong"));
  const first = locked(await attempt(agent, issuer, "ada", "wrong"), agent);
  assert.equal(first, 60);
  await t.advanceClock(61);
  // The lock is over but the failures are remembered: one more locks for 120 s.
  assert.equal(locked(await attempt(agent, issuer, "ada", "wrong"), agent, 120), 120);
  await t.advanceClock(121);
  assert.equal((await attempt(agent, issuer, "ada", PASSWORD)).status, 303);

  // A client's lock ends the same way.
  const svc = (await t.client("guard", "expiry", { client_id: "svc", grant_types: ["client_credentials"], scope: "api" })).client_secret;
  const token = (secret) => form(`${issuer}/token`, { grant_type: "client_credentials" }, { authorization: basic("svc", secret) });
  for (let i = 1; i < LIMITS.client_max_failures; i++) assert.equal((await token("wrong")).status, 401);
  assert.equal((await token("wrong")).status, 429);
  assert.equal((await token(svc)).status, 429);
  await t.advanceClock(61);
  assert.equal((await token(svc)).status, 200);
});

test("the limits are part of the workspace configuration, with defaults, and are validated", async () => {
  await t.workspace("guard", "defaults");
  const cfg = await t.admin("GET", "/admin/tenants/guard/workspaces/defaults");
  assert.equal(cfg.status, 200, cfg.text);
  assert.deepEqual(cfg.json.throttle, { window_secs: 900, account_max_failures: 5, address_max_failures: 20, client_max_failures: 10, base_lock_secs: 60, max_lock_secs: 3600, login_form_max_posts: 5 });
  const bad = await t.admin("PUT", "/admin/tenants/guard/workspaces/defaults", { throttle: { account_max_failures: 0 } });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /throttle\.account_max_failures/);
});

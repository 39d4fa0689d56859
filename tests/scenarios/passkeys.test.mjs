// Passkeys (WebAuthn Level 2) over HTTP, with a software authenticator written here: a P-256 key
// from node:crypto, CBOR encoded by hand. Registration from the account page, sign-in username-first
// and usernameless, every refusal (origin, rpId, replay, counter, user verification, bad input)
// with nothing written, AUT-9710's options for unknown users, the account page and the management API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { startTarget, pkce, basic, Agent, hidden, form } from "../support/target.mjs";
import { Authenticator, b64, sha256, cbor } from "../support/authenticator.mjs";
import { api, systemClient } from "../support/management.mjs";

const REDIRECT = "https://rp.example/cb";
let t, sys, issuer, strictIssuer, offIssuer, secret, ada, bob, strictAda;

before(async () => {
  t = await startTarget();
  sys = await systemClient(t, { client_id: "ops" });
  issuer = await t.workspace("acme", "main", { login: { passkeys: { enabled: true } } });
  strictIssuer = await t.workspace("acme", "strict", { login: { passkeys: { enabled: true, user_verification: "required" } } });
  offIssuer = await t.workspace("acme", "off");
  for (const ws of ["main", "strict", "off"]) {
    const c = await t.client("acme", ws, { client_id: "web", client_name: "Web", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid profile", skip_consent: true });
    if (ws === "main") secret = c.client_secret;
  }
  ada = await t.user("acme", "main", { username: "ada", password: "correct horse battery", claims: { name: "Ada Lovelace" } });
  bob = await t.user("acme", "main", { username: "bob", password: "another good password" });
  strictAda = await t.user("acme", "strict", { username: "ada", password: "correct horse battery" });
});
after(() => t.stop());

const origin = () => new URL(issuer).origin;
const rpId = () => new URL(issuer).hostname;

function authorizeUrl(iss, verifier) {
  const u = new URL(`${iss}/authorize`);
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid", code_challenge: challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
  return u.toString();
}

/** A password sign-in; returns the agent (with its session). */
async function passwordSession(iss = issuer, username = "ada", password = "correct horse battery") {
  const agent = new Agent();
  let r = await agent.request(authorizeUrl(iss, pkce().verifier));
  r = await agent.request(`${iss}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username, password } });
  // signed in: the authorization goes on, or (no passkey yet) the passkey is offered first
  assert.ok(r.status === 303 || r.text_.includes('id="passkey-not-now"'), r.text_);
  assert.ok(agent.cookies.has("ea_session"));
  return agent;
}

/** The account page's interaction, and the page. */
async function accountPage(agent, iss = issuer) {
  const r = await agent.request(`${iss}/app`);
  assert.equal(r.status, 200);
  return { interaction: hidden(r.text_, "interaction"), page: r };
}

async function registerPasskey(agent, auth, { iss = issuer, name = "Laptop", tweak = {} } = {}) {
  const { interaction } = await accountPage(agent, iss);
  const o = await agent.request(`${iss}/passkeys/registration-options`, { method: "POST", form: { interaction } });
  assert.equal(o.status, 200, o.text_);
  const opts = JSON.parse(o.text_);
  const cred = auth.create(opts.publicKey, { origin: new URL(iss).origin, ...tweak });
  return agent.request(`${iss}/passkeys/register`, { method: "POST", form: { interaction, state: opts.state, credential: JSON.stringify(cred), name } });
}

/** authorize -> sign-in page -> assertion options -> sign-in. Returns the final response and the pieces. */
async function passkeySignIn(auth, { iss = issuer, username, tweak = {}, agent = new Agent(), mutate } = {}) {
  const verifier = pkce().verifier;
  const page = await agent.request(authorizeUrl(iss, verifier));
  assert.equal(page.status, 200, page.text_);
  const interaction = hidden(page.text_, "interaction");
  const o = await agent.request(`${iss}/passkeys/assertion-options`, { method: "POST", form: { interaction, ...(username ? { username } : {}) } });
  assert.equal(o.status, 200, o.text_);
  const opts = JSON.parse(o.text_);
  let cred = auth.get(opts.publicKey, { origin: new URL(iss).origin, ...tweak });
  if (mutate) cred = mutate(cred);
  const fields = { interaction, state: opts.state, credential: JSON.stringify(cred) };
  const r = await agent.request(`${iss}/passkeys/sign-in`, { method: "POST", form: fields });
  return { r, verifier, fields, agent, opts };
}

async function tokensFrom(r, verifier) {
  assert.equal(r.status, 303, r.text_);
  const code = new URL(r.headers.get("location")).searchParams.get("code");
  assert.ok(code, r.headers.get("location"));
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic("web", secret) });
  assert.equal(tok.status, 200, tok.text);
  const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
  return { id: claims(tok.json.id_token), access: claims(tok.json.access_token) };
}

const mgmt = (method, path, body) => api(t, sys.token, method, path, body);
const listed = async (user = ada, ws = "main") => (await mgmt("GET", `/api/tenants/acme/workspaces/${ws}/users/${user.id}/passkeys`)).json.items;
const errorText = (r) => r.text_.match(/<code>[^<]*<\/code>: ([^<]*)/)?.[1]?.replaceAll("&#39;", "'").replaceAll("&quot;", "\"").replaceAll("&amp;", "&");

test("a signed-in user registers a passkey from the account page; it is listed with its AAGUID", async () => {
  const agent = await passwordSession();
  const auth = new Authenticator();
  const r = await registerPasskey(agent, auth, { name: "Ada's laptop" });
  assert.equal(r.status, 303, r.text_);
  assert.equal(r.headers.get("location"), `${issuer}/app`);
  const items = await listed();
  const mine = items.find((p) => p.credential_id === b64(auth.id));
  assert.deepEqual({ ...mine, created_at: 0 }, { credential_id: b64(auth.id), name: "Ada's laptop", alg: "ES256", aaguid: "abababab-abab-abab-abab-abababababab", sign_count: 0, transports: ["internal"], backup_eligible: false, created_at: 0, last_used_at: null });
  const { page } = await accountPage(agent);
  assert.match(page.text_, /Ada&#39;s laptop/);
  // registering the same credential again is refused
  const again = await registerPasskey(agent, auth);
  assert.equal(again.status, 400);
  assert.equal(errorText(again), "this passkey is already registered");
});

test("registration options name the relying party, the user handle and the existing credentials", async () => {
  const agent = await passwordSession();
  const auth = new Authenticator();
  assert.equal((await registerPasskey(agent, auth)).status, 303);
  const { interaction } = await accountPage(agent);
  const o = JSON.parse((await agent.request(`${issuer}/passkeys/registration-options`, { method: "POST", form: { interaction } })).text_);
  assert.equal(o.publicKey.rp.id, rpId());
  assert.equal(Buffer.from(o.publicKey.user.id, "base64url").toString(), ada.id);
  assert.equal(o.publicKey.user.displayName, "Ada Lovelace");
  assert.deepEqual(o.publicKey.pubKeyCredParams.map((p) => p.alg), [-7, -257]);
  assert.equal(o.publicKey.authenticatorSelection.residentKey, "required");
  assert.equal(o.publicKey.attestation, "none");
  assert.ok(o.publicKey.excludeCredentials.some((c) => c.id === b64(auth.id)));
  assert.equal(Buffer.from(o.publicKey.challenge, "base64url").length, 32);
});

test("registration needs the session and the page's CSRF cookie", async () => {
  const agent = await passwordSession();
  const { interaction } = await accountPage(agent);
  const stranger = new Agent();
  const r = await stranger.request(`${issuer}/passkeys/registration-options`, { method: "POST", form: { interaction } });
  assert.equal(r.status, 403);
  assert.equal(JSON.parse(r.text_).error, "access_denied");
  const before = await listed();
  const noCookie = await fetch(`${issuer}/passkeys/register`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ interaction, state: "x", credential: "{}" }) });
  assert.equal(noCookie.status, 403);
  assert.deepEqual(await listed(), before);
});

test("sign-in usernameless and username-first; amr pop+mfa with user verification, pop without", async () => {
  const agent = await passwordSession();
  const auth = new Authenticator();
  assert.equal((await registerPasskey(agent, auth)).status, 303);
  const free = await passkeySignIn(auth);
  assert.deepEqual(free.opts.publicKey.allowCredentials, []);
  const tok = await tokensFrom(free.r, free.verifier);
  assert.equal(tok.id.sub, ada.id);
  assert.deepEqual(tok.id.amr, ["pop", "mfa"]);
  assert.deepEqual(tok.access.amr, ["pop", "mfa"]);

  const named = await passkeySignIn(auth, { username: "ada" });
  assert.deepEqual(named.opts.publicKey.allowCredentials.map((c) => c.id).includes(b64(auth.id)), true);
  assert.equal((await tokensFrom(named.r, named.verifier)).id.sub, ada.id);

  const noUv = await passkeySignIn(auth, { tweak: { uv: false } });
  const t2 = await tokensFrom(noUv.r, noUv.verifier);
  assert.deepEqual(t2.id.amr, ["pop"]);
  assert.deepEqual(t2.access.amr, ["pop"]);
  const row = (await listed()).find((p) => p.credential_id === b64(auth.id));
  assert.equal(row.sign_count, 3);
  assert.ok(row.last_used_at > 0);
  // the sign-in started a session: the next authorization needs no sign-in
  const again = await free.agent.request(authorizeUrl(issuer, pkce().verifier));
  assert.equal(again.status, 303);
});

/** A registered passkey of ada's and a function that reads its stored row. */
async function registered(opts = {}) {
  const agent = await passwordSession(opts.iss);
  const auth = new Authenticator(opts);
  assert.equal((await registerPasskey(agent, auth, opts)).status, 303);
  const row = async () => (await listed(ada, opts.ws ?? "main")).find((p) => p.credential_id === b64(auth.id));
  return { auth, row };
}

test("refusals: wrong origin, wrong rpId, no user presence, a bad signature, another user's handle; the counter is not moved", async () => {
  const { auth, row } = await registered();
  const cases = [
    [{ tweak: { origin: "https://evil.example" } }, "the passkey response was made for another site"],
    [{ tweak: { origin: origin().replace("http://", "https://") } }, "the passkey response was made for another site"],
    [{ tweak: { rpId: "evil.example" } }, "the passkey response was made for another site"],
    [{ tweak: { up: false } }, "the passkey did not confirm that the user was present"],
    [{ mutate: (c) => ({ ...c, response: { ...c.response, signature: b64(Buffer.from(c.response.signature, "base64url").map((x, i) => (i === 10 ? x ^ 1 : x))) } }) }, "the passkey's signature is invalid"],
    [{ mutate: (c) => ({ ...c, response: { ...c.response, userHandle: b64(bob.id) } }) }, "the passkey response is malformed"],
    [{ mutate: (c) => ({ ...c, id: b64(randomBytes(32)) }) }, "this passkey is not registered here"],
  ];
  for (const [opts, message] of cases) {
    const before = await row();
    const { r } = await passkeySignIn(auth, opts);
    assert.equal(r.status, 400, JSON.stringify(opts));
    assert.equal(errorText(r), message, JSON.stringify(opts));
    assert.equal(r.headers.get("set-cookie")?.includes("ea_session=") ?? false, false);
    assert.deepEqual(await row(), before);
  }
});

test("a challenge is used once: the same response replayed is refused", async () => {
  const { auth, row } = await registered();
  const first = await passkeySignIn(auth);
  assert.equal(first.r.status, 303);
  const after = await row();
  const replay = await first.agent.request(`${issuer}/passkeys/sign-in`, { method: "POST", form: first.fields });
  assert.equal(replay.status, 400);
  assert.equal(errorText(replay), "the passkey challenge was already used; try again");
  assert.deepEqual(await row(), after);
  // a failed response burns its challenge too
  const bad = await passkeySignIn(auth, { tweak: { origin: "https://evil.example" } });
  const retry = await bad.agent.request(`${issuer}/passkeys/sign-in`, { method: "POST", form: bad.fields });
  assert.equal(errorText(retry), "the passkey challenge was already used; try again");
});

test("a counter that does not grow is refused (a cloned authenticator)", async () => {
  const { auth, row } = await registered();
  assert.equal((await passkeySignIn(auth)).r.status, 303);
  assert.equal((await passkeySignIn(auth)).r.status, 303);
  assert.equal((await row()).sign_count, 2);
  auth.count = 0; // the clone signs with 1 again
  const { r } = await passkeySignIn(auth);
  assert.equal(r.status, 400);
  assert.equal(errorText(r), "this passkey's signature counter went backwards; it may have been cloned");
  assert.equal((await row()).sign_count, 2);
});

test("user_verification required: a passkey without UV is refused at registration and at sign-in", async () => {
  const agent = await passwordSession(strictIssuer);
  const noUv = new Authenticator({ uv: false });
  const reg = await registerPasskey(agent, noUv, { iss: strictIssuer });
  assert.equal(reg.status, 400);
  assert.equal(errorText(reg), "the passkey must verify the user (PIN or biometrics)");
  const items = () => listed(strictAda, "strict");
  assert.deepEqual(await items(), []);
  const auth = new Authenticator();
  assert.equal((await registerPasskey(agent, auth, { iss: strictIssuer })).status, 303);
  const { r } = await passkeySignIn(auth, { iss: strictIssuer, tweak: { uv: false } });
  assert.equal(r.status, 400);
  assert.equal(errorText(r), "the passkey must verify the user (PIN or biometrics)");
  assert.equal((await items())[0].sign_count, 0);
  const ok = await passkeySignIn(auth, { iss: strictIssuer });
  assert.equal(ok.r.status, 303);
});

test("AUT-9710: assertion options for an unknown user or one without passkeys look like a real user's", async () => {
  await registered();
  const optionsFor = async (username) => {
    const agent = new Agent();
    const page = await agent.request(authorizeUrl(issuer, pkce().verifier));
    const r = await agent.request(`${issuer}/passkeys/assertion-options`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), username } });
    assert.equal(r.status, 200);
    return { json: JSON.parse(r.text_), headers: r.headers };
  };
  const real = await optionsFor("ada");
  const shape = ({ json, headers }) => ({
    keys: Object.keys(json), pkKeys: Object.keys(json.publicKey), rpId: json.publicKey.rpId, timeout: json.publicKey.timeout, uv: json.publicKey.userVerification,
    challenge: json.publicKey.challenge.length, state: json.state.length,
    credKeys: json.publicKey.allowCredentials.map((c) => Object.keys(c).join(",")), types: json.publicKey.allowCredentials.map((c) => c.type),
    idLengths: json.publicKey.allowCredentials.map((c) => c.id.length), contentType: headers.get("content-type"), cache: headers.get("cache-control"),
  });
  const realOne = { ...real, json: { ...real.json, publicKey: { ...real.json.publicKey, allowCredentials: real.json.publicKey.allowCredentials.slice(0, 1) } } };
  for (const who of ["nobody-here", "bob"]) {
    const fake = await optionsFor(who);
    assert.deepEqual(shape(fake), shape(realOne), who);
    // the fake id is stable: asking twice gives the same one (a changing id would give it away)
    assert.deepEqual((await optionsFor(who)).json.publicKey.allowCredentials, fake.json.publicKey.allowCredentials);
    assert.notDeepEqual(fake.json.publicKey.allowCredentials, real.json.publicKey.allowCredentials);
  }
  assert.notDeepEqual((await optionsFor("nobody-here")).json.publicKey.allowCredentials, (await optionsFor("bob")).json.publicKey.allowCredentials);
});

test("the account page renames and deletes the user's own passkeys only, with its CSRF check", async () => {
  const agent = await passwordSession();
  const auth = new Authenticator();
  assert.equal((await registerPasskey(agent, auth, { name: "old" })).status, 303);
  const id = b64(auth.id);
  const { interaction } = await accountPage(agent);
  let r = await agent.request(`${issuer}/app/passkeys/rename`, { method: "POST", form: { interaction, credential_id: id, name: "Phone" } });
  assert.equal(r.status, 303);
  assert.equal((await listed()).find((p) => p.credential_id === id).name, "Phone");
  assert.match((await accountPage(agent)).page.text_, /<strong>Phone<\/strong>/);
  // bad names, no CSRF cookie, bob's session: nothing changes
  r = await agent.request(`${issuer}/app/passkeys/rename`, { method: "POST", form: { interaction, credential_id: id, name: "x".repeat(65) } });
  assert.equal(r.status, 400);
  const noCookie = await fetch(`${issuer}/app/passkeys/delete`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ interaction, credential_id: id }) });
  assert.equal(noCookie.status, 403);
  const bobAgent = await passwordSession(issuer, "bob", "another good password");
  const bobPage = await accountPage(bobAgent);
  r = await bobAgent.request(`${issuer}/app/passkeys/delete`, { method: "POST", form: { interaction: bobPage.interaction, credential_id: id } });
  assert.equal(r.status, 404);
  assert.equal(errorText(r), "you have no such passkey");
  assert.ok((await listed()).some((p) => p.credential_id === id));
  r = await agent.request(`${issuer}/app/passkeys/delete`, { method: "POST", form: { interaction, credential_id: id } });
  assert.equal(r.status, 303);
  assert.ok(!(await listed()).some((p) => p.credential_id === id));
  // a deleted passkey signs no one in
  const { r: gone } = await passkeySignIn(auth);
  assert.equal(errorText(gone), "this passkey is not registered here");
});

test("management API: list and delete a user's passkeys; 404 for another user's or an unknown one", async () => {
  const { auth } = await registered();
  const id = b64(auth.id);
  const base = `/api/tenants/acme/workspaces/main/users`;
  assert.ok((await listed()).some((p) => p.credential_id === id));
  assert.ok(!("public_key" in (await listed())[0]));
  assert.deepEqual((await mgmt("GET", `${base}/${bob.id}/passkeys`)).json, { items: [], next: null });
  assert.equal((await mgmt("DELETE", `${base}/${bob.id}/passkeys/${id}`)).status, 404);
  assert.equal((await mgmt("GET", `${base}/nobody/passkeys`)).status, 404);
  assert.equal((await mgmt("DELETE", `${base}/${ada.id}/passkeys/${id}`)).status, 204);
  assert.equal((await mgmt("DELETE", `${base}/${ada.id}/passkeys/${id}`)).status, 404);
  assert.ok(!(await listed()).some((p) => p.credential_id === id));
});

test("bad input is answered 4xx and writes nothing", async () => {
  const agent = await passwordSession();
  const before = await listed();
  const { interaction } = await accountPage(agent);
  const auth = new Authenticator();
  const cases = [
    () => "{not json",
    (good) => JSON.stringify({ ...good, type: "password" }),
    (good) => JSON.stringify({ ...good, response: { ...good.response, attestationObject: b64(Buffer.from([0xa1, 0x63, 0x66])) } }),
    (good) => JSON.stringify({ ...good, response: { ...good.response, attestationObject: "***" } }),
    (good) => JSON.stringify({ ...good, response: { ...good.response, clientDataJSON: b64("[]") } }),
    (good) => JSON.stringify({ ...good, id: b64(randomBytes(32)) }),
    () => "x".repeat(17 * 1024),
  ];
  for (const make of cases) {
    // each attempt on a fresh challenge, so the refusal is the credential's
    const o = JSON.parse((await agent.request(`${issuer}/passkeys/registration-options`, { method: "POST", form: { interaction } })).text_);
    const credential = make(auth.create(o.publicKey, { origin: origin() }));
    const r = await agent.request(`${issuer}/passkeys/register`, { method: "POST", form: { interaction, state: o.state, credential } });
    assert.equal(r.status, 400, credential.slice(0, 80));
    assert.equal(errorText(r), "the passkey response is malformed", credential.slice(0, 80));
  }
  const opts = JSON.parse((await agent.request(`${issuer}/passkeys/registration-options`, { method: "POST", form: { interaction } })).text_);
  const good = auth.create(opts.publicKey, { origin: origin() });
  const tooBig = await agent.request(`${issuer}/passkeys/register`, { method: "POST", form: { interaction, state: opts.state, credential: "x".repeat(70 * 1024) } });
  assert.equal(tooBig.status, 413);
  const badState = await agent.request(`${issuer}/passkeys/register`, { method: "POST", form: { interaction, state: "garbage", credential: JSON.stringify(good) } });
  assert.equal(errorText(badState), "the passkey challenge is invalid; try again");
  // a sign-in challenge is no registration challenge
  const other = new Agent();
  const page = await other.request(authorizeUrl(issuer, pkce().verifier));
  const signInOpts = JSON.parse((await other.request(`${issuer}/passkeys/assertion-options`, { method: "POST", form: { interaction: hidden(page.text_, "interaction") } })).text_);
  const crossed = await agent.request(`${issuer}/passkeys/register`, { method: "POST", form: { interaction, state: signInOpts.state, credential: JSON.stringify(good) } });
  assert.equal(errorText(crossed), "the passkey challenge is invalid; try again");
  assert.deepEqual(await listed(), before);
  // options and sign-in with a forged interaction, or a garbage credential
  const r = await form(`${issuer}/passkeys/assertion-options`, { interaction: "nope" });
  assert.equal(r.status, 400);
  assert.equal(r.json.error_description, "the form is invalid; start again from the application");
  const signIn = await other.request(`${issuer}/passkeys/sign-in`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), state: signInOpts.state, credential: JSON.stringify({ id: 1 }) } });
  assert.equal(signIn.status, 400);
  assert.equal(errorText(signIn), "the passkey response is malformed");
});

test("isolation: another workspace on the same host refuses the passkey; a disabled user cannot use theirs; deleting the user deletes them", async () => {
  const eve = await t.user("acme", "main", { username: "eve", password: "eve's own password" });
  const agent = await passwordSession(issuer, "eve", "eve's own password");
  const auth = new Authenticator();
  assert.equal((await registerPasskey(agent, auth)).status, 303);
  // same host, so the same relying party id: the browser would offer it at acme/strict too
  const elsewhere = await passkeySignIn(auth, { iss: strictIssuer });
  assert.equal(errorText(elsewhere.r), "this passkey is not registered here");
  const base = `/api/tenants/acme/workspaces/main/users/${eve.id}`;
  assert.equal((await mgmt("PATCH", base, { disabled: true })).status, 200);
  const before = await listed(eve);
  const disabled = await passkeySignIn(auth);
  assert.deepEqual(await listed(eve), before);
  assert.equal(disabled.r.status, 400);
  assert.equal(errorText(disabled.r), "this passkey is not registered here");
  assert.equal(disabled.r.headers.get("set-cookie")?.includes("ea_session=") ?? false, false);
  assert.equal((await mgmt("PATCH", base, { disabled: false })).status, 200);
  assert.equal((await passkeySignIn(auth)).r.status, 303);
  assert.equal((await mgmt("DELETE", base)).status, 204);
  const gone = await passkeySignIn(auth);
  assert.equal(errorText(gone.r), "this passkey is not registered here");
});

test("an account holds at most 20 passkeys", async () => {
  await t.user("acme", "main", { username: "many", password: "a password for many" });
  const agent = await passwordSession(issuer, "many", "a password for many");
  for (let i = 0; i < 20; i++) assert.equal((await registerPasskey(agent, new Authenticator(), { name: `key ${i}` })).status, 303);
  const r = await registerPasskey(agent, new Authenticator());
  assert.equal(r.status, 400);
  assert.equal(errorText(r), "an account has at most 20 passkeys; delete one first");
});

test("right after a password sign-in a user without passkeys is offered one: not now, or add it, and the authorization goes on", async () => {
  const dan = await t.user("acme", "main", { username: "dan", password: "yet another password" });
  const login = async () => {
    const agent = new Agent();
    const verifier = pkce().verifier;
    const page = await agent.request(authorizeUrl(issuer, verifier));
    const r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), username: "dan", password: "yet another password" } });
    return { agent, verifier, r };
  };
  // not now: straight on to the client
  let { agent, verifier, r } = await login();
  assert.equal(r.status, 200);
  assert.match(r.text_, /Sign in faster next time\?/);
  assert.match(r.text_, /data-passkey="register"[^>]*hidden/);
  assert.match(r.headers.get("content-security-policy"), new RegExp(`script-src ${issuer}/passkeys.js;`));
  const offer = hidden(r.text_, "interaction");
  let next = await agent.request(`${issuer}/passkeys/continue`, { method: "POST", form: { interaction: offer } });
  assert.deepEqual((await tokensFrom(next, verifier)).id.amr, ["pwd"]);
  // the offer needs the session it was made for
  const stranger = await new Agent().request(`${issuer}/passkeys/continue`, { method: "POST", form: { interaction: offer } });
  assert.equal(stranger.status, 403);
  // add it: registered, then on to the client
  ({ agent, verifier, r } = await login());
  const interaction = hidden(r.text_, "interaction");
  const o = JSON.parse((await agent.request(`${issuer}/passkeys/registration-options`, { method: "POST", form: { interaction } })).text_);
  const auth = new Authenticator();
  next = await agent.request(`${issuer}/passkeys/register`, { method: "POST", form: { interaction, state: o.state, credential: JSON.stringify(auth.create(o.publicKey, { origin: origin() })), name: "Dan's key" } });
  assert.equal((await tokensFrom(next, verifier)).id.sub, dan.id);
  assert.deepEqual((await listed(dan)).map((p) => p.name), ["Dan's key"]);
  // with a passkey, no more offers
  ({ r } = await login());
  assert.equal(r.status, 303);
});

test("pages: the passkey script is the one script, named by the CSP; a workspace without passkeys shows none", async () => {
  const page = await new Agent().request(authorizeUrl(issuer, pkce().verifier));
  const csp = page.headers.get("content-security-policy");
  const directives = Object.fromEntries(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives["script-src"], [`${issuer}/passkeys.js`]);
  assert.deepEqual(directives["default-src"], ["'none'"]);
  assert.doesNotMatch(csp, /unsafe-eval/);
  const scripts = [...page.text_.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
  assert.deepEqual(scripts.map((m) => [m[1], m[2]]), [[` src="${issuer}/passkeys.js" defer`, ""]]);
  assert.match(page.text_, /data-passkey="sign-in"[^>]*hidden/);
  assert.match(page.text_, /autocomplete="username webauthn"/);
  const js = await fetch(`${issuer}/passkeys.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type"), /^text\/javascript/);
  assert.match(js.headers.get("cache-control"), /max-age=\d+/);
  assert.doesNotMatch(await js.text(), /\beval\(|new Function/);

  const off = await new Agent().request(authorizeUrl(offIssuer, pkce().verifier));
  assert.doesNotMatch(off.headers.get("content-security-policy"), /script-src/);
  assert.doesNotMatch(off.text_, /<script|data-passkey/);
  const refused = await form(`${offIssuer}/passkeys/assertion-options`, { interaction: hidden(off.text_, "interaction") });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error_description, "passkeys are not enabled in this workspace");
});

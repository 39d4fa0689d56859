// The account page (/app, issue 21 §6), server side: the user's name and the applications they
// allowed (by name, the scopes in words, the date), escaped; change password (checked and locked as
// a sign-in is, nothing changed on a refusal, the other sessions ended and this one rotated on
// success); sign out everywhere (every browser's session ends, refresh tokens fail invalid_grant).
// One workspace for the file (creating one costs seconds on wasm); each test has its own user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, Agent, hidden, basic, form } from "../support/target.mjs";
import { authorizeCode } from "../support/signin.mjs";

const REDIRECT = "https://rp.example/cb";
const PASSWORD = "correct horse battery";
let t, issuer, secret;
const secrets = {};

before(async () => {
  t = await startTarget();
  // A low account limit, so the lock is reached in a few posts; the address limit stays out of the way.
  issuer = await t.workspace("acct", "main", { throttle: { account_max_failures: 3, address_max_failures: 1000, window_secs: 600, base_lock_secs: 60, max_lock_secs: 240 } });
  const client = { redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile email offline_access" };
  for (const c of [{ client_id: "web", client_name: "Web Shop" }, { client_id: "evil", client_name: "<script>alert(1)</script>" }, { client_id: "bare" }]) {
    secrets[c.client_id] = (await t.client("acct", "main", { ...c, ...client })).client_secret;
  }
  secret = secrets.web;
});
after(() => t?.stop());

let n = 0;
/** A fresh user (own lock counter, own sessions). */
async function user(extra = {}) {
  const username = extra.username ?? `user${++n}`;
  await t.user("acct", "main", { password: PASSWORD, ...extra, username });
  return { username, password: PASSWORD };
}

/** Signs `agent` in through client `client_id` (consenting to `scope`); returns the token response. */
async function signIn(agent, who, client_id = "web", scope = "openid profile offline_access") {
  const { code, verifier } = await authorizeCode(issuer, { client_id, redirect_uri: REDIRECT, scope, ...who, agent });
  const r = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic(client_id, secrets[client_id]) });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const refresh = (refresh_token) => form(`${issuer}/token`, { grant_type: "refresh_token", refresh_token }, { authorization: basic("web", secret) });
const app = (agent) => agent.request(`${issuer}/app`);
const signedOut = (r) => r.status === 200 && r.text_.includes("You are signed out.");

/** Posts the change-password form from `agent`'s account page. */
async function changePassword(agent, current_password, new_password, confirm_password = new_password) {
  const page = await app(agent);
  assert.equal(page.status, 200);
  return agent.request(`${issuer}/app/password`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), current_password, new_password, confirm_password } });
}

/** A password sign-in's answer: 303 onwards when right, the login page again (200) when wrong. */
async function tryPassword(username, password) {
  const agent = new Agent();
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid", code_challenge: "x".repeat(43), code_challenge_method: "S256" })) u.searchParams.set(k, v);
  const page = await agent.request(u.toString());
  return agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), username, password } });
}

test("the page names the user and each application by name, with the scopes in words and the day it was allowed, escaped", async () => {
  const who = await user({ username: "<img src=x>", claims: { given_name: "Ada", family_name: "<b>Lovelace</b>" } });
  const agent = new Agent();
  await signIn(agent, who, "web");
  await signIn(agent, who, "evil", "openid email");
  await signIn(agent, who, "bare", "openid");
  const r = await app(agent);
  assert.equal(r.status, 200);
  const html = r.text_;
  // given_name + family_name (no `name` claim), escaped; the username below it, escaped.
  assert.ok(html.includes("<h1>Ada &lt;b&gt;Lovelace&lt;/b&gt;</h1>"), html);
  assert.ok(html.includes("Signed in as <strong>&lt;img src=x&gt;</strong>"), html);
  assert.ok(!html.includes("<img") && !html.includes("<script>alert") && !html.includes("<b>Lovelace"), "nothing unescaped");
  const today = new Date().toISOString().slice(0, 10);
  assert.ok(html.includes(`<strong>Web Shop</strong> <span class="scope">allowed on ${today}</span>`), html);
  assert.ok(html.includes("<li>Your name and profile <span class=\"scope\">(profile)</span></li>") && html.includes("<li>Access while you are away <span class=\"scope\">(offline_access)</span></li>"), html);
  assert.ok(html.includes("<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"), "the client's name, escaped");
  assert.ok(html.includes("<strong>bare</strong>"), "no client_name: the client_id");
  // The withdraw form per application stays, and names the application for screen readers.
  assert.ok(html.includes('aria-label="Withdraw access: Web Shop"') && html.includes('name="client_id" value="web"'), html);
  // pt-BR, from Accept-Language.
  const pt = await agent.request(`${issuer}/app`, { headers: { "accept-language": "pt-BR" } });
  assert.ok(pt.text_.includes("autorizado em") && pt.text_.includes("Alterar senha") && pt.text_.includes("Sair de todos os lugares"), pt.text_);
});

test("the name claim wins over given and family names", async () => {
  const who = await user({ claims: { name: "Grace Hopper", given_name: "G" } });
  const agent = new Agent();
  await signIn(agent, who);
  assert.ok((await app(agent)).text_.includes("<h1>Grace Hopper</h1>"));
});

test("change password: a short or mismatched new one and a wrong current one are refused on their field, nothing changed, never echoed", async () => {
  const who = await user();
  const agent = new Agent();
  await signIn(agent, who);
  // Too short (9 characters): 400, the error on the new password's field, described by it.
  let r = await changePassword(agent, PASSWORD, "123456789");
  assert.equal(r.status, 400);
  assert.match(r.text_, /<input type="password" id="new-password" name="new_password" autocomplete="new-password" required minlength="10" aria-invalid="true" aria-describedby="new-password-error new-password-hint" autofocus><p class="error-text" id="new-password-error">The password is too short: use at least 10 characters.<\/p>/);
  assert.ok(!r.text_.includes("123456789") && !r.text_.includes(PASSWORD), "no password echoed");
  // The two new ones differ: the confirmation's field.
  r = await changePassword(agent, PASSWORD, "a new long password", "a new long passw0rd");
  assert.equal(r.status, 400);
  assert.match(r.text_, /id="confirm-password" name="confirm_password" autocomplete="new-password" required aria-invalid="true" aria-describedby="confirm-password-error" autofocus><p class="error-text" id="confirm-password-error">The two new passwords are not the same.<\/p>/);
  // A wrong current password: the current password's field.
  r = await changePassword(agent, "not my password", "a new long password");
  assert.equal(r.status, 400);
  assert.match(r.text_, /id="current-password" name="current_password" autocomplete="current-password" required aria-invalid="true" aria-describedby="current-password-error" autofocus><p class="error-text" id="current-password-error">The current password is not right.<\/p>/);
  assert.ok(!r.text_.includes("not my password") && !r.text_.includes("a new long password"), "no password echoed");
  // Nothing changed: the old password still signs in, the refused new ones do not.
  assert.equal((await tryPassword(who.username, PASSWORD)).status, 303);
  assert.equal((await tryPassword(who.username, "a new long password")).status, 200);
  assert.equal((await tryPassword(who.username, "123456789")).status, 200);
  // Without the browser's CSRF cookie: refused, nothing changed.
  const page = await app(agent);
  const forged = await fetch(`${issuer}/app/password`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: `ea_session=${agent.cookies.get("ea_session")}` }, body: new URLSearchParams({ interaction: hidden(page.text_, "interaction"), current_password: PASSWORD, new_password: "forged new password", confirm_password: "forged new password" }) });
  assert.equal(forged.status, 403);
  assert.equal((await tryPassword(who.username, PASSWORD)).status, 303);
});

test("change password: wrong current passwords count towards the sign-in's lock, which then refuses the form and the login alike", async () => {
  const who = await user();
  const agent = new Agent();
  await signIn(agent, who);
  // Two failures on the account page, one at the login form: the third reaches the limit (3).
  for (let i = 0; i < 2; i++) assert.equal((await changePassword(agent, `wrong ${i}`, "a new long password")).status, 400);
  assert.equal((await tryPassword(who.username, "wrong at the login")).status, 429);
  // Locked: the form is answered 429 with Retry-After even with the right password, and unchanged.
  const r = await changePassword(agent, PASSWORD, "a new long password");
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get("retry-after")) > 0);
  assert.ok(r.text_.includes("Too many failed sign-in attempts. Try again later."), r.text_);
  assert.equal((await tryPassword(who.username, PASSWORD)).status, 429, "the login is locked too");
});

test("change password: the new one works, the old one no longer, the other browser is signed out and this one rotated", async () => {
  const who = await user();
  const [a, b] = [new Agent(), new Agent()];
  const tokens = await signIn(a, who);
  await signIn(b, who);
  const before = a.cookies.get("ea_session");
  const r = await changePassword(a, PASSWORD, "a brand new password");
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), `${issuer}/app?changed=password`);
  const after = a.cookies.get("ea_session");
  assert.ok(after && after !== before, "a new session cookie for this browser");
  const page = await a.request(r.headers.get("location"));
  assert.ok(page.text_.includes('<p class="notice" role="status">Your password was changed. Your other sessions were ended.</p>'), page.text_);
  assert.ok(signedOut(await app(b)), "the other browser is signed out");
  // The old cookie (a copy of it, in a third jar) no longer finds a session.
  const old = new Agent();
  old.cookies.set("ea_session", before);
  assert.ok(signedOut(await app(old)));
  assert.equal((await tryPassword(who.username, PASSWORD)).status, 200, "the old password fails");
  assert.equal((await tryPassword(who.username, "a brand new password")).status, 303, "the new one signs in");
  // Grants stay: the relying party's refresh token still works (sign out everywhere ends those).
  assert.equal((await refresh(tokens.refresh_token)).status, 200);
});

test("sign out everywhere: every browser's session ends, refresh tokens fail invalid_grant, a new sign-in works", async () => {
  const who = await user();
  const [a, b] = [new Agent(), new Agent()];
  const tokens = await signIn(a, who);
  await signIn(b, who);
  assert.equal((await app(b)).status, 200);
  const page = await app(a);
  // Without the CSRF cookie: refused, nothing ended.
  const forged = await fetch(`${issuer}/app/sign-out-everywhere`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: `ea_session=${a.cookies.get("ea_session")}` }, body: new URLSearchParams({ interaction: hidden(page.text_, "interaction") }) });
  assert.equal(forged.status, 403);
  assert.ok(!signedOut(await app(b)));
  const r = await a.request(`${issuer}/app/sign-out-everywhere`, { method: "POST", form: { interaction: hidden(page.text_, "interaction") } });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), `${issuer}/app`);
  assert.equal(a.cookies.get("ea_session"), undefined, "this browser's cookie is cleared");
  assert.ok(signedOut(await app(b)), "the other browser is signed out");
  // B is asked to sign in again by the authorization endpoint.
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid", code_challenge: "x".repeat(43), code_challenge_method: "S256", prompt: "none" })) u.searchParams.set(k, v);
  const none = await b.request(u.toString());
  assert.equal(new URL(none.headers.get("location")).searchParams.get("error"), "login_required");
  const rt = await refresh(tokens.refresh_token);
  assert.equal(rt.status, 400);
  assert.equal(rt.json.error, "invalid_grant");
  // Signing in again at once is not caught by the cut-off; the consent was kept.
  const fresh = await signIn(b, who);
  assert.equal((await refresh(fresh.refresh_token)).status, 200);
  assert.equal((await app(b)).status, 200);
  assert.ok(!signedOut(await app(b)));
});

// Self-service sign-up and forgotten passwords (issue 21 §4-5), the server side on every target:
// the switches (off: no links, 404s; on without email codes: refused), a sign-up from the sign-in
// page to the client's code and tokens (the new user's sub, email_verified), the password rules
// (400, the address kept, nothing created), an address that has an account (the same page,
// nothing sent, no code right), the race where the address gets an account before the code, the
// code's rules (five wrong guesses, reuse, 30 s between codes, expiry where the clock can move),
// and a reset (old password refused, new one works, grants revoked) alike for unknown, provider
// and disabled names, which are sent nothing. The codes are caught by a loopback webhook.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, pkce, basic, Agent, form } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { startEmailSink } from "../support/email-sink.mjs";
import { api, systemClient } from "../support/management.mjs";
import { unescape, attr, formIn, mustForm, post } from "../support/html.mjs";

const RP = "https://rp.example/cb";
const PW = "correct horse battery";
const TENANT = "acme", WS = "ss";
let t, sink, iss, secret, sys;
let n = 0;
/** A fresh address per use: codes, limits and locks are per address. */
const fresh = (what) => `${what}-${Date.now().toString(36)}-${n++}@example.com`;

// every request comes from 127.0.0.1: a high per-address limit; the account limit stays above
// the five guesses a code allows (what is tested here is the code's own rule)
const throttle = { address_max_failures: 10000, account_max_failures: 20, login_form_max_posts: 20 };
const config = (selfService) => ({
  throttle,
  login: { email_codes: { enabled: true, webhook_url: sink.url() }, ...(selfService ? { self_service: { sign_up: true, password_reset: true, min_password_length: 12 } } : {}) },
});

before(async () => {
  t = await startTarget({ extensionHosts: "127.0.0.1" });
  sink = await startEmailSink();
  // One workspace for the file, created with the switches off (the first test), then turned on.
  iss = await t.workspace(TENANT, WS, config(false));
  secret = (await t.client(TENANT, WS, { client_id: "web", client_name: "Web", redirect_uris: [RP], grant_types: ["authorization_code", "refresh_token"], scope: "openid email offline_access", skip_consent: true })).client_secret;
  await sink.trust(iss);
  sys = await systemClient(t, { client_id: "ops" });
});
after(async () => {
  try {
    await t?.stop();
  } finally {
    await sink?.stop();
  }
});

// ---- pages and flows ----
/** A page with its sealed state blanked: what differs between two answers apart from it. */
const markup = (html) => html.replace(/name="interaction" value="[^"]*"/g, 'name="interaction" value=""');
const errorOf = (r) => unescape(r.text_.match(/<p class="error" role="alert"[^>]*>([\s\S]*?)<\/p>/)?.[1]);

/** The sign-in page of a new authorization. */
async function signInPage(agent = new Agent(), params = {}) {
  const { verifier, challenge } = pkce();
  const u = new URL(`${iss}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: RP, scope: "openid email offline_access", state: "st", nonce: "nn", code_challenge: challenge, code_challenge_method: "S256", prompt: "consent", ...params })) u.searchParams.set(k, v);
  const page = await agent.request(u.toString());
  assert.equal(page.status, 200, page.text_.slice(0, 2000));
  return { page, verifier, agent };
}

/** From the sign-in page to the sign-up form, filled in. */
async function signUp(email, password = PW, start) {
  const s = start ?? (await signInPage());
  const formPage = await post(s.agent, mustForm(s.page, "sign-up-form"));
  assert.equal(formPage.status, 200, formPage.text_.slice(0, 2000));
  const r = await post(s.agent, mustForm(formPage, "sign-up"), { email, password });
  return { ...s, r };
}

/** From the sign-in page to the forgotten password's name form, submitted. */
async function forgot(name) {
  const s = await signInPage();
  const formPage = await post(s.agent, mustForm(s.page, "forgot-password-form"));
  assert.equal(formPage.status, 200, formPage.text_.slice(0, 2000));
  const r = await post(s.agent, mustForm(formPage, "forgot-password"), { username: name });
  return { ...s, r };
}

/** The client's view: the redirect's query at the redirect_uri. */
function atClient(r) {
  assert.equal(r.status, 303, `expected a redirect to the client, got ${r.status}:\n${r.text_?.slice(0, 2000)}`);
  const loc = new URL(r.headers.get("location"));
  assert.equal(loc.origin + loc.pathname, RP, loc.toString());
  return loc.searchParams;
}

/** Redeems the client's code: the tokens, the ID token's claims and userinfo. */
async function tokens(r, verifier) {
  const q = atClient(r);
  assert.equal(q.get("error"), null, `error at the client: ${q}`);
  const tk = await form(`${iss}/token`, { grant_type: "authorization_code", code: q.get("code"), redirect_uri: RP, code_verifier: verifier }, { authorization: basic("web", secret) });
  assert.equal(tk.status, 200, tk.text);
  const info = await fetch(`${iss}/userinfo`, { headers: { authorization: `Bearer ${tk.json.access_token}` } });
  assert.equal(info.status, 200);
  return { ...tk.json, id: decodeJwt(tk.json.id_token).payload, userinfo: await info.json() };
}

/** A password sign-in's answer (the sign-in page again on failure, the client on success). */
async function passwordSignIn(username, password) {
  const { page, verifier, agent } = await signInPage();
  const f = [...page.text_.matchAll(/<form\b[\s\S]*?<\/form>/g)].map((m) => m[0]).find((x) => /name="password"/.test(x));
  const interaction = unescape(f.match(/name="interaction" value="([^"]*)"/)[1]);
  const r = await agent.request(`${iss}/login`, { method: "POST", form: { interaction, username, password } });
  return { r, verifier };
}

const users = async (q) => {
  const r = await api(t, sys.token, "GET", `/api/tenants/${TENANT}/workspaces/${WS}/users?q=${encodeURIComponent(q)}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items ?? r.json.users ?? r.json;
};
const settle = () => new Promise((r) => setTimeout(r, 300)); // a delivery that would come has come

// ---- the switches ----
test("switched off: the sign-in page has no links and the four endpoints are 404; on without email codes, the configuration is refused", async () => {
  const { page } = await signInPage();
  assert.equal(formIn(page.text_, "sign-up-form"), null);
  assert.equal(formIn(page.text_, "forgot-password-form"), null);
  assert.doesNotMatch(page.text_, /Create an account|Forgot your password/);
  for (const path of ["signup", "signup/verify", "password/forgot", "password/reset"]) {
    for (const method of ["POST", "GET"]) {
      const r = await fetch(`${iss}/${path}`, { method, redirect: "manual" });
      assert.equal(r.status, 404, `${method} ${path}`);
    }
  }
  const refused = await t.admin("PUT", `/admin/tenants/${TENANT}/workspaces/${WS}`, { throttle, login: { self_service: { sign_up: true } } });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /login\.self_service/);
  const short = await t.admin("PUT", `/admin/tenants/${TENANT}/workspaces/${WS}`, { ...config(true), login: { ...config(true).login, self_service: { sign_up: true, min_password_length: 7 } } });
  assert.equal(short.status, 400, short.text);
  assert.match(short.text, /min_password_length/);
  assert.equal((await t.admin("GET", `/admin/tenants/${TENANT}/workspaces/${WS}`)).json.login.self_service.sign_up, false, "nothing changed");

  // on, for the rest of the file
  const on = await t.admin("PUT", `/admin/tenants/${TENANT}/workspaces/${WS}`, config(true));
  assert.equal(on.status, 200, on.text);
  const again = (await signInPage()).page.text_;
  assert.ok(formIn(again, "sign-up-form") && formIn(again, "forgot-password-form"), "both links once on");
  assert.match(again, /Create an account/);
  assert.match(again, /Forgot your password\?/);
  assert.equal((await fetch(`${iss}/signup`, { redirect: "manual" })).status, 405, "GET is not the way in");
});

// ---- sign-up ----
test("sign-up: from the sign-in page, a code to the address, then the client gets the new user with email_verified", async () => {
  const email = fresh("ann");
  const typed = `  ${email.toUpperCase()} `;
  const { r, agent, verifier } = await signUp(typed);
  assert.equal(r.status, 200, r.text_.slice(0, 2000));
  assert.match(r.text_, /We sent a 6-digit code to your email address/);
  const code = mustForm(r, "code-form");
  const mail = await sink.next(email);
  assert.equal(mail.purpose, "sign_up");
  assert.equal(mail.expires_in, 300);
  assert.match(mail.code, /^\d{6}$/);
  assert.deepEqual(await users(email), [], "no user before the code");
  const done = await post(agent, code, { code: mail.code });
  const tk = await tokens(done, verifier);
  const [user] = await users(email);
  assert.ok(user, "the user exists");
  assert.equal(user.username, email, "the username is the address, lower-cased");
  assert.equal(user.created_by, "sign_up");
  assert.equal(user.has_password, true);
  assert.deepEqual(user.claims, { email: email, email_verified: true });
  assert.equal(tk.id.sub, user.id);
  assert.deepEqual(tk.id.amr, ["otp"], "the factor proved: a code");
  assert.equal(tk.userinfo.email, email);
  assert.equal(tk.userinfo.email_verified, true);
  // the password chosen signs in
  const { r: again, verifier: v2 } = await passwordSignIn(email, PW);
  assert.equal((await tokens(again, v2)).id.sub, user.id);
  // the used code's form again: the code is gone, nothing is created twice
  const replay = await post(agent, code, { code: mail.code });
  assert.equal(replay.status, 400);
  assert.match(errorOf(replay), /can no longer be used/);
  assert.equal((await users(email)).length, 1);
});

test("sign-up's password rules and address: 400, the address kept, the password never echoed, nothing created or sent", async () => {
  const email = fresh("rules");
  const cases = [
    { email, password: "short pw", field: "password", error: "The password is too short: use at least 12 characters." },
    { email, password: email.toUpperCase(), field: "password", error: "The password cannot be your email address or username." },
    { email, password: "x".repeat(1025), field: "password", error: "The password is too long: use at most 1024 bytes." },
    { email: "not-an-address", password: PW, field: "email", error: "Enter a valid email address." },
    { email: "a@b", password: PW, field: "email", error: "Enter a valid email address." },
  ];
  for (const c of cases) {
    const { r } = await signUp(c.email, c.password);
    assert.equal(r.status, 400, `${c.email}/${c.password.slice(0, 20)}: ${r.text_.slice(0, 1500)}`);
    assert.equal(errorOf(r), c.error);
    const input = r.text_.match(new RegExp(`<input[^>]*id="${c.field}"[^>]*>`))[0];
    assert.match(input, /aria-invalid="true"/, `${c.field} is marked invalid`);
    assert.match(input, /aria-describedby="form-error/, `${c.field} is described by the error`);
    const emailInput = r.text_.match(/<input[^>]*id="email"[^>]*>/)[0];
    assert.equal(attr(emailInput, "value"), c.email, "the address comes back as typed");
    assert.ok(!r.text_.includes(c.password), "the password is not in the page");
    assert.ok(formIn(r.text_, "sign-up"), "the form again");
  }
  // in Portuguese too
  const { page, agent } = await signInPage(new Agent(), { ui_locales: "pt-BR" });
  const pt = await signUp(email, "curta", { page, agent, verifier: "" });
  assert.equal(pt.r.status, 400);
  assert.equal(errorOf(pt.r), "A senha é curta demais: use pelo menos 12 caracteres.");
  await settle();
  assert.deepEqual(await users(email), [], "no user");
  assert.equal(sink.to(email).length, 0, "no email");
});

test("sign-up with an address that has an account: the same page, nothing sent, no code right, the account untouched", async () => {
  const taken = fresh("taken"), other = fresh("other");
  const owner = await t.user(TENANT, WS, { username: taken, password: PW, claims: { email: taken, email_verified: true } });
  // an account whose username is not the address but whose email is
  const byEmail = fresh("byemail");
  await t.user(TENANT, WS, { username: `u${n++}`, password: PW, claims: { email: byEmail } });
  const a = await signUp(taken, "another password 1");
  const b = await signUp(other, "another password 1");
  const c = await signUp(byEmail.toUpperCase(), "another password 1");
  assert.equal(a.r.status, b.r.status);
  assert.equal(markup(a.r.text_), markup(b.r.text_), "identical markup");
  assert.equal(markup(c.r.text_), markup(b.r.text_), "identical markup");
  assert.deepEqual([...a.r.headers.keys()].sort(), [...b.r.headers.keys()].sort(), "the same headers");
  await sink.next(other);
  await settle();
  assert.equal(sink.to(taken).length, 0, "nothing sent to the account's address");
  assert.equal(sink.to(byEmail).length, 0, "nothing sent to the account's address");
  // every code is wrong for it (here: the code the other address got, and a few more)
  const f = mustForm(a.r, "code-form");
  for (const code of ["000000", "123456"]) {
    const r = await post(a.agent, f, { code });
    assert.equal(r.status, 400);
    assert.equal(errorOf(r), "That code is not right. Try again.");
  }
  const [still] = await users(taken);
  assert.equal(still.id, owner.id);
  assert.equal(still.created_by, "administrator");
  assert.equal((await users(taken)).length, 1);
  const { r, verifier } = await passwordSignIn(taken, PW);
  assert.equal((await tokens(r, verifier)).id.sub, owner.id, "the owner's password still works");
  // 30 s between codes for the taken address too: the same answer as for a free one
  const again = await signUp(taken, "another password 1");
  assert.equal(again.r.status, 429);
});

test("the address gets an account between the form and the code: the right code creates nothing and says so", async () => {
  const email = fresh("race");
  const { r, agent } = await signUp(email);
  const mail = await sink.next(email);
  const owner = await t.user(TENANT, WS, { username: email, password: "the owner's password", claims: { email } });
  const late = await post(agent, mustForm(r, "code-form"), { code: mail.code });
  assert.equal(late.status, 400, late.text_.slice(0, 1500));
  assert.match(errorOf(late), /can no longer be used/);
  assert.equal(late.headers.get("set-cookie")?.includes("ea_session") ?? false, false, "no session");
  const all = await users(email);
  assert.equal(all.length, 1);
  assert.equal(all[0].id, owner.id);
  assert.deepEqual(all[0].claims, { email }, "the owner's attributes untouched");
  const { r: signIn, verifier } = await passwordSignIn(email, "the owner's password");
  assert.equal((await tokens(signIn, verifier)).id.sub, owner.id);
});

test("sign-up codes: five wrong guesses, then even the right code is dead; 30 s between codes (429, Retry-After, nothing sent)", async () => {
  const email = fresh("guess");
  const { r, agent } = await signUp(email);
  const mail = await sink.next(email);
  const f = mustForm(r, "code-form");
  const wrong = String((Number(mail.code) + 1) % 1_000_000).padStart(6, "0");
  for (let i = 1; i <= 5; i++) {
    const x = await post(agent, f, { code: wrong });
    assert.equal(x.status, 400, `guess ${i}`);
    assert.equal(errorOf(x), "That code is not right. Try again.", `guess ${i}`);
  }
  const dead = await post(agent, f, { code: mail.code });
  assert.equal(dead.status, 400);
  assert.equal(errorOf(dead), "This code can no longer be used (it expired, was used, or was tried too often). Ask for a new one.");
  assert.deepEqual(await users(email), []);
  // a new code is 30 s away
  const soon = await signUp(email);
  assert.equal(soon.r.status, 429, soon.r.text_.slice(0, 1000));
  const retry = Number(soon.r.headers.get("retry-after"));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 30, `Retry-After: ${soon.r.headers.get("retry-after")}`);
  await settle();
  assert.equal(sink.to(email).length, 1, "one email in all");
});

test("the forms are bound to their browser and step: another browser's cookie, a sign-in form at the code's endpoint, a tampered form", async () => {
  const email = fresh("csrf");
  const { r } = await signUp(email);
  await sink.next(email);
  const f = mustForm(r, "code-form");
  const stranger = await post(new Agent(), f, { code: "000000" });
  assert.equal(stranger.status, 403, "another browser (no CSRF cookie)");
  const s = await signInPage();
  const wrongStep = await post(s.agent, { action: `${iss}/signup/verify`, fields: mustForm(s.page, "sign-up-form").fields }, { code: "000000" });
  assert.equal(wrongStep.status, 400);
  assert.match(wrongStep.text_, /the form is invalid/);
  const tampered = await post(s.agent, mustForm(s.page, "sign-up-form"), { interaction: "x" + f.fields.interaction.slice(1), email, password: PW });
  assert.equal(tampered.status, 400);
  assert.deepEqual(await users(email), []);
});

// ---- forgotten password ----
test("reset: a code to the account's address, a weak new password costs no guess, then the old password fails, the new one works, the tokens from before are revoked", async () => {
  const email = fresh("reset");
  const name = `r${n++}`;
  const user = await t.user(TENANT, WS, { username: name, password: PW, claims: { email } });
  // a refresh token from before the reset
  const before = await passwordSignIn(name, PW);
  const old = await tokens(before.r, before.verifier);
  assert.ok(old.refresh_token, "a refresh token");

  const { r, agent, verifier } = await forgot(name.toUpperCase());
  assert.equal(r.status, 200, r.text_.slice(0, 1500));
  assert.match(r.text_, /If an account exists for that name, we sent a 6-digit code/);
  const mail = await sink.next(email);
  assert.equal(mail.purpose, "password_reset");
  const f = mustForm(r, "reset-password");
  const weak = await post(agent, f, { code: mail.code, password: "too short" });
  assert.equal(weak.status, 400);
  assert.equal(errorOf(weak), "The password is too short: use at least 12 characters.");
  assert.match(weak.text_.match(/<input[^>]*id="password"[^>]*>/)[0], /aria-invalid="true"/);
  const same = await post(agent, f, { code: mail.code, password: email });
  assert.equal(errorOf(same), "The password cannot be your email address or username.");
  const NEW = "a brand new passphrase";
  const done = await post(agent, f, { code: mail.code, password: NEW });
  const tk = await tokens(done, verifier);
  assert.equal(tk.id.sub, user.id);
  assert.deepEqual(tk.id.amr, ["otp"]);
  const oldPw = await passwordSignIn(name, PW);
  assert.equal(oldPw.r.status, 200, "the sign-in page again");
  assert.match(oldPw.r.text_, /Invalid username or password/);
  const newPw = await passwordSignIn(name, NEW);
  assert.equal((await tokens(newPw.r, newPw.verifier)).id.sub, user.id);
  const refresh = await form(`${iss}/token`, { grant_type: "refresh_token", refresh_token: old.refresh_token }, { authorization: basic("web", secret) });
  assert.equal(refresh.status, 400, refresh.text);
  assert.equal(refresh.json.error, "invalid_grant");
  const intro = await form(`${iss}/introspect`, { token: old.access_token }, { authorization: basic("web", secret) });
  assert.equal(intro.status, 200, intro.text);
  assert.equal(intro.json.active, false, "the access token from before too");
  // the code again: used
  const replay = await post(agent, f, { code: mail.code, password: "yet another passphrase" });
  assert.equal(replay.status, 400);
  assert.match(errorOf(replay), /can no longer be used/);
  const still = await passwordSignIn(name, NEW);
  assert.equal(atClient(still.r).get("error"), null, "the password stays the one set");
});

test("reset by email address; an unknown name, a provider's user (no password) and a disabled user get the same page and nothing", async () => {
  const known = fresh("known"), provider = fresh("provider"), disabled = fresh("disabled");
  await t.user(TENANT, WS, { username: `k${n++}`, password: PW, claims: { email: known } });
  await t.user(TENANT, WS, { username: provider, claims: { email: provider } });
  const off = await t.user(TENANT, WS, { username: disabled, password: PW, claims: { email: disabled } });
  const patched = await api(t, sys.token, "PATCH", `/api/tenants/${TENANT}/workspaces/${WS}/users/${off.id}`, { disabled: true });
  assert.equal(patched.status, 200, patched.text);
  const pages = {};
  for (const name of [known, fresh("nobody"), "nobody-at-all", provider, disabled]) {
    const { r } = await forgot(name);
    assert.equal(r.status, 200, `${name}: ${r.text_.slice(0, 1000)}`);
    pages[name] = markup(r.text_);
  }
  for (const [name, html] of Object.entries(pages)) assert.equal(html, pages[known], `the page for ${name}`);
  const mail = await sink.next(known);
  assert.equal(mail.purpose, "password_reset");
  await settle();
  for (const name of [provider, disabled]) assert.equal(sink.to(name).length, 0, `nothing to ${name}`);
  // an unknown name's page takes guesses like any, and none is right
  const { r, agent } = await forgot(fresh("nobody"));
  const x = await post(agent, mustForm(r, "reset-password"), { code: mail.code, password: "a brand new passphrase" });
  assert.equal(x.status, 400);
  assert.equal(errorOf(x), "That code is not right. Try again.");
  // and 30 s between codes, for unknown names too
  const name = fresh("nobody");
  await forgot(name);
  const soon = await forgot(name);
  assert.equal(soon.r.status, 429);
  assert.ok(Number(soon.r.headers.get("retry-after")) >= 1);
  // an empty name: a 400 page, nothing sent
  const empty = await forgot("   ");
  assert.equal(empty.r.status, 400);
  assert.equal(errorOf(empty.r), "Enter your username or email address.");
});

// ---- last: it moves the server's clock ----
test("a sign-up code expires after 300 s", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const email = fresh("late");
  const { r, agent } = await signUp(email);
  const mail = await sink.next(email);
  await t.advanceClock(301);
  const x = await post(agent, mustForm(r, "code-form"), { code: mail.code });
  assert.equal(x.status, 400);
  assert.match(errorOf(x), /can no longer be used/);
  assert.deepEqual(await users(email), []);
});

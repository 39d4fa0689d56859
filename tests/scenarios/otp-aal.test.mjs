// One-time codes and NIST authenticator assurance levels (issue 17 §2-3): TOTP enrolment from the
// account page (the code computed here, RFC 6238 with node:crypto), TOTP and emailed codes as the
// second factor of a step-up (the emails caught by a loopback webhook that verifies the signed
// JWT), their refusals (wrong, reused, replayed step, five wrong guesses, another user's code,
// expired, a failing mail relay, the resend throttle) with nothing granted, an emailed code as the
// first factor, and the levels: acr/amr in the ID token, the access token and introspection for a
// password, a password plus a code, and passkeys with and without user verification; what raises
// the required level (the workspace's `aal`, `acr_values`, a client's `default_acr_values`) and
// what happens when the session cannot meet it (prompt=none, no second factor); an old-style
// workspace keeps its password acr.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { startTarget, pkce, basic, Agent, hidden, form } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { startEmailSink } from "../support/email-sink.mjs";
import { Authenticator } from "../support/authenticator.mjs";
import { api, systemClient } from "../support/management.mjs";
import { base32Decode, hotp, totp } from "../support/totp.mjs";
import { formIn, mustForm, post } from "../support/html.mjs";

const RP = "https://rp.example/cb";
const PW = "correct horse battery";
const LEVELS = ["NIST-AAL-1", "NIST-AAL-2", "NIST-AAL-3"];
let t, sink;
const iss = {}; // workspace -> issuer
const secrets = {}; // "ws/client" -> client secret
const userIds = {}; // "ws/username" -> user id
let clockOffset = 0; // how far the server's clock was moved ahead of ours

const serverNow = () => Date.now() / 1000 + clockOffset;
const currentStep = () => Math.floor(serverNow() / 30);
async function advance(secs) {
  await t.advanceClock(secs);
  clockOffset += secs;
}
/** Waits until the current step has `margin` seconds left, so a code computed now is still current when posted. */
async function roomInStep(margin = 4) {
  const left = 30 - (serverNow() % 30);
  if (left < margin) await sleep((left + 0.5) * 1000);
}
/** A current step later than `step` (the server's clock moved where it can be, else real time), with room left. */
async function stepAfter(step) {
  while (currentStep() <= step) {
    if (t.canAdvanceClock) await advance(30 * (step + 1 - currentStep()));
    else await sleep(((step + 1) * 30 - serverNow()) * 1000 + 300);
  }
  await roomInStep();
  return currentStep();
}
/** A 6-digit code that is none of the codes a ±1 window around `step` accepts. */
function wrongTotp(secret, step) {
  const near = new Set([-1, 0, 1].map((d) => totp(secret, step + d)));
  for (let n = 0; ; n++) { const c = String((123456 + n * 111111) % 1_000_000).padStart(6, "0"); if (!near.has(c)) return c; }
}
const otherCode = (code, n = 1) => String((Number(code) + n * 7919) % 1_000_000).padStart(6, "0");

// ---- setup: four workspaces, one sink, users per test (codes and throttles are per user) ----
const email = (user) => `${user}@example.com`;

before(async () => {
  // the webhook is on loopback: the deployment allows it as an extension host
  // On Workers a `send_email` binding (miniflare's emulation) from EMAIL_FROM; elsewhere nothing.
  t = await startTarget({ extensionHosts: "127.0.0.1", emailFrom: "auth@example.com" });
  sink = await startEmailSink();
  const codes = { totp: { enabled: true }, email_codes: { enabled: true, webhook_url: sink.url() } };
  // every request comes from 127.0.0.1: a high per-address limit keeps one test's wrong codes from
  // another's, and the account and form limits stay above the five guesses an emailed code allows
  // (what is tested here is the code's own rule)
  const throttle = { address_max_failures: 10000, account_max_failures: 20, login_form_max_posts: 20 };
  iss.aal2 = await t.workspace("acme", "aal2", { throttle, login: { aal: "NIST-AAL-2", ...codes } });
  // no `aal`: a workspace created now is at NIST-AAL-1; emailed codes and TOTP sign in on their own too
  iss.aal1 = await t.workspace("acme", "aal1", { throttle, login: { totp: { enabled: true, first_factor: true }, email_codes: { enabled: true, webhook_url: sink.url(), first_factor: true } } });
  iss.pk = await t.workspace("acme", "pk", { throttle, login: { aal: "NIST-AAL-1", ...codes, passkeys: { enabled: true, user_verification: "preferred" } } });
  iss.legacy = await t.workspace("acme", "legacy", { login: { aal: "none" } });
  // email codes without a webhook: the deployment's email binding (Workers), or none
  iss.nohook = await t.workspace("acme", "nohook", { login: { aal: "NIST-AAL-2", email_codes: { enabled: true } } });
  for (const ws of Object.keys(iss)) {
    secrets[`${ws}/web`] = (await t.client("acme", ws, { client_id: "web", client_name: "Web", redirect_uris: [RP], grant_types: ["authorization_code"], scope: "openid", skip_consent: true })).client_secret;
    await sink.trust(iss[ws]);
  }
  secrets["aal1/strict"] = (await t.client("acme", "aal1", { client_id: "strict", client_name: "Bank", redirect_uris: [RP], grant_types: ["authorization_code"], scope: "openid", skip_consent: true, default_acr_values: ["NIST-AAL-2"] })).client_secret;
  const users = {
    aal2: ["tina", "emma", "kim", "jo", "rex", "fay", "eli", ["nofa", false]],
    aal1: ["ada", ["tom", false], "fred", "gil", "ava", "dora", "max"],
    pk: ["pia"],
    legacy: ["leo"],
    nohook: ["nina"],
  };
  for (const [ws, list] of Object.entries(users)) {
    for (const u of list) {
      const [name, withEmail = true] = Array.isArray(u) ? u : [u];
      userIds[`${ws}/${name}`] = (await t.user("acme", ws, { username: name, password: PW, claims: withEmail ? { email: email(name), email_verified: true } : {} })).id;
    }
  }
});
after(async () => {
  try {
    await t?.stop();
  } finally {
    await sink?.stop();
  }
});

// ---- pages and flows ----

function authorizeUrl(ws, params = {}, client = "web") {
  const { verifier, challenge } = pkce();
  const u = new URL(`${iss[ws]}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: client, redirect_uri: RP, scope: "openid", state: "st", nonce: "nn", code_challenge: challenge, code_challenge_method: "S256", ...params })) u.searchParams.set(k, v);
  return { url: u.toString(), verifier };
}

/** Follows redirects that stay at the issuer (the browser would), not the one to the client. */
async function follow(agent, r, ws) {
  for (let i = 0; i < 5 && (r.status === 302 || r.status === 303); i++) {
    const to = new URL(r.headers.get("location"), iss[ws]).toString();
    if (!to.startsWith(`${iss[ws]}/`)) break;
    r = await agent.request(to);
  }
  return r;
}

/** The interaction of the page's password form (the sign-in page may have other forms). */
function passwordInteraction(html) {
  const f = [...html.matchAll(/<form\b[\s\S]*?<\/form>/g)].map((m) => m[0]).find((x) => /name="password"/.test(x));
  assert.ok(f, `no password form in the page:\n${html.slice(0, 2000)}`);
  return hidden(f, "interaction");
}

/** authorize -> the password form; returns the answer to the password (redirects at the issuer followed). */
async function passwordSignIn(ws, { username, password = PW, params = {}, client = "web", agent = new Agent() }) {
  const { url, verifier } = authorizeUrl(ws, params, client);
  const page = await agent.request(url);
  assert.equal(page.status, 200, page.text_);
  const r = await agent.request(`${iss[ws]}/login`, { method: "POST", form: { interaction: passwordInteraction(page.text_), username, password } });
  return { r: await follow(agent, r, ws), verifier, agent, client };
}

/** The client's view of an answer: the redirect's query (asserted to be at the redirect_uri). */
function atClient(r) {
  assert.equal(r.status, 303, `expected a redirect to the client, got ${r.status}:\n${r.text_?.slice(0, 2000)}`);
  const loc = new URL(r.headers.get("location"));
  assert.equal(loc.origin + loc.pathname, RP, loc.toString());
  return loc.searchParams;
}

/** Redeems the code the client received; returns the ID token's, the access token's and introspection's claims. */
async function tokens(ws, r, verifier, client = "web") {
  const q = atClient(r);
  assert.equal(q.get("error"), null, `error at the client: ${q}`);
  const code = q.get("code");
  assert.ok(code, `no code at the client: ${q}`);
  const auth = { authorization: basic(client, secrets[`${ws}/${client}`]) };
  const tk = await form(`${iss[ws]}/token`, { grant_type: "authorization_code", code, redirect_uri: RP, code_verifier: verifier }, auth);
  assert.equal(tk.status, 200, tk.text);
  const intro = await form(`${iss[ws]}/introspect`, { token: tk.json.access_token }, auth);
  assert.equal(intro.status, 200, intro.text);
  assert.equal(intro.json.active, true);
  return { id: decodeJwt(tk.json.id_token).payload, access: decodeJwt(tk.json.access_token).payload, intro: intro.json };
}

/** acr and amr, the same in the ID token, the access token and introspection. `amr` as a list
 * (exact, in order) or a Set (the methods, in any order). */
function assertLevel(tk, acr, amr) {
  for (const [what, claims] of [["ID token", tk.id], ["access token", tk.access], ["introspection", tk.intro]]) {
    assert.equal(claims.acr, acr, `acr in the ${what}`);
    if (amr instanceof Set) assert.deepEqual(new Set(claims.amr), amr, `amr in the ${what}: ${JSON.stringify(claims.amr)}`);
    else assert.deepEqual(claims.amr, amr, `amr in the ${what}`);
  }
}

/** The step-up page: 200, no password, and the second factors the user has (true/false each). */
function assertStepUp(r, ws, { totp: hasTotp, email: hasEmail, passkey }) {
  assert.equal(r.status, 200, `expected the step-up page, got ${r.status} ${r.headers.get("location") ?? ""}:\n${r.text_?.slice(0, 2000)}`);
  assert.doesNotMatch(r.text_, /name="password"/, "the step-up page asks for no password");
  const totpForm = formIn(r.text_, "totp-form"), emailForm = formIn(r.text_, "email-code-form");
  if (hasTotp !== undefined) assert.equal(!!totpForm, hasTotp, "form#totp-form");
  if (hasEmail !== undefined) assert.equal(!!emailForm, hasEmail, "form#email-code-form");
  if (passkey !== undefined) assert.equal(/data-passkey="sign-in"/.test(r.text_), passkey, "the passkey form");
  if (totpForm) {
    assert.equal(totpForm.action, `${iss[ws]}/codes/verify`);
    assert.match(totpForm.html, /<input\b(?=[^>]*\bname="code")(?=[^>]*\bid="totp-code")[^>]*>/);
  }
  if (emailForm) assert.equal(emailForm.action, `${iss[ws]}/codes/email`);
}

/** Presses "Email me a code" on the step-up page; returns the code page's form and the email received. */
async function emailCode(agent, page, ws, user) {
  const before = sink.to(email(user)).length;
  const sent = await post(agent, mustForm(page, "email-code-form"));
  assert.equal(sent.status, 200, sent.text_);
  const f = codePage(sent, ws);
  const mail = await sink.next(email(user));
  assert.equal(sink.to(email(user)).length, before + 1, "one email");
  return { f, mail, sent };
}
function codePage(r, ws) {
  const f = mustForm(r, "code-form");
  assert.equal(f.action, `${iss[ws]}/codes/verify`);
  assert.match(f.html, /<input\b(?=[^>]*\bname="code")(?=[^>]*\bid="code")[^>]*>/);
  return f;
}

/** A refused code: 400, the page says so, nothing for the client, the session cookie as it was. */
function assertRefused(r, agent, sessionBefore, what = "") {
  assert.equal(r.status, 400, `${what}: ${r.status} ${r.headers.get("location") ?? ""}\n${r.text_?.slice(0, 1500)}`);
  assert.match(r.text_, /<p class="error" role="alert">/, what);
  assert.equal(r.headers.get("location"), null, what);
  assert.equal(agent.cookies.get("ea_session"), sessionBefore, `${what}: the session cookie is unchanged`);
}

// ---- TOTP: enrolment ----
/** Enrols TOTP for the signed-in `agent` from /app; `step` picks the code confirmed with. */
async function enrolTotp(agent, ws, step = (s) => s - 1) {
  const app = await agent.request(`${iss[ws]}/app`);
  assert.equal(app.status, 200, app.text_);
  const setup = mustForm(app, "totp-setup");
  const shown = await post(agent, setup);
  assert.equal(shown.status, 200, shown.text_);
  const secret = shown.text_.match(/<code id="totp-secret">([A-Z2-7]+)<\/code>/)?.[1];
  assert.ok(secret, shown.text_.slice(0, 2000));
  await roomInStep();
  const used = step(currentStep());
  const done = await post(agent, mustForm(shown, "totp-confirm"), { code: totp(secret, used) });
  assert.ok([302, 303].includes(done.status), done.text_.slice(0, 2000));
  return { secret, used };
}

/** tina (NIST-AAL-2 workspace) with TOTP: enrolled once, from a session stepped up by email. */
let tina;
async function tinaTotp() {
  if (tina) return tina;
  const { r, agent } = await passwordSignIn("aal2", { username: "tina" });
  assertStepUp(r, "aal2", { totp: false, email: true });
  const { f, mail } = await emailCode(agent, r, "aal2", "tina");
  atClient(await post(agent, f, { code: mail.code }));
  const { secret, used } = await enrolTotp(agent, "aal2");
  tina = { secret, lastStep: used };
  return tina;
}

test("TOTP enrolment from /app: the secret as text and a QR code; a wrong code is refused, the right one stores it", async () => {
  // RFC 6238 appendix B's first SHA-1 vector, so the code computed here is the app's
  assert.equal(hotp(Buffer.from("12345678901234567890"), 1), "287082");
  const { r, agent } = await passwordSignIn("aal1", { username: "tom" });
  atClient(r);
  const app = await agent.request(`${iss.aal1}/app`);
  assert.equal(app.status, 200);
  assert.doesNotMatch(app.text_, /id="totp-enrolled"/);
  const setup = mustForm(app, "totp-setup");
  assert.equal(setup.action, `${iss.aal1}/app/totp/setup`);
  // without the session nothing is shown
  const stranger = await new Agent().request(setup.action, { method: "POST", form: setup.fields });
  assert.ok(stranger.status >= 400, `a stranger: ${stranger.status}`);
  assert.doesNotMatch(stranger.text_, /totp-secret/);

  const shown = await post(agent, setup);
  assert.equal(shown.status, 200, shown.text_);
  const secret = shown.text_.match(/<code id="totp-secret">([^<]*)<\/code>/)?.[1];
  assert.match(secret ?? "", /^[A-Z2-7]{32}$/, "RFC 4648 base32 without padding");
  assert.equal(base32Decode(secret).length, 20);
  assert.match(shown.text_, /<svg\b/);
  const confirm = mustForm(shown, "totp-confirm");
  assert.equal(confirm.action, `${iss.aal1}/app/totp/confirm`);
  assert.match(confirm.html, /name="code"/);
  await roomInStep();
  const wrong = await post(agent, confirm, { code: wrongTotp(secret, currentStep()) });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.text_.match(/<code id="totp-secret">([^<]*)<\/code>/)?.[1], secret, "the same page, the same secret");
  assert.ok(formIn(wrong.text_, "totp-confirm"));
  await roomInStep();
  // The previous step's code (the window accepts it): a later sign-in with the current step's code
  // then needs no wait for the next step where the clock cannot move.
  const s = currentStep() - 1;
  const ok = await post(agent, confirm, { code: totp(secret, s) });
  assert.ok([302, 303].includes(ok.status), `${ok.status} ${ok.text_.slice(0, 1000)}`);
  assert.equal(new URL(ok.headers.get("location"), iss.aal1).toString(), `${iss.aal1}/app`);
  const after = await agent.request(`${iss.aal1}/app`);
  assert.match(after.text_, /id="totp-enrolled"/);
  assert.equal(mustForm(after, "totp-delete").action, `${iss.aal1}/app/totp/delete`);
  assert.equal(formIn(after.text_, "totp-setup"), null);
  tomTotp = { secret, lastStep: s };
});
let tomTotp;

// ---- TOTP as the second factor (the workspace at NIST-AAL-2) ----
let tinaLastCode;
test("TOTP as second factor: a password sign-in at NIST-AAL-2 steps up; the code completes it (pwd+otp+mfa, NIST-AAL-2 everywhere)", async () => {
  const user = await tinaTotp();
  const s = await stepAfter(user.lastStep);
  const { r, verifier, agent } = await passwordSignIn("aal2", { username: "tina" });
  assertStepUp(r, "aal2", { totp: true, email: true });
  assert.equal(r.headers.get("location"), null, "nothing for the client yet");
  const before = agent.cookies.get("ea_session");
  const code = totp(user.secret, s);
  const done = await post(agent, mustForm(r, "totp-form"), { code });
  user.lastStep = s;
  tinaLastCode = code;
  const tk = await tokens("aal2", done, verifier);
  assertLevel(tk, "NIST-AAL-2", ["pwd", "otp", "mfa"]);
  assert.ok(agent.cookies.get("ea_session"), "signed in");
  assert.notEqual(agent.cookies.get("ea_session"), before, "a new session cookie");
  assert.ok(tk.id.auth_time >= Math.floor(serverNow()) - 60);
  // the session now meets the level: the next authorization goes straight to the client
  const next = authorizeUrl("aal2");
  assertLevel(await tokens("aal2", await agent.request(next.url), next.verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
});

test("TOTP: a wrong code is refused, and so is the same code in a second sign-in (a step is used once)", async () => {
  const user = await tinaTotp();
  assert.ok(tinaLastCode, "the sign-in above used a code");
  const { r, agent } = await passwordSignIn("aal2", { username: "tina" });
  assertStepUp(r, "aal2", { totp: true });
  const before = agent.cookies.get("ea_session");
  const f = mustForm(r, "totp-form");
  assertRefused(await post(agent, f, { code: wrongTotp(user.secret, currentStep()) }), agent, before, "a wrong code");
  assertRefused(await post(agent, f, { code: tinaLastCode }), agent, before, "the same code again");
});

test("TOTP: the previous step's code is accepted (±1 step)", async (ctx) => {
  // It must be later than the step the enrolment used: a step boundary must pass. Where the clock
  // cannot move, that is up to a minute of waiting for what authn/otp.rs's unit test already shows
  // of the window (the same core code on every target).
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const user = await tinaTotp();
  const s = await stepAfter(user.lastStep + 1); // s - 1 is newer than any step used
  const { r, verifier, agent } = await passwordSignIn("aal2", { username: "tina" });
  assertStepUp(r, "aal2", { totp: true });
  const done = await post(agent, mustForm(r, "totp-form"), { code: totp(user.secret, s - 1) });
  user.lastStep = s - 1;
  assertLevel(await tokens("aal2", done, verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
});

// ---- emailed codes as the second factor ----
let emmaUsed;
test("emailed code as second factor: a signed webhook with purpose step_up; a wrong code is 400, then the right one completes it", async () => {
  const { r, verifier, agent } = await passwordSignIn("aal2", { username: "emma" });
  assertStepUp(r, "aal2", { totp: false, email: true });
  const { f, mail } = await emailCode(agent, r, "aal2", "emma");
  assert.deepEqual(sink.rejected().map((d) => d.error), [], "every delivery verified");
  const delivery = sink.to(email("emma")).at(-1);
  assert.match(delivery.contentType, /^application\/jwt/);
  assert.equal(delivery.path, "/hook");
  assert.deepEqual(Object.keys(mail).filter((k) => k !== "claims").sort(), ["code", "expires_in", "locale", "purpose", "to"]);
  assert.equal(mail.to, email("emma"));
  assert.match(mail.code, /^\d{6}$/);
  assert.equal(mail.purpose, "step_up");
  assert.equal(mail.expires_in, 300);
  assert.equal(mail.locale, "en");
  assert.equal(mail.claims.iss, iss.aal2);
  assert.equal(mail.claims.aud, sink.url());
  assert.ok(typeof mail.claims.jti === "string" && mail.claims.jti.length >= 16, "a jti");
  assert.ok(mail.claims.exp > mail.claims.iat && mail.claims.exp - mail.claims.iat <= 600);

  const before = agent.cookies.get("ea_session");
  const wrong = await post(agent, f, { code: otherCode(mail.code) });
  assertRefused(wrong, agent, before, "a wrong code");
  codePage(wrong, "aal2");
  // another browser cannot use this code page, and does not use up the code
  const stranger = new Agent();
  const theirs = await post(stranger, f, { code: mail.code });
  assert.ok(theirs.status >= 400 && theirs.status < 500, `a stranger: ${theirs.status}`);
  assert.equal(stranger.cookies.has("ea_session"), false);
  // the same page's form again, with the right code
  const done = await post(agent, f, { code: mail.code });
  assertLevel(await tokens("aal2", done, verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
  assert.notEqual(agent.cookies.get("ea_session"), before, "a new session cookie");
  emmaUsed = { f, code: mail.code, agent };
});

test("an emailed code works once: again on its page, or in a new sign-in, it is refused", async () => {
  assert.ok(emmaUsed, "the test above signed emma in");
  const again = await post(emmaUsed.agent, emmaUsed.f, { code: emmaUsed.code });
  assert.ok(again.status >= 400 && again.status < 500, `again: ${again.status} ${again.headers.get("location")}`);
  assert.equal(again.headers.get("location"), null);
  const { r, agent } = await passwordSignIn("aal2", { username: "emma" });
  assertStepUp(r, "aal2", { email: true });
  const before = agent.cookies.get("ea_session");
  const page = mustForm(r, "email-code-form");
  const replay = await agent.request(`${iss.aal2}/codes/verify`, { method: "POST", form: { interaction: page.fields.interaction, code: emmaUsed.code } });
  assertRefused(replay, agent, before, "a used code in a new sign-in");
});

test("five wrong codes kill the emailed code (the right one is refused then); another user's code counts as wrong", async () => {
  const jo = await passwordSignIn("aal2", { username: "jo" });
  const joCode = await emailCode(jo.agent, jo.r, "aal2", "jo");
  const kim = await passwordSignIn("aal2", { username: "kim" });
  const { f, mail } = await emailCode(kim.agent, kim.r, "aal2", "kim");
  const before = kim.agent.cookies.get("ea_session");
  assert.notEqual(joCode.mail.code, mail.code);
  assertRefused(await post(kim.agent, f, { code: joCode.mail.code }), kim.agent, before, "jo's code for kim");
  const wrongs = [1, 2, 3, 4].map((n) => otherCode(mail.code, n)).filter((c) => c !== joCode.mail.code);
  for (const [i, code] of wrongs.entries()) assertRefused(await post(kim.agent, f, { code }), kim.agent, before, `wrong code ${i + 2}`);
  const dead = await post(kim.agent, f, { code: mail.code });
  assertRefused(dead, kim.agent, before, "the right code after five wrong ones");
  assert.match(dead.text_, /new (one-time )?code|a new one/i, "the page says to ask for a new code");
  // jo's code was a good one: it signs jo in
  const joDone = await post(jo.agent, joCode.f, { code: joCode.mail.code });
  assertLevel(await tokens("aal2", joDone, jo.verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
});

test("resending within 30 s is 429 with Retry-After and sends no email; the first code still works", async () => {
  const { r, verifier, agent } = await passwordSignIn("aal2", { username: "rex" });
  const { f, mail } = await emailCode(agent, r, "aal2", "rex");
  const count = sink.to(email("rex")).length;
  const again = await post(agent, mustForm(r, "email-code-form"));
  assert.equal(again.status, 429, again.text_.slice(0, 1000));
  const retry = Number(again.headers.get("retry-after"));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 30, `Retry-After: ${again.headers.get("retry-after")}`);
  assert.match(again.headers.get("content-type"), /^text\/html/);
  assert.equal(sink.to(email("rex")).length, count, "no second webhook call");
  const done = await post(agent, f, { code: mail.code });
  assertLevel(await tokens("aal2", done, verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
});

test("a failing mail relay: the page says the code could not be sent, and the code it carried is not usable", async () => {
  const { r, agent } = await passwordSignIn("aal2", { username: "fay" });
  const before = agent.cookies.get("ea_session");
  sink.fail(500);
  let sent;
  try {
    sent = await post(agent, mustForm(r, "email-code-form"));
  } finally {
    sink.fail(null);
  }
  assert.equal(sent.headers.get("location"), null);
  assert.match(sent.text_, /could ?n[o']t be sent/i, sent.text_.slice(0, 1500));
  const delivery = sink.to(email("fay")).at(-1);
  assert.ok(delivery, "the webhook was called");
  assert.equal(delivery.answered, 500);
  const interaction = formIn(sent.text_, "code-form")?.fields.interaction ?? hidden(sent.text_, "interaction");
  const tried = await agent.request(`${iss.aal2}/codes/verify`, { method: "POST", form: { interaction, code: delivery.email.code } });
  assertRefused(tried, agent, before, "the code of a failed delivery");
  // the relay's failure is not the server's: a 5xx is logged as a request_failed problem, which
  // fails the test file at stop() on every target (tests/support/failures.mjs)
  assert.ok(sent.status < 500, `the page answered ${sent.status}`);
});

test("a user with no second factor at NIST-AAL-2: unmet_authentication_requirements at the redirect_uri, no code", async () => {
  const n = sink.deliveries.length;
  const { r } = await passwordSignIn("aal2", { username: "nofa", params: { state: "s-9" } });
  const q = atClient(r);
  assert.equal(q.get("error"), "unmet_authentication_requirements");
  assert.equal(q.get("state"), "s-9");
  assert.equal(q.get("iss"), iss.aal2);
  assert.equal(q.get("code"), null);
  assert.equal(sink.deliveries.length, n, "no email");
});

// ---- an emailed code (or TOTP) as the first factor ----
test("first factor with an emailed code: purpose sign_in, a wrong code leaves no session, the right one signs in with amr [otp] at NIST-AAL-1", async () => {
  const agent = new Agent();
  const { url, verifier } = authorizeUrl("aal1");
  const page = await agent.request(url);
  assert.equal(page.status, 200);
  const start = mustForm(page, "code-sign-in");
  assert.equal(start.action, `${iss.aal1}/login/code`);
  assert.match(start.html, /<input\b[^>]*name="username"/);
  const r = await post(agent, start, { username: "fred" });
  assert.equal(r.status, 200, r.text_);
  const f = codePage(r, "aal1");
  const mail = await sink.next(email("fred"));
  assert.equal(mail.purpose, "sign_in");
  assert.equal(mail.claims.iss, iss.aal1);
  assert.equal(agent.cookies.has("ea_session"), false);
  assertRefused(await post(agent, f, { code: otherCode(mail.code) }), agent, undefined, "a wrong code");
  const done = await post(agent, f, { code: mail.code });
  assertLevel(await tokens("aal1", done, verifier), "NIST-AAL-1", ["otp"]);
  assert.ok(agent.cookies.get("ea_session"), "signed in");
});

test("first factor: an unknown username gets the same page and no email; no code signs it in", async () => {
  const ask = async (username) => {
    const agent = new Agent();
    const page = await agent.request(authorizeUrl("aal1").url);
    const r = await post(agent, mustForm(page, "code-sign-in"), { username });
    return { r, agent };
  };
  const n = sink.deliveries.length;
  const real = await ask("gil");
  assert.equal(sink.deliveries.length, n + 1);
  const unknown = await ask("nobody-here");
  assert.equal(sink.deliveries.length, n + 1, "no webhook call for an unknown user");
  const shape = ({ r }, name) => ({
    status: r.status,
    type: r.headers.get("content-type"),
    page: r.text_.replace(/value="[^"]*"/g, 'value=""').replaceAll(name, "NAME").replaceAll(email(name), "EMAIL"),
  });
  assert.deepEqual(shape(unknown, "nobody-here"), shape(real, "gil"));
  const tried = await post(unknown.agent, codePage(unknown.r, "aal1"), { code: "123456" });
  assertRefused(tried, unknown.agent, undefined, "a code for nobody");
});

test("first factor with TOTP: the enrolled user's app code signs in with amr [otp] at NIST-AAL-1", async () => {
  assert.ok(tomTotp, "the enrolment test enrolled tom");
  const s = await stepAfter(tomTotp.lastStep);
  const agent = new Agent();
  const { url, verifier } = authorizeUrl("aal1");
  const page = await agent.request(url);
  const n = sink.deliveries.length;
  const r = await post(agent, mustForm(page, "code-sign-in"), { username: "tom" });
  assert.equal(r.status, 200, r.text_);
  assert.equal(sink.deliveries.length, n, "tom has no email: nothing sent");
  const done = await post(agent, codePage(r, "aal1"), { code: totp(tomTotp.secret, s) });
  tomTotp.lastStep = s;
  assertLevel(await tokens("aal1", done, verifier), "NIST-AAL-1", ["otp"]);
});

// ---- levels: password only, what raises the requirement, and what cannot meet it ----
test("a password alone is amr [pwd], acr NIST-AAL-1 (a new workspace's default) in every token; discovery lists the levels", async () => {
  const d = await (await fetch(`${iss.aal1}/.well-known/openid-configuration`)).json();
  assert.deepEqual(d.acr_values_supported, LEVELS);
  const { r, verifier, agent } = await passwordSignIn("aal1", { username: "ada" });
  assertLevel(await tokens("aal1", r, verifier), "NIST-AAL-1", ["pwd"]);
  assert.ok(agent.cookies.get("ea_session"));
  // acr_values without a NIST level asks for nothing more
  const other = authorizeUrl("aal1", { acr_values: "urn:example:gold" });
  assertLevel(await tokens("aal1", await agent.request(other.url), other.verifier), "NIST-AAL-1", ["pwd"]);
});

test("acr_values=NIST-AAL-2 on a NIST-AAL-1 workspace steps up; afterwards the session meets it, even with prompt=none", async () => {
  const { r, verifier, agent } = await passwordSignIn("aal1", { username: "ava", params: { acr_values: "NIST-AAL-2", ui_locales: "pt-BR" } });
  assertStepUp(r, "aal1", { totp: false, email: true });
  const { f, mail } = await emailCode(agent, r, "aal1", "ava");
  assert.equal(mail.purpose, "step_up");
  assert.equal(mail.locale, "pt-BR", "the email in the user's language");
  assertLevel(await tokens("aal1", await post(agent, f, { code: mail.code }), verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
  // the lowest NIST level asked for counts
  const quiet = authorizeUrl("aal1", { acr_values: "NIST-AAL-3 NIST-AAL-2", prompt: "none" });
  assertLevel(await tokens("aal1", await agent.request(quiet.url), quiet.verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
});

test("a client's default_acr_values steps up; the request's own acr_values take precedence", async () => {
  const { r } = await passwordSignIn("aal1", { username: "dora", client: "strict" });
  assertStepUp(r, "aal1", { email: true });
  assert.equal(r.headers.get("location"), null);
  const own = await passwordSignIn("aal1", { username: "dora", client: "strict", params: { acr_values: "NIST-AAL-1" } });
  assertLevel(await tokens("aal1", own.r, own.verifier, "strict"), "NIST-AAL-1", ["pwd"]);
});

test("prompt=none with a session below the required level: interaction_required at the redirect_uri, no code", async () => {
  const { r, agent } = await passwordSignIn("aal1", { username: "ada" });
  atClient(r);
  for (const [params, client] of [[{ acr_values: "NIST-AAL-2" }, "web"], [{}, "strict"]]) {
    const u = authorizeUrl("aal1", { prompt: "none", state: "p-1", ...params }, client);
    const q = atClient(await agent.request(u.url));
    assert.equal(q.get("error"), "interaction_required", client);
    assert.equal(q.get("state"), "p-1");
    assert.equal(q.get("code"), null);
  }
});

test("max_age=0 and prompt=login still ask for the password first, even of a session at NIST-AAL-2", async () => {
  const first = await passwordSignIn("aal1", { username: "max", params: { acr_values: "NIST-AAL-2" } });
  const { f, mail } = await emailCode(first.agent, first.r, "aal1", "max");
  atClient(await post(first.agent, f, { code: mail.code }));
  for (const forced of [{ max_age: "0" }, { prompt: "login" }]) {
    const page = await first.agent.request(authorizeUrl("aal1", { acr_values: "NIST-AAL-2", ...forced }).url);
    assert.equal(page.status, 200, JSON.stringify(forced));
    assert.match(page.text_, /name="password"/, JSON.stringify(forced));
    assert.equal(formIn(page.text_, "totp-form") ?? formIn(page.text_, "email-code-form"), null, "not the step-up page");
  }
  // the fresh password alone is not NIST-AAL-2: the step-up follows
  const { r } = await passwordSignIn("aal1", { username: "max", params: { acr_values: "NIST-AAL-2", max_age: "0" }, agent: first.agent });
  assertStepUp(r, "aal1", { email: true });
});

// ---- passkeys ----
let piaKey;
async function piaPasskey() {
  if (piaKey) return piaKey;
  const agent = new Agent();
  let r = await agent.request(authorizeUrl("pk").url);
  r = await agent.request(`${iss.pk}/login`, { method: "POST", form: { interaction: passwordInteraction(r.text_), username: "pia", password: PW } });
  assert.ok(agent.cookies.has("ea_session"), r.text_.slice(0, 1000));
  const app = await agent.request(`${iss.pk}/app`);
  const interaction = hidden(app.text_, "interaction");
  const o = await agent.request(`${iss.pk}/passkeys/registration-options`, { method: "POST", form: { interaction } });
  assert.equal(o.status, 200, o.text_);
  const opts = JSON.parse(o.text_);
  const auth = new Authenticator();
  const reg = await agent.request(`${iss.pk}/passkeys/register`, { method: "POST", form: { interaction, state: opts.state, credential: JSON.stringify(auth.create(opts.publicKey, { origin: new URL(iss.pk).origin })), name: "Pia's key" } });
  assert.equal(reg.status, 303, reg.text_);
  piaKey = auth;
  return auth;
}
async function passkeySignIn(auth, { uv = true, params = {} } = {}) {
  const agent = new Agent();
  const { url, verifier } = authorizeUrl("pk", params);
  const page = await agent.request(url);
  const interaction = hidden(page.text_, "interaction");
  const o = await agent.request(`${iss.pk}/passkeys/assertion-options`, { method: "POST", form: { interaction } });
  assert.equal(o.status, 200, o.text_);
  const opts = JSON.parse(o.text_);
  const cred = auth.get(opts.publicKey, { origin: new URL(iss.pk).origin, uv });
  const r = await agent.request(`${iss.pk}/passkeys/sign-in`, { method: "POST", form: { interaction, state: opts.state, credential: JSON.stringify(cred) } });
  return { r: await follow(agent, r, "pk"), verifier, agent };
}

test("a user-verified passkey is amr [pop, mfa] at NIST-AAL-3 and meets acr_values=NIST-AAL-3 without a step-up", async () => {
  const auth = await piaPasskey();
  const { r, verifier } = await passkeySignIn(auth, { params: { acr_values: "NIST-AAL-3" } });
  assertLevel(await tokens("pk", r, verifier), "NIST-AAL-3", ["pop", "mfa"]);
});

test("a passkey without user verification asked for NIST-AAL-2 steps up; the emailed code completes it", async () => {
  const auth = await piaPasskey();
  const { r, verifier, agent } = await passkeySignIn(auth, { uv: false, params: { acr_values: "NIST-AAL-2" } });
  assertStepUp(r, "pk", { totp: false, email: true });
  const { f, mail } = await emailCode(agent, r, "pk", "pia");
  assert.equal(mail.purpose, "step_up");
  assertLevel(await tokens("pk", await post(agent, f, { code: mail.code }), verifier), "NIST-AAL-2", new Set(["pop", "otp", "mfa"]));
});

test("an old-style workspace (aal none) keeps acr urn:edgeauth:acr:password", async () => {
  const { r, verifier } = await passwordSignIn("legacy", { username: "leo" });
  const tk = await tokens("legacy", r, verifier);
  assertLevel(tk, "urn:edgeauth:acr:password", ["pwd"]);
});

test("the management API says whether a user has an authenticator app, and removes it (a lost phone)", async () => {
  assert.ok(tomTotp, "the enrolment test enrolled tom");
  const sys = await systemClient(t, { client_id: "ops" });
  const path = `/api/tenants/acme/workspaces/aal1/users/${userIds["aal1/tom"]}/totp`;
  const shown = await api(t, sys.token, "GET", path);
  assert.equal(shown.status, 200);
  assert.deepEqual(Object.keys(shown.json).sort(), ["created_at", "enrolled"], "never the key");
  assert.equal(shown.json.enrolled, true);
  assert.equal((await api(t, sys.token, "DELETE", path)).status, 204);
  assert.equal((await api(t, sys.token, "DELETE", path)).status, 404);
  assert.deepEqual((await api(t, sys.token, "GET", path)).json, { enrolled: false, created_at: null });
  // and tom's app code signs him in no more
  const { r } = await passwordSignIn("aal1", { username: "tom", params: { acr_values: "NIST-AAL-2" } });
  assert.equal(atClient(r).get("error"), "unmet_authentication_requirements", "tom has no email and no app now");
  assert.equal((await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/aal1/users/nobody/totp`)).status, 404);
});

test("without a webhook, codes go through the deployment's email binding (Workers send_email), or cannot be sent", async () => {
  const { r, verifier, agent } = await passwordSignIn("nohook", { username: "nina" });
  assertStepUp(r, "nohook", { totp: false, email: true });
  const before = agent.cookies.get("ea_session");
  const sent = await post(agent, mustForm(r, "email-code-form"));
  assert.equal(sent.status, 200, sent.text_);
  if (!t.emails) {
    // native and Spin have no email service of their own: the page says so, no code is usable
    assert.match(sent.text_, /The code could not be sent/);
    assert.equal(sink.to(email("nina")).length, 0, "nothing went to a webhook");
    assert.equal(agent.cookies.get("ea_session"), before);
    return;
  }
  const f = codePage(sent, "nohook");
  let mail;
  for (let i = 0; i < 50 && !mail; i++) {
    mail = t.emails.find((m) => m.to.includes(email("nina")));
    if (!mail) await sleep(100);
  }
  assert.ok(mail, "the binding sent an email");
  assert.match(mail.from, /auth@example\.com/);
  assert.equal(mail.subject, "Your sign-in code");
  const code = mail.text.match(/\b(\d{6})\b/)?.[1];
  assert.ok(code, mail.text);
  assertLevel(await tokens("nohook", await post(agent, f, { code }), verifier), "NIST-AAL-2", ["pwd", "otp", "mfa"]);
});

// ---- last: it moves the server's clock ----
test("an emailed code expires after 300 s", async (ctx) => {
  if (!t.canAdvanceClock) return ctx.skip("this target cannot move its clock");
  const { r, agent } = await passwordSignIn("aal2", { username: "eli" });
  const { f, mail } = await emailCode(agent, r, "aal2", "eli");
  const before = agent.cookies.get("ea_session");
  await advance(301);
  assertRefused(await post(agent, f, { code: mail.code }), agent, before, "a code 301 s old");
});

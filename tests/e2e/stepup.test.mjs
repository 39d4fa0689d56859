// A step-up with an authenticator app in headless Chromium: a user signs in with the password, sets
// up TOTP on the account page (the secret read from the page, the code computed here as the app
// would: RFC 6238, HMAC-SHA-1, 30 s, 6 digits), then a client asks for acr_values=NIST-AAL-2; the
// step-up page takes the app's code and the client's ID token says NIST-AAL-2 with otp and mfa.
// The same with JavaScript off, from a fresh browser: password, then the code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";
import { startTarget, pkce, basic, form } from "../support/target.mjs";
import { startRelyingParty, authorizeRequest, idTokenClaims } from "../support/relying-party.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { totp } from "../support/totp.mjs";

let t, issuer, browser, rp, rpBase, secret, received;
let totpSecret, lastStep;
let clockOffset = 0;

before(async () => {
  rp = await startRelyingParty();
  ({ base: rpBase, received } = rp);
  t = await startTarget();
  issuer = await t.workspace("acme", "main", { login: { aal: "NIST-AAL-1", totp: { enabled: true } } });
  secret = (await t.client("acme", "main", { client_id: "web", client_name: "Web Shop", redirect_uris: [`${rpBase}/cb`], grant_types: ["authorization_code"], scope: "openid", skip_consent: true })).client_secret;
  await t.user("acme", "main", { username: "ada", password: "correct horse battery" });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  rp?.close();
});

// ---- the authenticator app ----
const serverNow = () => Date.now() / 1000 + clockOffset;
const currentStep = () => Math.floor(serverNow() / 30);
/** A step after `step` (each step's code is taken once), with a few seconds left to type it. */
async function stepAfter(step) {
  while (currentStep() <= step) {
    if (t.canAdvanceClock) { const secs = 30 * (step + 1 - currentStep()); await t.advanceClock(secs); clockOffset += secs; }
    else await sleep(((step + 1) * 30 - serverNow()) * 1000 + 300);
  }
  const left = 30 - (serverNow() % 30);
  if (left < 5) await sleep((left + 0.5) * 1000);
  return currentStep();
}

const authorize = (extra = {}) => authorizeRequest(issuer, { client_id: "web", redirect_uri: `${rpBase}/cb`, scope: "openid", ...extra });
/** The client's view of the last redirect: the ID token's claims. */
const idToken = (verifier) => idTokenClaims(issuer, { received, redirect_uri: `${rpBase}/cb`, verifier, client_id: "web", secret });

/** Presses the form's button. */
const submit = (page, id) => page.locator(`#${id} button, #${id} input[type="submit"]`).first().click();

async function password(page) {
  await page.getByLabel("Username").fill("ada");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** On the step-up page: the app's code in the TOTP form; then at the client. */
async function typeAppCode(page) {
  await page.locator("#totp-form").waitFor();
  assert.equal(await page.getByLabel("Password").count(), 0, "the step-up page asks for no password");
  // The window takes one step either side of now: the step after the last one used, when it is
  // still in the window, saves waiting for a new step where the clock cannot move.
  const next = lastStep + 1;
  const s = Math.abs(next - currentStep()) <= 1 ? next : await stepAfter(lastStep);
  await page.locator("#totp-code").fill(totp(totpSecret, s));
  lastStep = s;
  await submit(page, "totp-form");
  await page.waitForURL(`${rpBase}/cb**`);
}

test("password, TOTP set up on /app, then acr_values=NIST-AAL-2 steps up with the app's code", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  let a = authorize();
  received.length = 0;
  await page.goto(a.url);
  await password(page);
  await page.waitForURL(`${rpBase}/cb**`);
  const first = await idToken(a.verifier);
  assert.equal(first.acr, "NIST-AAL-1");
  assert.deepEqual(first.amr, ["pwd"]);

  // the account page: set up the authenticator app
  await page.goto(`${issuer}/app`);
  await submit(page, "totp-setup");
  const shown = (await page.locator("#totp-secret").textContent()).trim();
  assert.match(shown, /^[A-Z2-7]{32}$/);
  assert.ok(await page.locator("svg").count() >= 1, "a QR code");
  totpSecret = shown;
  const s = (await stepAfter(-1)) - 1; // the previous step: the sign-ins after it need no wait
  await page.locator('#totp-confirm input[name="code"]').fill(totp(totpSecret, s));
  lastStep = s;
  await submit(page, "totp-confirm");
  await page.waitForURL(`${issuer}/app`);
  await page.locator("#totp-enrolled").waitFor();

  // the client asks for more than the session has: the step-up page, then the client
  a = authorize({ acr_values: "NIST-AAL-2", state: "up" });
  received.length = 0;
  await page.goto(a.url);
  await typeAppCode(page);
  assert.equal(received.at(-1).state, "up");
  const id = await idToken(a.verifier);
  assert.equal(id.acr, "NIST-AAL-2");
  assert.ok(id.amr.includes("otp") && id.amr.includes("mfa"), JSON.stringify(id.amr));
  assert.deepEqual(id.amr, ["pwd", "otp", "mfa"]);
  await context.close();
});

test("with JavaScript off, a fresh browser: password, the step-up page, the app's code, the client", async () => {
  assert.ok(totpSecret, "the test above set up TOTP");
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const a = authorize({ acr_values: "NIST-AAL-2" });
  received.length = 0;
  await page.goto(a.url);
  await password(page);
  await typeAppCode(page);
  const id = await idToken(a.verifier);
  assert.equal(id.acr, "NIST-AAL-2");
  assert.deepEqual(id.amr, ["pwd", "otp", "mfa"]);
  assert.ok((await context.cookies()).some((c) => c.name === "ea_session"), "signed in");
  await context.close();
});

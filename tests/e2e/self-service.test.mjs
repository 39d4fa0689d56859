// Self-service sign-up and a forgotten password in headless Chromium, from the sign-in page a
// client sent the browser to: "Create an account" (a password below the rule is announced on its
// field, the address kept), the emailed code read from the loopback mail relay, and back at the
// client with a code whose tokens name the new user; then "Forgot your password?", the code and a
// new password on one page, back at the client, and the old password refused. With JavaScript
// off as well: the pages are plain forms.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTarget, pkce, basic, form } from "../support/target.mjs";
import { startRelyingParty, authorizeRequest, idTokenClaims } from "../support/relying-party.mjs";
import { startEmailSink } from "../support/email-sink.mjs";
import { decodeJwt } from "../support/signin.mjs";

let t, issuer, browser, rp, rpBase, secret, received, sink;

before(async () => {
  rp = await startRelyingParty();
  ({ base: rpBase, received } = rp);
  t = await startTarget({ extensionHosts: "127.0.0.1" });
  sink = await startEmailSink();
  issuer = await t.workspace("acme", "self", {
    login: { email_codes: { enabled: true, webhook_url: sink.url() }, self_service: { sign_up: true, password_reset: true, min_password_length: 12 } },
  });
  await sink.trust(issuer);
  secret = (await t.client("acme", "self", { client_id: "web", client_name: "Web Shop", redirect_uris: [`${rpBase}/cb`], grant_types: ["authorization_code"], scope: "openid email", skip_consent: true })).client_secret;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  await sink?.stop();
  rp?.close();
});

const authorize = (extra = {}) => authorizeRequest(issuer, { client_id: "web", redirect_uri: `${rpBase}/cb`, scope: "openid email", state: "st", ...extra });
/** The client's view of the last redirect: the ID token's claims. */
const idToken = (verifier) => idTokenClaims(issuer, { received, redirect_uri: `${rpBase}/cb`, verifier, client_id: "web", secret });

for (const javaScriptEnabled of [true, false]) {
  const js = javaScriptEnabled ? "on" : "off";
  test(`sign up from the sign-in page, then forget the password (JavaScript ${js})`, async () => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const email = `new-${js}-${Date.now().toString(36)}@example.com`;

    // ---- sign-up ----
    let a = authorize({ state: `up-${js}` });
    received.length = 0;
    await page.goto(a.url);
    await page.getByRole("button", { name: "Create an account" }).click();
    await page.getByRole("heading", { name: "Create an account" }).waitFor();
    await page.getByLabel("Email address").fill(email);
    // a password the rule refuses (as the address): the server's answer, on the password field
    await page.getByLabel("Password").fill(email);
    await page.getByRole("button", { name: "Create an account" }).click();
    const alert = page.getByRole("alert");
    assert.equal((await alert.textContent()).trim(), "The password cannot be your email address or username.");
    assert.equal(await page.getByLabel("Email address").inputValue(), email, "the address is kept");
    assert.equal(await page.getByLabel("Password").inputValue(), "", "the password is not");
    assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create an account" }).click();
    await page.getByRole("heading", { name: "Enter your code" }).waitFor();
    const mail = await sink.next(email);
    assert.equal(mail.purpose, "sign_up");
    await page.getByLabel("Code").fill(mail.code);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${rpBase}/cb**`);
    assert.equal(received.at(-1).state, `up-${js}`);
    const id = await idToken(a.verifier);
    assert.deepEqual(id.amr, ["otp"]);

    // ---- forgot the password (a fresh browser: no session) ----
    const context2 = await browser.newContext({ javaScriptEnabled });
    const page2 = await context2.newPage();
    a = authorize({ state: `reset-${js}` });
    received.length = 0;
    await page2.goto(a.url);
    await page2.getByRole("button", { name: "Forgot your password?" }).click();
    await page2.getByLabel("Username or email address").fill(email.toUpperCase());
    await page2.getByRole("button", { name: "Send a code" }).click();
    await page2.getByText("If an account exists for that name, we sent a 6-digit code").waitFor();
    const reset = await sink.next(email);
    assert.equal(reset.purpose, "password_reset");
    await page2.getByLabel("Code").fill(reset.code);
    await page2.getByLabel("New password").fill("a brand new passphrase");
    await page2.getByRole("button", { name: "Set the password and sign in" }).click();
    await page2.waitForURL(`${rpBase}/cb**`);
    assert.equal(received.at(-1).state, `reset-${js}`);
    assert.equal((await idToken(a.verifier)).sub, id.sub, "the same user");

    // the old password is refused, the new one signs in
    const context3 = await browser.newContext({ javaScriptEnabled });
    const page3 = await context3.newPage();
    a = authorize({ state: `pw-${js}` });
    received.length = 0;
    await page3.goto(a.url);
    await page3.getByLabel("Username").fill(email);
    await page3.getByLabel("Password", { exact: true }).fill("correct horse battery");
    await page3.getByRole("button", { name: "Sign in", exact: true }).click();
    assert.equal((await page3.getByRole("alert").textContent()).trim(), "Invalid username or password.");
    await page3.getByLabel("Password", { exact: true }).fill("a brand new passphrase");
    await page3.getByRole("button", { name: "Sign in", exact: true }).click();
    await page3.waitForURL(`${rpBase}/cb**`);
    assert.equal((await idToken(a.verifier)).sub, id.sub);
    await context.close();
    await context2.close();
    await context3.close();
  });
}

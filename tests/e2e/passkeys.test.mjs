// Passkeys in a real browser: Chromium with a virtual authenticator (the DevTools protocol's
// WebAuthn domain: CTAP2, internal transport, resident keys, user verification). A passkey is
// registered from the account page, signs in usernameless (conditional UI, and the button) and username-first (the ID token says
// pop and mfa), and is deleted; with JavaScript off the page shows no passkey button and the
// password still works. The browser talks to `localhost` (WebAuthn refuses IP addresses as
// relying party ids), which is the workspace's relying party id by default.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTarget, pkce, basic, form } from "../support/target.mjs";
import { startRelyingParty, authorizeRequest, idTokenClaims } from "../support/relying-party.mjs";

let t, issuer, browser, rp, rpBase, secret;
let received;

before(async () => {
  rp = await startRelyingParty();
  ({ base: rpBase, received } = rp);
  t = await startTarget();
  await t.workspace("acme", "main", { login: { passkeys: { enabled: true } } });
  issuer = `${t.base.replace("127.0.0.1", "localhost")}/acme/main`;
  secret = (await t.client("acme", "main", { client_id: "web", client_name: "Web Shop", redirect_uris: [`${rpBase}/cb`], grant_types: ["authorization_code"], scope: "openid", skip_consent: true })).client_secret;
  await t.user("acme", "main", { username: "ada", password: "correct horse battery" });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  rp?.close();
});

const authorize = (extra = {}) => authorizeRequest(issuer, { client_id: "web", redirect_uri: `${rpBase}/cb`, scope: "openid", ...extra });
/** The client's view of the last redirect: the ID token's claims. */
const idToken = (verifier) => idTokenClaims(issuer, { received, redirect_uri: `${rpBase}/cb`, verifier, client_id: "web", secret });

test("register a passkey from /app, sign in usernameless and username-first, delete it", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });

  // password sign-in; the passkey offer is declined
  let a = authorize();
  await page.goto(a.url);
  await page.getByLabel("Username").fill("ada");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Not now" }).click();
  await page.waitForURL(`${rpBase}/cb**`);
  assert.deepEqual((await idToken(a.verifier)).amr, ["pwd"]);

  // register from the account page
  await page.goto(`${issuer}/app`);
  await page.getByLabel("Passkey name").fill("Virtual key");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.waitForURL(`${issuer}/app`);
  await page.getByText("Virtual key").waitFor();
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true);

  // usernameless, conditional UI: the browser offers the passkey in the username field's autofill
  // as the page loads (the virtual authenticator picks it at once)
  await context.clearCookies();
  a = authorize();
  received.length = 0;
  await page.goto(a.url);
  await page.waitForURL(`${rpBase}/cb**`);
  assert.deepEqual((await idToken(a.verifier)).amr, ["pop", "mfa"]);

  // username-first: the client names the user (login_hint), the button asks for that user's passkeys
  await context.clearCookies();
  a = authorize({ login_hint: "ada" });
  received.length = 0;
  await page.goto(a.url);
  assert.equal(await page.getByLabel("Username").inputValue(), "ada");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL(`${rpBase}/cb**`);
  assert.deepEqual((await idToken(a.verifier)).amr, ["pop", "mfa"]);

  // usernameless through the button, as in a browser without conditional UI
  await context.addInitScript(() => { PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
  await context.clearCookies();
  a = authorize();
  received.length = 0;
  await page.goto(a.url);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL(`${rpBase}/cb**`);
  assert.deepEqual((await idToken(a.verifier)).amr, ["pop", "mfa"]);

  // delete it from the account page; it signs no one in any more
  await page.goto(`${issuer}/app`);
  await page.getByRole("button", { name: "Delete" }).click();
  await page.waitForURL(`${issuer}/app`);
  await page.getByText("You have no passkey.").waitFor();
  await context.clearCookies();
  await page.goto(authorize().url);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.getByText("this passkey is not registered here").waitFor();
  await context.close();
});

test("with JavaScript off the pages show no passkey button and the password works", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const a = authorize();
  received.length = 0;
  await page.goto(a.url);
  assert.equal(await page.getByRole("button", { name: "Sign in with a passkey" }).count(), 0);
  await page.getByLabel("Username").fill("ada");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  // ada has no passkey (the test above deleted it): the offer, whose add button needs the script
  assert.equal(await page.getByRole("button", { name: "Add a passkey" }).count(), 0);
  await page.getByRole("button", { name: "Not now" }).click();
  await page.waitForURL(`${rpBase}/cb**`);
  assert.deepEqual((await idToken(a.verifier)).amr, ["pwd"]);
  await context.close();
});

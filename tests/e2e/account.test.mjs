// The account page in headless Chromium, with two browsers signed in as the same user: the page
// names the user; a password change there ends the other browser's session (it is asked to sign
// in again, and the old password no longer works); "Sign out everywhere" ends both.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTarget, pkce } from "../support/target.mjs";

const OLD = "correct horse battery";
const NEW = "a brand new passphrase";
let t, issuer, browser;

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  await t.user("acme", "main", { username: "ada", password: OLD, claims: { name: "Ada Lovelace" } });
  await t.client("acme", "main", { client_id: "web", client_name: "Web Shop", redirect_uris: ["https://rp.example/cb"], token_endpoint_auth_method: "none", scope: "openid", skip_consent: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
});

/** A fresh browser signed in through an application (its callback answered here), then at /app. */
async function signedIn(password, { refused = false } = {}) {
  const page = await (await browser.newContext()).newPage();
  await page.route("https://rp.example/**", (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>RP</title><h1>RP</h1>" }));
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: "https://rp.example/cb", scope: "openid", code_challenge: pkce().challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
  await page.goto(u.toString());
  await page.locator("#username").fill("ada");
  await page.locator("#password").fill(password);
  await page.locator("form:has(#password) button[type=submit]").click();
  if (refused) {
    await page.locator("#login-error").waitFor();
    return page;
  }
  await page.waitForURL("https://rp.example/**");
  await page.goto(`${issuer}/app`);
  return page;
}

/** The account page when no session is found. */
async function signedOut(page) {
  await page.goto(`${issuer}/app`);
  return page.getByText("You are signed out.").isVisible();
}

const heading = (page) => page.locator("h1").textContent();

test("a password change ends the other browser's session; sign out everywhere ends every one", async () => {
  const a = await signedIn(OLD);
  const b = await signedIn(OLD);
  assert.equal(await heading(a), "Ada Lovelace");
  assert.equal(await heading(b), "Ada Lovelace");

  await a.locator("#current-password").fill(OLD);
  await a.locator("#new-password").fill(NEW);
  await a.locator("#confirm-password").fill(NEW);
  await a.locator("#change-password button[type=submit]").click();
  await a.getByText("Your password was changed.").waitFor();
  assert.equal(await heading(a), "Ada Lovelace", "this browser stays signed in");

  assert.ok(await signedOut(b), "the other browser's session ended");
  // The old password no longer signs in; the new one does.
  await signedIn(OLD, { refused: true });
  const c = await signedIn(NEW);
  assert.equal(await heading(c), "Ada Lovelace");

  await c.locator("#sign-out-everywhere button[type=submit]").click();
  await c.waitForLoadState("load");
  for (const page of [a, c]) assert.ok(await signedOut(page), "every browser is signed out");
});

// The pages in a real headless browser (Debian's Chromium driven by playwright-core): sign-in,
// consent, SSO, form_post, logout, with JavaScript on and off, in English and Portuguese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { chromium } from "playwright-core";
import { startTarget, pkce } from "../support/target.mjs";

let t, issuer, browser, rp, rpBase;
const received = [];

before(async () => {
  // The relying party's callback: records what the browser brings back (query or form_post body).
  rp = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const url = new URL(req.url, "http://127.0.0.1");
      if (url.pathname === "/favicon.ico") return res.writeHead(404).end();
      received.push({ method: req.method, path: url.pathname, params: Object.fromEntries(req.method === "POST" ? new URLSearchParams(body) : url.searchParams) });
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>RP</title><p>signed in</p>");
    });
  });
  await new Promise((r) => rp.listen(0, "127.0.0.1", r));
  rpBase = `http://127.0.0.1:${rp.address().port}`;

  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  for (const username of ["ada", "grace"]) {
    await t.user("acme", "main", { username, password: "correct horse battery", claims: { name: username, email: `${username}@example.com` } });
  }
  await t.client("acme", "main", { client_id: "web", client_name: "Web Shop", redirect_uris: [`${rpBase}/cb`], post_logout_redirect_uris: [`${rpBase}/bye`], grant_types: ["authorization_code"], scope: "openid profile email" });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  rp?.close();
});

function authorizeUrl(extra = {}) {
  const u = new URL(`${issuer}/authorize`);
  const params = { response_type: "code", client_id: "web", redirect_uri: `${rpBase}/cb`, scope: "openid profile email", state: "st", code_challenge: pkce().challenge, code_challenge_method: "S256", ...extra };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

async function signIn(page, username = "ada") {
  await page.getByLabel(/username|usuário/i).fill(username);
  await page.getByLabel(/password|senha/i).fill("correct horse battery");
  await page.getByRole("button").first().click();
}

for (const javaScriptEnabled of [true, false]) {
  test(`sign in, consent and SSO in a browser (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async () => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    received.length = 0;
    await page.goto(authorizeUrl());
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
    assert.ok((await page.title()).length > 0);
    // A user per run, so each one meets the consent page (consent is remembered per user).
    await signIn(page, javaScriptEnabled ? "ada" : "grace");
    // Consent names the client and the scopes, then Allow returns to the RP with a code.
    await page.getByText("Web Shop").first().waitFor();
    await page.getByRole("button", { name: /allow/i }).click();
    await page.waitForURL(`${rpBase}/cb?**`);
    assert.equal(received.at(-1).params.state, "st");
    assert.equal(received.at(-1).params.iss, issuer);
    assert.ok(received.at(-1).params.code);

    const cookies = await context.cookies(issuer);
    const session = cookies.find((c) => c.name === "ea_session");
    assert.ok(session, "a session cookie");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Lax");

    // SSO and remembered consent: straight back to the RP.
    await page.goto(authorizeUrl({ state: "again" }));
    await page.waitForURL(`${rpBase}/cb?**`);
    assert.equal(received.at(-1).params.state, "again");

    // The account page, then sign-out via RP-initiated logout back to the RP.
    await page.goto(`${issuer}/app`);
    // The application by its name, the user by theirs.
    await page.getByText("Web Shop", { exact: true }).first().waitFor();
    await page.goto(`${issuer}/logout?client_id=web&post_logout_redirect_uri=${encodeURIComponent(`${rpBase}/bye`)}&state=out`);
    const confirm = page.getByRole("button");
    if (!page.url().startsWith(rpBase)) await confirm.first().click();
    await page.waitForURL(`${rpBase}/bye?**`);
    assert.equal(received.at(-1).params.state, "out");
    await page.goto(authorizeUrl());
    assert.ok(await page.getByLabel(/password/i).isVisible(), "signed out: the login form again");
    await context.close();
  });
}

test("form_post delivers the code by POST, with and without JavaScript", async () => {
  for (const javaScriptEnabled of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    received.length = 0;
    await page.goto(authorizeUrl({ response_mode: "form_post", state: "fp" }));
    await signIn(page);
    const allow = page.getByRole("button", { name: /allow/i });
    if (await allow.isVisible().catch(() => false)) await allow.click();
    if (!javaScriptEnabled) {
      await page.getByRole("button", { name: /continue/i }).click();
    }
    await page.waitForURL(`${rpBase}/cb`);
    const last = received.at(-1);
    assert.equal(last.method, "POST");
    assert.equal(last.params.state, "fp");
    assert.equal(last.params.iss, issuer);
    assert.ok(last.params.code);
    await context.close();
  }
});

test("pages in Portuguese with ui_locales=pt-BR, and a wrong password is announced", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(authorizeUrl({ ui_locales: "pt-BR" }));
  assert.equal(await page.locator("html").getAttribute("lang"), "pt-BR");
  await page.getByLabel(/usuário/i).fill("ada");
  await page.getByLabel(/senha/i).fill("wrong");
  await page.getByRole("button").first().click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.ok((await alert.textContent()).length > 0);
  await context.close();
});

test("an unregistered redirect_uri shows an error page and the browser stays on the server", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  received.length = 0;
  const response = await page.goto(authorizeUrl({ redirect_uri: `${rpBase}/evil` }));
  assert.equal(response.status(), 400);
  assert.ok(page.url().startsWith(issuer));
  await page.getByRole("alert").waitFor();
  assert.equal(received.length, 0);
  await context.close();
});

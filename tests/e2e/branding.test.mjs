// A branded sign-in page in headless Chromium: the workspace's uploaded logo and the application's
// logo (from its logo_uri) load, the administrator's stylesheet applies under the page's CSP, the
// primary colour is on the button, and the stylesheet cannot reach any other origin (its
// background-image request to a listening server never arrives). A screenshot is kept in
// tests/.artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { startTarget, pkce } from "../support/target.mjs";
import { systemClient } from "../support/management.mjs";
import { PNG } from "../support/images.mjs";
let t, issuer, browser, logoServer, exfilServer;
const exfilHits = [];

function listen(handler) {
  const s = createServer(handler);
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(s)));
}

before(async () => {
  logoServer = await listen((req, res) => { res.writeHead(200, { "content-type": "image/png" }); res.end(PNG); });
  exfilServer = await listen((req, res) => { exfilHits.push(req.url); res.writeHead(200, { "content-type": "image/png" }); res.end(PNG); });
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  await t.client("acme", "main", { client_id: "budget", client_name: "Budget Planner", redirect_uris: ["https://rp.example/cb"], token_endpoint_auth_method: "none", scope: "openid", logo_uri: `http://127.0.0.1:${logoServer.address().port}/logo.png`, policy_uri: "https://rp.example/privacy" });
  const { token } = await systemClient(t);
  const api = (method, path, body, contentType = "application/json") =>
    fetch(`${t.base}/api/tenants/acme/workspaces/main${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": contentType }, body });
  const css = `main{border-top:6px solid rgb(1, 2, 3)} body{background-image:url(http://127.0.0.1:${exfilServer.address().port}/exfil)}`;
  let r = await api("PUT", "/branding", JSON.stringify({ display_name: "Acme Bank", primary_color: "#7b2d8b", custom_css: css, terms_uri: "https://acme.example/terms" }));
  assert.equal(r.status, 200, await r.text());
  r = await api("PUT", "/branding/logo", PNG, "image/png");
  assert.equal(r.status, 200, await r.text());
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  logoServer?.close();
  exfilServer?.close();
});

test("the branded sign-in page loads both logos and the stylesheet, and the stylesheet reaches no other origin", async () => {
  const page = await browser.newPage();
  const violations = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "budget", redirect_uri: "https://rp.example/cb", scope: "openid", code_challenge: pkce().challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
  await page.goto(u.toString());
  await page.waitForLoadState("networkidle");
  const state = await page.evaluate(() => ({
    brandLogo: document.querySelector(".brand-logo")?.naturalWidth,
    appLogo: document.querySelector(".app-logo")?.naturalWidth,
    border: getComputedStyle(document.querySelector("main")).borderTopColor,
    button: getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor,
    buttonText: getComputedStyle(document.querySelector("button[type=submit]")).color,
    name: document.querySelector(".brand-name")?.textContent,
    app: document.querySelector(".app-name")?.textContent,
  }));
  assert.deepEqual(state, { brandLogo: 1, appLogo: 1, border: "rgb(1, 2, 3)", button: "rgb(123, 45, 139)", buttonText: "rgb(255, 255, 255)", name: "Acme Bank", app: "Budget Planner" });
  assert.deepEqual(exfilHits, [], "the stylesheet's request to another origin was blocked");
  assert.equal(violations.length, 1, violations.join("\n"));
  assert.match(violations[0], /exfil/);
  mkdirSync("tests/.artifacts", { recursive: true });
  await page.screenshot({ path: "tests/.artifacts/branding-sign-in.png", fullPage: true });
  await page.close();
});

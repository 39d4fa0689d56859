// A post-authentication `redirect` extension end to end in Chromium with JavaScript off: the
// password form, then the customer's application (a plain form asking for the user's State), then
// back through /extensions/resume to the client, whose tokens carry the State the user typed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTarget, pkce, form, basic } from "../support/target.mjs";
import { startRelyingParty } from "../support/relying-party.mjs";
import { startExtensionService } from "../support/extension-service.mjs";
import { decodeJwt } from "../support/signin.mjs";

let t, issuer, svc, browser, rp, rpBase, secret;
let received;

before(async () => {
  rp = await startRelyingParty();
  ({ base: rpBase, received } = rp);
  t = await startTarget();
  svc = await startExtensionService();
  issuer = await t.workspace("acme", "main", {
    authn_context: { attributes: [{ name: "region", type: "string" }] },
    claims: [{ claim: "region", attribute: "region", id_token: true, userinfo: true }],
    extensions: [{ id: "profile", type: "redirect", name: "Complete your profile", order: 1, url: `${svc.origin}/app`, jwks: { keys: [svc.publicJwk] } }],
  });
  await svc.trust(issuer);
  secret = (await t.client("acme", "main", { client_id: "web", redirect_uris: [`${rpBase}/cb`], grant_types: ["authorization_code"], scope: "openid profile", skip_consent: true })).client_secret;
  await t.user("acme", "main", { username: "ada", password: "a-long-password-1", claims: { name: "Ada" } });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  await svc?.stop();
  rp?.close();
});

test("a browser without JavaScript goes through the customer's application and back to the client", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const { verifier, challenge } = pkce();
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: `${rpBase}/cb`, scope: "openid profile", state: "st", code_challenge: challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
  await page.goto(u.toString());
  await page.getByLabel("Username").fill("ada");
  await page.getByLabel("Password").fill("a-long-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${svc.origin}/app**`);
  await page.getByLabel("State").fill("SP");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${rpBase}/cb**`);
  assert.equal(received.length, 1);
  assert.equal(received[0].state, "st");
  const r = await form(`${issuer}/token`, { grant_type: "authorization_code", code: received[0].code, redirect_uri: `${rpBase}/cb`, code_verifier: verifier }, { authorization: basic("web", secret) });
  assert.equal(r.status, 200, r.text);
  assert.equal(decodeJwt(r.json.id_token).payload.region, "SP", "what the user typed in the application");
  const cookies = await context.cookies();
  assert.ok(cookies.some((c) => c.name === "ea_session"), "signed in");
  assert.ok(!cookies.some((c) => c.name === "ea_ext"), "the journey cookie is gone");
  await context.close();
});

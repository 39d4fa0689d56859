// Federated sign-in end to end: Chromium (JavaScript on and off) through the selection page, the
// upstream provider's own login page (panva's oidc-provider) and back to the client; and
// openid-client (a certified relying party) as the client of a federated sign-in, checking the ID
// token we issue from the upstream's answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import * as client from "openid-client";
import { startTarget, pkce, Agent } from "../support/target.mjs";
import { startRelyingParty } from "../support/relying-party.mjs";
import { startUpstream } from "../support/upstream-idp.mjs";

let t, issuer, up, browser, rp, rpBase, secret;
let received;
const UPSTREAM_SECRET = "upstream-secret-0123456789abcdef";

before(async () => {
  rp = await startRelyingParty();
  ({ base: rpBase, received } = rp);
  t = await startTarget();
  issuer = await t.workspace("acme", "main", {
    authn_context: { attributes: [{ name: "crm_id", type: "string" }] },
    claims: [{ claim: "crm_id", attribute: "crm_id", id_token: true, userinfo: true }],
  });
  up = await startUpstream({
    accounts: { ada: { email: "ada@corp.example", email_verified: true, name: "Ada Lovelace", crm_id: "C-1815" } },
    clients: [{ client_id: "edgeauth", client_secret: UPSTREAM_SECRET, redirect_uris: [`${issuer}/idp/callback`] }],
    loginForm: true,
  });
  const r = await t.admin("PUT", "/admin/tenants/acme/workspaces/main/identity-providers", {
    version: 1,
    providers: [{
      id: "corp", type: "oidc", name: "Corp SSO", issuer: up.issuer, client_id: "edgeauth", client_secret: UPSTREAM_SECRET, scopes: ["openid", "email", "profile", "crm"],
      attributes: [{ name: "crm_id", type: "string" }],
      mappings: [{ source: "email", target: "email" }, { source: "name", target: "name" }, { source: "crm_id", target: "crm_id" }],
      provisioning: { mode: "auto", match_by: ["email"] },
    }],
  });
  assert.equal(r.status, 200, r.text);
  secret = (await t.client("acme", "main", { client_id: "web", client_name: "Web Shop", redirect_uris: [`${rpBase}/cb`, "http://localhost:3000/callback"], grant_types: ["authorization_code"], scope: "openid profile email", skip_consent: true })).client_secret;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await t?.stop();
  await up?.stop();
  rp?.close();
});

for (const javaScriptEnabled of [true, false]) {
  test(`a browser signs in through the selection page and the upstream's login (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async () => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    received.length = 0;
    const u = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: `${rpBase}/cb`, scope: "openid profile email", state: "st", code_challenge: pkce().challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
    await page.goto(u.toString());
    await page.getByRole("button", { name: "Sign in with Corp SSO" }).click();
    await page.getByLabel("Upstream username").fill("ada");
    await page.getByRole("button", { name: "Continue at Upstream" }).click();
    await page.waitForURL(`${rpBase}/cb**`);
    assert.equal(received.length, 1);
    assert.ok(received[0].code, JSON.stringify(received[0]));
    assert.equal(received[0].state, "st");
    assert.equal(received[0].iss, issuer);
    // A second authorization in the browser's session: straight back, no upstream page.
    received.length = 0;
    await page.goto(u.toString());
    await page.waitForURL(`${rpBase}/cb**`);
    assert.ok(received[0]?.code, "SSO");
    await context.close();
  });
}

test("openid-client is the relying party of a federated sign-in", async () => {
  const config = await client.discovery(new URL(issuer), "web", secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: "http://localhost:3000/callback", scope: "openid profile email", code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", nonce, idp_hint: "corp" });
  // The user: the upstream's login page asks for a name, and everything else is redirects.
  const agent = new Agent();
  let r = await agent.request(url.toString());
  let at = url;
  for (let i = 0; i < 12; i++) {
    if (r.status === 200 && r.text_.includes('name="login"')) {
      r = await agent.request(new URL(r.text_.match(/action="([^"]+)"/)[1], at).toString(), { method: "POST", form: { login: "ada" } });
      continue;
    }
    const next = new URL(r.headers.get("location"), at);
    if (next.toString().startsWith("http://localhost:3000/callback")) { at = next; break; }
    at = next;
    r = await agent.request(at.toString());
  }
  assert.ok(at.toString().startsWith("http://localhost:3000/callback"), at.toString());
  const tokens = await client.authorizationCodeGrant(config, at, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.email, "ada@corp.example");
  assert.equal(claims.crm_id, "C-1815");
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.crm_id, "C-1815");
  assert.equal(info.name, "Ada Lovelace");
});

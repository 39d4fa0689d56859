// The authorization-code flow end to end over HTTP: login, consent, code, tokens, userinfo, SSO,
// prompt handling and one-time codes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, pkce, basic, Agent, hidden, form } from "../support/target.mjs";

const REDIRECT = "https://rp.example/cb";
let t, issuer, secret;

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  await t.user("acme", "main", { username: "ada", password: "correct horse battery", claims: { name: "Ada Lovelace", email: "ada@example.com", email_verified: true } });
  secret = (await t.client("acme", "main", { client_id: "web", client_name: "Web", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], scope: "openid profile email offline_access" })).client_secret;
});
after(() => t.stop());

function authorizeUrl(params) {
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid profile email", ...params })) u.searchParams.set(k, v);
  return u.toString();
}

/** authorize -> login page -> login -> consent (if asked) -> redirect; returns the final response. */
async function signIn(agent, params, { password = "correct horse battery" } = {}) {
  let r = await agent.request(authorizeUrl(params));
  assert.equal(r.status, 200, r.text_);
  r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "ada", password } });
  if (r.status === 200 && r.text_.includes('name="decision"')) {
    r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  }
  return r;
}

const redeem = (code, verifier) => form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic("web", secret) });

test("code flow: login, consent, tokens, userinfo, and iss in the response", async () => {
  const agent = new Agent();
  const { verifier, challenge } = pkce();
  const r = await signIn(agent, { state: "st", nonce: "nn", code_challenge: challenge, code_challenge_method: "S256" });
  assert.equal(r.status, 303);
  const loc = new URL(r.headers.get("location"));
  assert.equal(loc.origin + loc.pathname, REDIRECT);
  assert.equal(loc.searchParams.get("state"), "st");
  assert.equal(loc.searchParams.get("iss"), issuer);
  const tokens = await redeem(loc.searchParams.get("code"), verifier);
  assert.equal(tokens.status, 200, tokens.text);
  assert.equal(tokens.json.token_type, "Bearer");
  const idt = JSON.parse(Buffer.from(tokens.json.id_token.split(".")[1], "base64url"));
  assert.equal(idt.iss, issuer);
  assert.equal(idt.aud, "web");
  assert.equal(idt.nonce, "nn");
  assert.ok(idt.sid && idt.auth_time && idt.at_hash && idt.amr);
  const header = JSON.parse(Buffer.from(tokens.json.access_token.split(".")[0], "base64url"));
  assert.equal(header.typ, "at+jwt");
  assert.equal(header.alg, "ES256");
  const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.json.access_token}` } });
  assert.equal(ui.status, 200);
  const claims = await ui.json();
  assert.equal(claims.sub, idt.sub);
  assert.equal(claims.email, "ada@example.com");
});

test("SSO: a second authorize skips the login; prompt=login and max_age=0 force it again", async () => {
  const agent = new Agent();
  const { challenge } = pkce();
  const first = await signIn(agent, { code_challenge: challenge, code_challenge_method: "S256" });
  assert.equal(first.status, 303);
  const again = await agent.request(authorizeUrl({ code_challenge: challenge, code_challenge_method: "S256" }));
  assert.equal(again.status, 303, again.text_);
  assert.ok(new URL(again.headers.get("location")).searchParams.get("code"));
  for (const forced of [{ prompt: "login" }, { max_age: "0" }]) {
    const r = await agent.request(authorizeUrl({ code_challenge: challenge, code_challenge_method: "S256", ...forced }));
    assert.equal(r.status, 200, JSON.stringify(forced));
    assert.match(r.text_, /name="password"/);
  }
});

test("prompt=none without a session answers login_required at the redirect_uri", async () => {
  const r = await new Agent().request(authorizeUrl({ prompt: "none", state: "x", code_challenge: pkce().challenge, code_challenge_method: "S256" }));
  assert.equal(r.status, 303);
  const loc = new URL(r.headers.get("location"));
  assert.equal(loc.searchParams.get("error"), "login_required");
  assert.equal(loc.searchParams.get("state"), "x");
  assert.equal(loc.searchParams.get("iss"), issuer);
});

test("a wrong password shows the login page again with an error, and no session", async () => {
  const agent = new Agent();
  const r = await signIn(agent, { code_challenge: pkce().challenge, code_challenge_method: "S256" }, { password: "wrong" });
  assert.equal(r.status, 200);
  assert.match(r.text_, /name="password"/);
  assert.ok(!agent.cookies.has("ea_session"));
});

test("a replayed code fails with invalid_grant and revokes what it issued", async () => {
  const agent = new Agent();
  const { verifier, challenge } = pkce();
  const r = await signIn(agent, { code_challenge: challenge, code_challenge_method: "S256" });
  const code = new URL(r.headers.get("location")).searchParams.get("code");
  const first = await redeem(code, verifier);
  assert.equal(first.status, 200);
  const replay = await redeem(code, verifier);
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error, "invalid_grant");
  const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${first.json.access_token}` } });
  assert.equal(ui.status, 401);
  assert.match(ui.headers.get("www-authenticate"), /invalid_token/);
});

test("concurrent redemptions of one code: exactly one wins", async () => {
  const agent = new Agent();
  const { verifier, challenge } = pkce();
  const r = await signIn(agent, { code_challenge: challenge, code_challenge_method: "S256" });
  const code = new URL(r.headers.get("location")).searchParams.get("code");
  const results = await Promise.all(Array.from({ length: 8 }, () => redeem(code, verifier)));
  assert.equal(results.filter((x) => x.status === 200).length, 1);
  assert.ok(results.filter((x) => x.status !== 200).every((x) => x.json.error === "invalid_grant"));
});

test("sso_enabled false: every sign-in completes without a session; each authorization asks again; logout still ends an older session", async () => {
  const nosso = await t.workspace("acme", "nosso", { sso_enabled: false });
  await t.user("acme", "nosso", { username: "ada", password: "correct horse battery" });
  const s = (await t.client("acme", "nosso", { client_id: "web", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid profile" })).client_secret;
  const url = (params) => {
    const u = new URL(`${nosso}/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid profile", nonce: "n", ...params })) u.searchParams.set(k, v);
    return u.toString();
  };
  const agent = new Agent();
  const { verifier, challenge } = pkce();
  let r = await agent.request(url({ code_challenge: challenge, code_challenge_method: "S256" }));
  r = await agent.request(`${nosso}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "ada", password: "correct horse battery" } });
  assert.equal(r.status, 200, "the consent page");
  assert.ok(!agent.cookies.has("ea_session"), "no session cookie without SSO");
  r = await agent.request(`${nosso}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  assert.equal(r.status, 303, r.text_);
  const code = new URL(r.headers.get("location")).searchParams.get("code");
  assert.ok(code, r.headers.get("location"));
  const tokens = await form(`${nosso}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic("web", s) });
  assert.equal(tokens.status, 200, tokens.text);
  const idToken = JSON.parse(Buffer.from(tokens.json.id_token.split(".")[1], "base64url"));
  assert.equal(idToken.sid, undefined, "no sid: there is no session to log out of");
  assert.ok(idToken.auth_time > 0);
  // No SSO: the next authorization asks for the password again, and prompt=none cannot succeed.
  r = await agent.request(url({ code_challenge: challenge, code_challenge_method: "S256" }));
  assert.ok(r.text_.includes('name="password"'), "the login page again");
  r = await agent.request(url({ code_challenge: challenge, code_challenge_method: "S256", prompt: "none" }));
  assert.equal(new URL(r.headers.get("location")).searchParams.get("error"), "login_required");

  // A session from before SSO was switched off: logout still ends it.
  const older = await t.workspace("acme", "older");
  await t.user("acme", "older", { username: "ada", password: "correct horse battery" });
  await t.client("acme", "older", { client_id: "web", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid", skip_consent: true });
  const browser = new Agent();
  const ou = `${older}/authorize?response_type=code&client_id=web&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid&code_challenge=${challenge}&code_challenge_method=S256`;
  r = await browser.request(ou);
  r = await browser.request(`${older}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "ada", password: "correct horse battery" } });
  assert.equal(r.status, 303);
  assert.ok(browser.cookies.has("ea_session"));
  const sid = browser.cookies.get("ea_session");
  await t.admin("PUT", "/admin/tenants/acme/workspaces/older", { sso_enabled: false });
  r = await browser.request(`${older}/logout`);
  assert.equal(r.status, 200, "the logout confirmation for the older session");
  r = await browser.request(`${older}/logout`, { method: "POST", form: { interaction: hidden(r.text_, "interaction") } });
  assert.equal(r.status, 303);
  assert.ok(!browser.cookies.has("ea_session"));
  // Back on, the old session cookie signs no one in.
  await t.admin("PUT", "/admin/tenants/acme/workspaces/older", { sso_enabled: true });
  const replay = new Agent();
  replay.cookies.set("ea_session", sid);
  r = await replay.request(`${ou}&prompt=none`);
  assert.equal(new URL(r.headers.get("location")).searchParams.get("error"), "login_required");
});

test("the claims parameter reaches no further than the client's scopes, and what it adds is on the consent page", async () => {
  const claims = JSON.stringify({ id_token: { email: null, name: { essential: true } } });
  const narrowSecret = (await t.client("acme", "main", { client_id: "narrow", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid" })).client_secret;
  const flow = async (clientId, secretOf, scope) => {
    const agent = new Agent();
    const { verifier, challenge } = pkce();
    const u = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, scope, claims, nonce: "n", code_challenge: challenge, code_challenge_method: "S256" })) u.searchParams.set(k, v);
    let r = await agent.request(u.toString());
    r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "ada", password: "correct horse battery" } });
    assert.equal(r.status, 200, "the consent page");
    const page = r.text_;
    r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(page, "interaction"), decision: "allow" } });
    const code = new URL(r.headers.get("location")).searchParams.get("code");
    const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic(clientId, secretOf) });
    assert.equal(tok.status, 200, tok.text);
    return { page, id: JSON.parse(Buffer.from(tok.json.id_token.split(".")[1], "base64url")) };
  };
  // A client allowed only openid gets neither claim, and the page offers none.
  const narrow = await flow("narrow", narrowSecret, "openid");
  assert.equal(narrow.id.email, undefined);
  assert.equal(narrow.id.name, undefined);
  assert.ok(!narrow.page.includes('class="scope">email<') && !narrow.page.includes('class="scope">name<'), "nothing beyond openid on the page");
  // A client allowed profile and email may ask for them by name; the page lists them.
  const wide = await flow("web", secret, "openid");
  assert.equal(wide.id.email, "ada@example.com");
  assert.equal(wide.id.name, "Ada Lovelace");
  assert.ok(wide.page.includes('class="scope">email<') && wide.page.includes('class="scope">name<'), "the claims are on the consent page");
});

test("a consent form is single use: posting it again issues no second code", async () => {
  const agent = new Agent();
  const { challenge } = pkce();
  let r = await agent.request(authorizeUrl({ prompt: "consent", code_challenge: challenge, code_challenge_method: "S256" }));
  r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "ada", password: "correct horse battery" } });
  assert.equal(r.status, 200, "the consent page");
  const interaction = hidden(r.text_, "interaction");
  const first = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction, decision: "allow" } });
  assert.equal(first.status, 303);
  assert.ok(new URL(first.headers.get("location")).searchParams.get("code"));
  const again = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction, decision: "allow" } });
  assert.equal(again.status, 400);
  assert.equal(again.headers.get("location"), null, "no second code");
  assert.match(again.text_, /already submitted/);
});

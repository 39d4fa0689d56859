// The authorization endpoint and its pages: what is shown instead of redirected, what is
// redirected, form_post, hints and locales, CSRF on the login form, and remembered consent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, Agent, hidden, pkce } from "../support/target.mjs";

const REDIRECT = "https://rp.example/cb";
let t, issuer;
const ada = { username: "ada", password: "correct horse battery" };

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  await t.user("acme", "main", { ...ada, claims: { name: "Ada", email: "ada@example.com" } });
  await t.client("acme", "main", { client_id: "web", client_name: "Web", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid profile email" });
  await t.client("acme", "main", { client_id: "spa", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid", token_endpoint_auth_method: "none" });
});
after(() => t.stop());

function url(params) {
  const u = new URL(`${issuer}/authorize`);
  const { challenge } = pkce();
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid", state: "st", code_challenge: challenge, code_challenge_method: "S256", ...params })) {
    if (v === undefined) u.searchParams.delete(k); else u.searchParams.set(k, v);
  }
  return u.toString();
}

async function login(agent, params = {}) {
  let r = await agent.request(url(params));
  assert.equal(r.status, 200, r.text_);
  r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), ...ada } });
  return r;
}

const isConsent = (r) => r.status === 200 && r.text_.includes('name="decision"');

test("an unknown client or an unregistered redirect_uri is an error page, never a redirect", async () => {
  const cases = [{ client_id: "nobody" }, { redirect_uri: "https://evil.example/cb" }, { redirect_uri: `${REDIRECT}/` }, { redirect_uri: `${REDIRECT}x` }, { redirect_uri: "https://RP.example/cb" }, { redirect_uri: `${REDIRECT}?a=1` }, { redirect_uri: undefined }, { client_id: undefined }];
  for (const c of cases) {
    const r = await new Agent().request(url(c));
    assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(c)} -> ${r.status}`);
    assert.equal(r.headers.get("location"), null, JSON.stringify(c));
    assert.match(r.headers.get("content-type"), /text\/html/);
    assert.match(r.text_, /role="alert"/);
  }
});

test("errors about a valid client's request go back to its redirect_uri with state and iss", async () => {
  const cases = [
    [{ scope: "openid admin" }, "invalid_scope"],
    [{ response_type: "token" }, "unsupported_response_type"],
    [{ code_challenge_method: "plain" }, "invalid_request"],
    [{ client_id: "spa", code_challenge: undefined, code_challenge_method: undefined }, "invalid_request"],
    [{ prompt: "none" }, "login_required"],
  ];
  for (const [params, error] of cases) {
    const r = await new Agent().request(url(params));
    assert.equal(r.status, 303, JSON.stringify(params));
    const loc = new URL(r.headers.get("location"));
    assert.equal(loc.origin + loc.pathname, REDIRECT);
    assert.equal(loc.searchParams.get("error"), error, JSON.stringify(params));
    assert.equal(loc.searchParams.get("state"), "st");
    assert.equal(loc.searchParams.get("iss"), issuer);
  }
});

test("response_mode=form_post answers with a form that posts code, state and iss to the redirect_uri", async () => {
  const agent = new Agent();
  let r = await login(agent, { response_mode: "form_post" });
  if (isConsent(r)) r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  assert.equal(r.status, 200);
  assert.match(r.text_, new RegExp(`<form method="post" action="${REDIRECT}"`));
  assert.ok(hidden(r.text_, "code"));
  assert.equal(hidden(r.text_, "state"), "st");
  assert.equal(hidden(r.text_, "iss"), issuer);
  assert.match(r.text_, /<noscript><button/);
});

test("login_hint fills in the username; ui_locales=pt-BR speaks Portuguese; pages carry security headers", async () => {
  const r = await new Agent().request(url({ login_hint: "ada@example.com", ui_locales: "pt-BR" }));
  assert.match(r.text_, /id="username" name="username"[^>]*value="ada@example.com"/);
  assert.match(r.text_, /<html lang="pt-BR"/);
  assert.match(r.text_, /Senha/);
  assert.match(r.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  assert.match(r.headers.get("cache-control"), /no-store/);
  const escaped = await new Agent().request(url({ login_hint: '"><script>alert(1)</script>' }));
  assert.doesNotMatch(escaped.text_, /<script>alert/);
});

test("the login form is CSRF-protected: without the browser's cookie, or with another's, no session", async () => {
  const victim = new Agent();
  const page = await victim.request(url());
  const interaction = hidden(page.text_, "interaction");
  const attacker = new Agent();
  const noCookie = await attacker.request(`${issuer}/login`, { method: "POST", form: { interaction, ...ada } });
  assert.ok(noCookie.status >= 400 && noCookie.status < 500, `${noCookie.status}`);
  assert.ok(!attacker.cookies.has("ea_session"));
  await attacker.request(url()); // the attacker's own CSRF cookie
  const otherCookie = await attacker.request(`${issuer}/login`, { method: "POST", form: { interaction, ...ada } });
  assert.ok(otherCookie.status >= 400 && otherCookie.status < 500, `${otherCookie.status}`);
  assert.ok(!attacker.cookies.has("ea_session"));
});

test("the session cookie is HttpOnly, Secure, SameSite=Lax and scoped to the workspace", async () => {
  const agent = new Agent();
  const page = await agent.request(url());
  const r = await fetch(`${issuer}/login`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: agent.cookieHeader() }, body: new URLSearchParams({ interaction: hidden(page.text_, "interaction"), ...ada }) });
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith("ea_session="));
  assert.ok(cookie);
  for (const attr of ["HttpOnly", "Secure", "SameSite=Lax", "Path=/acme/main"]) assert.ok(cookie.split("; ").includes(attr), `${attr} in ${cookie}`);
});

test("consent: remembered per user, client and scopes; prompt=consent and new scopes ask again; deny is access_denied", async () => {
  const agent = new Agent();
  let r = await login(agent, { scope: "openid email" });
  assert.ok(isConsent(r));
  r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  assert.equal(r.status, 303);
  // Remembered.
  r = await agent.request(url({ scope: "openid email" }));
  assert.equal(r.status, 303);
  assert.ok(new URL(r.headers.get("location")).searchParams.get("code"));
  // A subset is covered by what was granted.
  r = await agent.request(url({ scope: "openid" }));
  assert.equal(r.status, 303);
  // prompt=consent and a new scope ask again.
  assert.ok(isConsent(await agent.request(url({ scope: "openid email", prompt: "consent" }))));
  r = await agent.request(url({ scope: "openid email profile" }));
  assert.ok(isConsent(r));
  r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "deny" } });
  assert.equal(r.status, 303);
  const loc = new URL(r.headers.get("location"));
  assert.equal(loc.searchParams.get("error"), "access_denied");
  assert.equal(loc.searchParams.get("iss"), issuer);
  // prompt=none when consent is missing: consent_required, not a page.
  r = await agent.request(url({ scope: "openid email profile", prompt: "none" }));
  assert.equal(new URL(r.headers.get("location")).searchParams.get("error"), "consent_required");
});

test("the account page lists the consent, and withdrawing it makes the next authorize ask again", async () => {
  const agent = new Agent();
  let r = await login(agent, { scope: "openid profile" });
  r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  assert.equal(r.status, 303);
  const app = await agent.request(`${issuer}/app`);
  assert.equal(app.status, 200);
  assert.match(app.text_, /<strong>Web<\/strong>/, "the client by its name");
  const withdraw = { interaction: hidden(app.text_, "interaction"), client_id: "web" };
  // Without the browser's CSRF cookie the withdrawal is refused.
  const forged = await fetch(`${issuer}/app/consents/withdraw`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: `ea_session=${agent.cookies.get("ea_session")}` }, body: new URLSearchParams(withdraw) });
  assert.ok(forged.status >= 400 && forged.status < 500, `${forged.status}`);
  assert.equal((await agent.request(url({ scope: "openid profile" }))).status, 303, "consent still there");
  r = await agent.request(`${issuer}/app/consents/withdraw`, { method: "POST", form: withdraw });
  assert.ok(r.status === 303 || r.status === 200, `${r.status}`);
  assert.ok(isConsent(await agent.request(url({ scope: "openid profile" }))));
});

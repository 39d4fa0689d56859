// RP-initiated logout, the end of the SSO session, discovery metadata, JWKS contents, key rotation
// and tenant isolation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, Agent, basic, form } from "../support/target.mjs";
import { authorizeCode, userTokens, decodeJwt } from "../support/signin.mjs";

const REDIRECT = "https://rp.example/cb";
const BYE = "https://rp.example/bye";
let t, issuer, secret;
const ada = { username: "ada", password: "correct horse battery" };

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  await t.user("acme", "main", { ...ada, claims: { name: "Ada", email: "ada@example.com" } });
  secret = (await t.client("acme", "main", { client_id: "web", redirect_uris: [REDIRECT], post_logout_redirect_uris: [BYE], grant_types: ["authorization_code", "client_credentials"], scope: "openid email api", skip_consent: true })).client_secret;
});
after(() => t.stop());

const signIn = async (agent = new Agent()) => {
  const tokens = await userTokens(issuer, { client_id: "web", redirect_uri: REDIRECT, scope: "openid email", ...ada, agent, auth: { headers: { authorization: basic("web", secret) } } });
  return { agent, tokens };
};
const promptNone = async (agent) => {
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: REDIRECT, scope: "openid", prompt: "none", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" })) u.searchParams.set(k, v);
  const r = await agent.request(u.toString());
  assert.equal(r.status, 303);
  return new URL(r.headers.get("location")).searchParams;
};

test("logout with id_token_hint ends the session at once and returns to the registered URI with state", async () => {
  const { agent, tokens } = await signIn();
  assert.ok((await promptNone(agent)).get("code"), "signed in");
  const stolenCookie = agent.cookies.get("ea_session");
  const r = await agent.request(`${issuer}/logout?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent(BYE)}&state=s1`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), `${BYE}?state=s1`);
  assert.equal((await promptNone(agent)).get("error"), "login_required");
  // Replaying the old cookie does not bring the session back.
  const replay = new Agent();
  replay.cookies.set("ea_session", stolenCookie);
  assert.equal((await promptNone(replay)).get("error"), "login_required");
});

test("the ID token's sid is not the session cookie: set as ea_session in a fresh browser it signs no one in", async () => {
  const { agent, tokens } = await signIn();
  const { sid } = decodeJwt(tokens.id_token).payload;
  assert.ok(sid);
  assert.notEqual(sid, agent.cookies.get("ea_session"));
  const thief = new Agent();
  thief.cookies.set("ea_session", sid);
  assert.equal((await promptNone(thief)).get("error"), "login_required");
  assert.ok((await promptNone(agent)).get("code"), "the real browser is still signed in");
  // Logout by id_token_hint still finds the session by its sid.
  const r = await agent.request(`${issuer}/logout?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent(BYE)}`);
  assert.equal(r.status, 303);
  assert.equal((await promptNone(agent)).get("error"), "login_required");
});

test("an unregistered post_logout_redirect_uri is never redirected to, and the session survives", async () => {
  const { agent, tokens } = await signIn();
  for (const uri of ["https://evil.example/", `${BYE}/x`, `${BYE}?a=1`, "https://rp.example/BYE"]) {
    const r = await agent.request(`${issuer}/logout?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent(uri)}`);
    assert.equal(r.status, 400, uri);
    assert.equal(r.headers.get("location"), null);
    assert.match(r.headers.get("content-type"), /text\/html/);
  }
  assert.ok((await promptNone(agent)).get("code"), "still signed in");
});

test("logout without a hint asks the user first (no CSRF sign-out), then lands on /app", async () => {
  const { agent } = await signIn();
  const page = await agent.request(`${issuer}/logout`);
  assert.equal(page.status, 200);
  assert.ok((await promptNone(agent)).get("code"), "a GET alone does not sign out");
  // A forged confirmation without the browser's CSRF cookie is refused.
  const interaction = page.text_.match(/name="interaction" value="([^"]*)"/)[1];
  const forged = await form(`${issuer}/logout`, { interaction, confirm: "yes" }, { cookie: `ea_session=${agent.cookies.get("ea_session")}` });
  assert.ok(forged.status >= 400 && forged.status < 500, `${forged.status}`);
  assert.ok((await promptNone(agent)).get("code"), "still signed in after the forged post");
  const r = await agent.request(`${issuer}/logout`, { method: "POST", form: { interaction, confirm: "yes" } });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), `${issuer}/app`);
  assert.equal((await promptNone(agent)).get("error"), "login_required");
});

test("discovery and RFC 8414 metadata name this workspace's endpoints", async () => {
  const oidc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const rfc8414 = await (await fetch(`${t.base}/.well-known/oauth-authorization-server/acme/main`)).json();
  for (const m of [oidc, rfc8414]) {
    assert.equal(m.issuer, issuer);
    assert.equal(m.token_endpoint, `${issuer}/token`);
    assert.equal(m.jwks_uri, `${issuer}/jwks`);
    assert.deepEqual(m.code_challenge_methods_supported, ["S256"]);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
  }
  assert.equal(oidc.end_session_endpoint, `${issuer}/logout`);
  assert.deepEqual([...oidc.id_token_signing_alg_values_supported].sort(), ["ES256", "PS256", "RS256"]);
});

test("JWKS carries public key material only, for every algorithm", async () => {
  const { keys } = await (await fetch(`${issuer}/jwks`)).json();
  assert.deepEqual([...new Set(keys.map((k) => k.alg))].sort(), ["ES256", "PS256", "RS256"]);
  for (const k of keys) {
    for (const secretPart of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal(k[secretPart], undefined, `${k.kid} leaks ${secretPart}`);
    assert.ok(k.kid && k.use === "sig");
  }
});

test("key rotation: new tokens use the new key; the retired key stays published and its tokens keep working", async () => {
  const { tokens } = await signIn();
  const oldKid = decodeJwt(tokens.access_token).header.kid;
  const rot = await t.admin("POST", "/admin/tenants/acme/workspaces/main/keys/rotate");
  assert.ok(rot.status < 300, rot.text);
  const cc = await form(`${issuer}/token`, { grant_type: "client_credentials", scope: "api" }, { authorization: basic("web", secret) });
  const newKid = decodeJwt(cc.json.access_token).header.kid;
  assert.notEqual(newKid, oldKid);
  const kids = (await (await fetch(`${issuer}/jwks`)).json()).keys.map((k) => k.kid);
  assert.ok(kids.includes(oldKid) && kids.includes(newKid));
  const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(ui.status, 200);
});

test("tenant isolation: another workspace knows neither this client nor its tokens", async () => {
  const other = await t.workspace("acme", "other");
  const { tokens } = await signIn();
  const cc = await form(`${other}/token`, { grant_type: "client_credentials" }, { authorization: basic("web", secret) });
  assert.equal(cc.status, 401);
  assert.equal(cc.json.error, "invalid_client");
  const ui = await fetch(`${other}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(ui.status, 401);
  const { code, verifier } = await authorizeCode(issuer, { client_id: "web", redirect_uri: REDIRECT, ...ada });
  const redeem = await form(`${other}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic("web", secret) });
  assert.equal(redeem.status, 401);
  // ... and the code is still good where it was issued.
  const home = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic("web", secret) });
  assert.equal(home.status, 200);
});

test("unknown tenant or workspace: a 404 JSON error", async () => {
  for (const path of ["/nope/main/.well-known/openid-configuration", "/acme/nope/token", "/.well-known/oauth-authorization-server/nope/main"]) {
    const r = await fetch(t.base + path, { method: path.endsWith("token") ? "POST" : "GET" });
    assert.equal(r.status, 404, path);
    const body = await r.json();
    assert.equal(body.error, "not_found");
    assert.match(body.error_description, /unknown (tenant|workspace) 'nope'/);
  }
});

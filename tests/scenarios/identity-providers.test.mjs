// Federated sign-in through identity providers, against panva's oidc-provider as the upstream:
// the selection page and the ways around it (one provider and no password form, idp_hint, the
// email domain), just-in-time provisioning (off, auto, manual), matching by link and by verified
// email, the authentication context (a custom `crm_id` mapped from the provider into ID token and
// userinfo claims, `auth_time` into the access token), SSO reuse without a call to the provider,
// a provider that is down, slow or returns a bad ID token, and a tampered or replayed callback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTarget, Agent, pkce, form, basic, hidden, parseSetCookie } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { startUpstream } from "../support/upstream-idp.mjs";
import { systemClient, api } from "../support/management.mjs";

const RP = "https://rp.example/cb";
const WORKSPACES = ["fed", "solo", "jit", "manual", "broken", "portal", "brief", "plain"];
let t, up, base, secret, sys;
const rpSecret = {};

const accounts = {
  alice: { email: "Alice@Corp.example", email_verified: true, name: "Alice Liddell", preferred_username: "alice", crm_id: "crm-0042" },
  bob: { email: "bob@corp.example", email_verified: false, name: "Bob" },
  carol: { email: "carol@corp.example", email_verified: true, name: "Carol" },
  dave: { email: "dave@corp.example", email_verified: true, name: "Dave" },
};

const provider = (extra = {}) => ({
  id: "corp", type: "oidc", name: "Corp SSO", issuer: up.issuer, client_id: "edgeauth", client_secret: secret,
  scopes: ["openid", "email", "profile", "crm"], ...extra,
});

async function providers(ws, list, tenant = "acme") {
  const r = await t.admin("PUT", `/admin/tenants/${tenant}/workspaces/${ws}/identity-providers`, { version: 1, providers: list });
  assert.equal(r.status, 200, r.text);
}

function authorizeUrl(ws, params = {}, tenant = "acme") {
  const { verifier, challenge } = pkce();
  const u = new URL(`${base}/${tenant}/${ws}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "rp", redirect_uri: RP, scope: "openid email profile crm", code_challenge: challenge, code_challenge_method: "S256", nonce: "n-1", ...params })) u.searchParams.set(k, v);
  return { url: u.toString(), verifier };
}

/** Follows redirects (ours, the provider's) until one goes to the client or a page is shown. */
async function follow(agent, url, init) {
  let r = await agent.request(url, init);
  for (let i = 0; i < 12 && [302, 303].includes(r.status); i++) {
    const next = new URL(r.headers.get("location"), url).toString();
    if (next.startsWith(RP)) return { r, location: new URL(next) };
    url = next;
    r = await agent.request(url);
  }
  return { r, location: null };
}

/** A whole federated sign-in as `user` at the provider; returns where the client was sent. */
async function signIn(ws, user, { agent = new Agent(), params = {} } = {}) {
  up.setUser(user);
  const { url, verifier } = authorizeUrl(ws, { idp_hint: "corp", ...params });
  const out = await follow(agent, url);
  return { ...out, verifier, agent };
}

async function tokens(ws, location, verifier) {
  const code = location.searchParams.get("code");
  assert.ok(code, `no code: ${location}`);
  const r = await form(`${base}/acme/${ws}/token`, { grant_type: "authorization_code", code, redirect_uri: RP, code_verifier: verifier }, { authorization: basic("rp", rpSecret[ws]) });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const context = {
  authn_context: { attributes: [{ name: "crm_id", type: "string", description: "The CRM's customer number" }] },
  claims: [
    { claim: "crm_id", attribute: "crm_id", scopes: ["crm"], id_token: true, userinfo: true },
    { claim: "authenticated_at", attribute: "auth_time", access_token: true },
    { claim: "idp", attribute: "idp", access_token: true },
  ],
  scopes: {
    openid: { description: "Sign you in" }, email: { claims: ["email", "email_verified"] }, profile: { claims: ["name", "preferred_username"] }, crm: { description: "Your CRM number" },
  },
};
const crmAttributes = [{ name: "crm_id", type: "string", description: "The CRM's customer number, as crm-NNNN" }];
const crmMappings = [
  { source: "email", target: "email", transform: { type: "lowercase" } },
  { source: "email_verified", target: "email_verified" },
  { source: "name", target: "name" },
  { source: "preferred_username", target: "preferred_username" },
  { source: "crm_id", target: "crm_id", transform: { type: "regex_extract", pattern: "^crm-(\\d+)$", group: 1 } },
];

before(async () => {
  t = await startTarget();
  base = t.base;
  secret = "upstream-secret-0123456789abcdef";
  up = await startUpstream({
    accounts,
    clients: [{ client_id: "edgeauth", client_secret: secret, redirect_uris: [...WORKSPACES.map((w) => `${base}/acme/${w}/idp/callback`), `${base}/system/system/idp/callback`] }],
  });
  for (const ws of WORKSPACES) {
    await t.workspace("acme", ws, ws === "solo" ? { ...context, login: { password_enabled: false } } : context);
    rpSecret[ws] = (await t.client("acme", ws, { client_id: "rp", redirect_uris: [RP], grant_types: ["authorization_code"], scope: "openid email profile crm", skip_consent: true })).client_secret;
  }
  await providers("fed", [
    provider({ domains: ["corp.example"], attributes: crmAttributes, mappings: crmMappings, order: 1 }),
    provider({ id: "partner", name: "Partner", order: 2 }),
  ]);
  await providers("solo", [provider({ attributes: crmAttributes, mappings: crmMappings })]);
  await providers("jit", [provider({ attributes: crmAttributes, mappings: crmMappings, provisioning: { mode: "auto", match_by: ["email"], update: "overwrite" } })]);
  await providers("manual", [provider({ provisioning: { mode: "manual" } })]);
  await providers("brief", [provider({ session_ttl: 0 })]);
  // The same upstream as a plain OAuth 2.0 provider (the GitHub style): its endpoints configured,
  // no ID token read, the user from its user endpoint.
  await providers("plain", [{
    id: "corp", type: "oauth2", name: "Corp OAuth", client_id: "edgeauth", client_secret: secret, scopes: ["openid", "email", "profile"],
    authorization_endpoint: `${up.issuer}/auth`, token_endpoint: `${up.issuer}/token`, userinfo_endpoint: `${up.issuer}/me`, subject_attribute: "sub",
    attributes: [{ name: "preferred_username", type: "string" }],
    mappings: [{ source: "email", target: "email", transform: { type: "lowercase" } }, { source: "preferred_username", target: "preferred_username" }],
    provisioning: { mode: "auto" },
  }]);
  // Another workspace of the tenant as the provider: its users sign in there, with its password form.
  await t.workspace("acme", "staff", { name: "Staff directory" });
  await t.user("acme", "staff", { username: "erin", password: "a-long-password-1", claims: { email: "erin@staff.example", email_verified: true, name: "Erin" } });
  await providers("portal", [{ id: "staff", type: "workspace", name: "Staff", workspace: "staff" }]);
  sys = await systemClient(t, { client_id: "ops" });
});
after(async () => {
  await t?.stop();
  await up?.stop();
});

test("the sign-in page lists the enabled providers beside the password form", async () => {
  const agent = new Agent();
  const r = await agent.request(authorizeUrl("fed").url);
  assert.equal(r.status, 200);
  assert.match(r.text_, /name="idp" value="corp"[^>]*>Sign in with Corp SSO/);
  assert.match(r.text_, /name="idp" value="partner"/);
  assert.match(r.text_, /name="password"/);
  assert.ok(r.text_.indexOf('value="corp"') < r.text_.indexOf('value="partner"'), "in order");
});

test("choosing a provider signs in there; claims come from the context by the data lineage", async () => {
  const agent = new Agent();
  up.setUser("alice");
  const { url, verifier } = authorizeUrl("fed");
  const page = await agent.request(url);
  const interaction = page.text_.match(/name="interaction" value="([^"]*)"/)[1];
  const { location } = await follow(agent, `${base}/acme/fed/idp/start`, { method: "POST", form: { interaction, idp: "corp" } });
  assert.ok(location, "back at the client");
  assert.equal(location.searchParams.get("iss"), `${base}/acme/fed`);
  const tk = await tokens("fed", location, verifier);
  const id = decodeJwt(tk.id_token).payload;
  assert.match(id.sub, /^x-corp-/, "JIT off: a subject derived from the provider's");
  assert.equal(id.email, "alice@corp.example", "lower-cased by the mapping");
  assert.equal(id.crm_id, "0042", "the custom attribute, extracted, as an ID token claim");
  assert.equal(id.name, "Alice Liddell");
  assert.equal(id.nonce, "n-1");
  assert.equal(id.acr, "urn:edgeauth:acr:federated");
  const at = decodeJwt(tk.access_token).payload;
  assert.equal(at.authenticated_at, id.auth_time, "auth_time mapped into the access token (AUT-6868)");
  assert.equal(at.auth_time, id.auth_time);
  assert.equal(at.idp, "corp");
  const ui = await fetch(`${base}/acme/fed/userinfo`, { headers: { authorization: `Bearer ${tk.access_token}` } });
  assert.equal(ui.status, 200);
  const info = await ui.json();
  assert.equal(info.sub, id.sub);
  assert.equal(info.crm_id, "0042", "and as a userinfo claim");
  const users = await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/fed/users");
  assert.deepEqual(users.json.items, [], "JIT off writes no user");
});

test("with one provider and no password form the browser goes straight to it", async () => {
  const r = await new Agent().request(authorizeUrl("solo").url);
  assert.equal(r.status, 303);
  const to = new URL(r.headers.get("location"));
  assert.equal(to.origin + to.pathname, `${up.issuer}/auth`);
  assert.equal(to.searchParams.get("code_challenge_method"), "S256");
  assert.ok(to.searchParams.get("nonce") && to.searchParams.get("state"));
  assert.equal(to.searchParams.get("redirect_uri"), `${base}/acme/solo/idp/callback`);
  assert.match(r.headers.get("set-cookie") ?? "", /ea_fed=[^;]+;.*SameSite=Lax/);
});

test("idp_hint and the login_hint's email domain skip the selection page", async () => {
  const hinted = await new Agent().request(authorizeUrl("fed", { idp_hint: "partner" }).url);
  assert.equal(hinted.status, 303);
  assert.ok(hinted.headers.get("location").startsWith(`${up.issuer}/auth?`));
  const domain = await new Agent().request(authorizeUrl("fed", { login_hint: "someone@corp.example" }).url);
  assert.equal(domain.status, 303);
  assert.equal(new URL(domain.headers.get("location")).searchParams.get("login_hint"), "someone@corp.example");
  const other = await new Agent().request(authorizeUrl("fed", { login_hint: "someone@else.example" }).url);
  assert.equal(other.status, 200, "another domain: the page");
  const unknown = await new Agent().request(authorizeUrl("fed", { idp_hint: "nobody" }).url);
  assert.equal(unknown.status, 200, "an unknown hint: the page");
});

test("SSO: a second authorization in the session issues tokens with no call to the provider", async () => {
  const first = await signIn("solo", "alice");
  assert.ok(first.location);
  const before = up.calls();
  const again = await signIn("solo", "alice", { agent: first.agent });
  assert.ok(again.location, "a code again");
  assert.equal(up.calls(), before, "no request to the provider");
  const tk = await tokens("solo", again.location, again.verifier);
  assert.equal(decodeJwt(tk.id_token).payload.crm_id, "0042", "the session kept the context");
});

test("JIT auto: the first sign-in creates a user, later ones find it by its link", async () => {
  const first = await signIn("jit", "carol");
  const a = decodeJwt((await tokens("jit", first.location, first.verifier)).id_token).payload;
  assert.doesNotMatch(a.sub, /^x-/, "a local user");
  const second = await signIn("jit", "carol");
  const b = decodeJwt((await tokens("jit", second.location, second.verifier)).id_token).payload;
  assert.equal(b.sub, a.sub, "the same user, by its link");
  const user = await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/jit/users/${a.sub}`);
  assert.equal(user.status, 200, user.text);
  assert.equal(user.json.claims.email, "carol@corp.example", "the mapped attributes, kept on the user");
  assert.equal(user.json.claims.crm_id, undefined, "only the attributes provisioning keeps");
  assert.equal(user.json.has_password, false);
  assert.equal(user.json.created_by, "provisioned");
  assert.equal(user.json.last_idp, "corp");
  assert.equal(user.json.last_auth_at, b.auth_time, "the last authentication, recorded with the grant");
  const ids = await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/jit/users/${a.sub}/identities`);
  assert.deepEqual(ids.json.items.map((l) => [l.idp, l.subject]), [["corp", "carol"]]);
});

test("JIT: a verified email links an existing user; an unverified one never does; an ambiguous match is refused", async () => {
  const existing = await t.user("acme", "jit", { username: "alice-local", password: "a-long-password-1", claims: { email: "alice@corp.example", email_verified: true } });
  const linked = await signIn("jit", "alice");
  const a = decodeJwt((await tokens("jit", linked.location, linked.verifier)).id_token).payload;
  assert.equal(a.sub, existing.id, "matched by the verified email");

  const bobLocal = await t.user("acme", "jit", { username: "bob-local", password: "a-long-password-1", claims: { email: "bob@corp.example", email_verified: true } });
  const bob = await signIn("jit", "bob");
  const b = decodeJwt((await tokens("jit", bob.location, bob.verifier)).id_token).payload;
  assert.notEqual(b.sub, bobLocal.id, "the provider did not verify bob's email: no link, a new user");

  await t.user("acme", "jit", { username: "dave-1", password: "a-long-password-1", claims: { email: "dave@corp.example" } });
  await t.user("acme", "jit", { username: "dave-2", password: "a-long-password-1", claims: { email: "DAVE@corp.example" } });
  const dave = await signIn("jit", "dave");
  assert.equal(dave.location?.searchParams.get("error"), "access_denied", "two users have that email");
  assert.ok(!dave.location.searchParams.get("code"));
});

test("JIT manual: the user is created pending, sees a page saying so, and signs in once activated", async () => {
  const pending = await signIn("manual", "alice");
  assert.equal(pending.location, null);
  assert.equal(pending.r.status, 403);
  assert.match(pending.r.text_, /awaits activation/);
  assert.ok(sys, "a management client");
  const list = await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/manual/users");
  const user = list.json.items.find((u) => u.claims?.email === "Alice@Corp.example" || u.username === "alice");
  assert.ok(user, JSON.stringify(list.json));
  assert.equal(user.pending, true);
  assert.equal(user.created_by, "provisioned");
  const again = await signIn("manual", "alice");
  assert.equal(again.r.status, 403, "still pending");
  const act = await api(t, sys.token, "POST", `/api/tenants/acme/workspaces/manual/users/${user.id}/activate`);
  assert.equal(act.status, 200, act.text);
  const active = await signIn("manual", "alice");
  const id = decodeJwt((await tokens("manual", active.location, active.verifier)).id_token).payload;
  assert.equal(id.sub, user.id);
  const ids = await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/manual/users/${user.id}/identities`);
  assert.equal(ids.json.items[0].idp, "corp");
});

test("a provider that is down, slow or sends a bad ID token: an RFC 6749 error to the client, never a 5xx", async () => {
  await providers("broken", [provider(), provider({ id: "gone", name: "Gone", issuer: "http://127.0.0.1:9" })]);
  const down = await signIn("broken", "alice", { params: { idp_hint: "gone" } });
  assert.equal(down.location?.searchParams.get("error"), "temporarily_unavailable", "discovery fails");
  assert.equal(down.location.searchParams.get("state"), null);
  for (const [mode, error] of [["slow", "temporarily_unavailable"], ["bad-signature", "access_denied"], ["bad-nonce", "access_denied"], ["bad-issuer", "access_denied"], ["bad-audience", "access_denied"]]) {
    up.setMode(mode);
    try {
      const r = await signIn("broken", "alice", { params: { idp_hint: "corp", state: "s-1" } });
      assert.equal(r.location?.searchParams.get("error"), error, mode);
      assert.equal(r.location.searchParams.get("state"), "s-1", mode);
      assert.ok(!r.location.searchParams.get("code"), mode);
    } finally {
      up.setMode("normal");
    }
  }
});

test("the callback refuses a tampered state, a replay, and another browser", async () => {
  up.setUser("alice");
  const agent = new Agent();
  let r = await agent.request(authorizeUrl("solo").url);
  let url = new URL(r.headers.get("location"));
  // Through the provider, up to the redirect back to our callback.
  for (let i = 0; i < 8; i++) {
    r = await agent.request(url.toString());
    url = new URL(r.headers.get("location"), url);
    if (url.pathname.endsWith("/idp/callback")) break;
  }
  assert.ok(url.pathname.endsWith("/idp/callback"), url.toString());
  const tampered = new URL(url);
  const s = tampered.searchParams.get("state");
  tampered.searchParams.set("state", s.slice(0, 20) + (s[20] === "A" ? "B" : "A") + s.slice(21));
  const bad = await agent.request(tampered.toString());
  assert.equal(bad.status, 400);
  assert.match(bad.text_, /<code>invalid_request<\/code>/);
  const stranger = await new Agent().request(url.toString());
  assert.equal(stranger.status, 403, "not started in this browser");
  assert.match(stranger.text_, /<code>access_denied<\/code>/);
  assert.ok(!stranger.headers.getSetCookie().some((c) => c.startsWith("ea_session=")), "no session for the stranger");
  const binding = agent.cookies.get("ea_fed");
  const ok = await agent.request(url.toString());
  assert.equal(ok.status, 303);
  assert.ok(new URL(ok.headers.get("location")).searchParams.get("code"));
  assert.ok(!agent.cookies.has("ea_fed"), "the binding cookie is cleared");
  agent.cookies.set("ea_fed", binding);
  const replay = await agent.request(url.toString());
  assert.equal(replay.status, 400, "single use, even with the cookie");
  assert.match(replay.text_, /already completed/);
  assert.ok(!replay.headers.getSetCookie().some((c) => c.startsWith("ea_session=")), "a replay starts no session");
  assert.doesNotMatch(replay.text_, /code=/);
});

/** A cookie jar that keeps cookies per path, as browsers do (each workspace has its own `ea_session`). */
class PathAgent extends Agent {
  constructor() { super(); this.jar = new Map(); }
  async request(url, { method = "GET", form, headers = {} } = {}) {
    const path = new URL(url).pathname;
    const h = { ...headers };
    const send = [...this.jar].filter(([k]) => path.startsWith(k.split("|")[0])).map(([k, v]) => `${k.split("|")[1]}=${v}`);
    if (send.length) h.cookie = send.join("; ");
    let body;
    if (form) { h["content-type"] = "application/x-www-form-urlencoded"; body = new URLSearchParams(form).toString(); }
    const r = await fetch(url, { method, headers: h, body, redirect: "manual" });
    for (const c of r.headers.getSetCookie()) {
      const { name, value, path: p, expired } = parseSetCookie(c);
      if (expired) this.jar.delete(`${p}|${name}`); else this.jar.set(`${p}|${name}`, value);
    }
    r.text_ = await r.text();
    return r;
  }
}

test("another workspace as the provider: its password form, its consent, its real amr, no network hop", async () => {
  const agent = new PathAgent();
  const { url, verifier } = authorizeUrl("portal", { idp_hint: "staff" });
  let r = await agent.request(url);
  assert.equal(r.status, 303);
  const out = new URL(r.headers.get("location"));
  assert.equal(out.pathname, "/acme/staff/authorize");
  assert.equal(out.searchParams.get("client_id"), "workspace:portal");
  r = await agent.request(out.toString());
  assert.match(r.text_, /name="password"/, `the staff workspace own sign-in page: ${r.status} ${r.headers.get("location")}`);
  const interaction = hidden(r.text_, "interaction");
  r = await agent.request(`${base}/acme/staff/login`, { method: "POST", form: { interaction, username: "erin", password: "a-long-password-1" } });
  assert.match(r.text_, /Staff directory|portal/, "the consent page names the workspace asking");
  r = await agent.request(`${base}/acme/staff/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  assert.equal(r.status, 303);
  const back = new URL(r.headers.get("location"));
  assert.equal(back.pathname, "/acme/portal/idp/callback");
  assert.equal(back.searchParams.get("iss"), `${base}/acme/staff`);
  const { location } = await follow(agent, back.toString());
  assert.ok(location?.searchParams.get("code"), String(location));
  const id = decodeJwt((await tokens("portal", location, verifier)).id_token).payload;
  assert.match(id.sub, /^x-staff-/);
  assert.equal(id.email, "erin@staff.example");
  assert.deepEqual(id.amr, ["pwd"], "the real amr of the sign-in at the other workspace");
  assert.equal(id.iss, `${base}/acme/portal`);

  // The other workspace's session answers the next sign-in: no page at all.
  const again = authorizeUrl("portal", { idp_hint: "staff" });
  const second = await follow(new PathAgentFrom(agent, "/acme/staff"), again.url);
  assert.ok(second.location?.searchParams.get("code"), "straight through the staff session and its remembered consent");

  // The virtual client exists only for this: the other workspace's token endpoint does not know it.
  const direct = await form(`${base}/acme/staff/token`, { grant_type: "authorization_code", code: "x", redirect_uri: `${base}/acme/portal/idp/callback`, client_id: "workspace:portal", code_verifier: "x".repeat(43) });
  assert.equal(direct.json?.error, "invalid_client");
  // And a workspace that names no such provider gets no client at all.
  const stranger = await new Agent().request(`${base}/acme/staff/authorize?response_type=code&client_id=workspace:fed&redirect_uri=${encodeURIComponent(`${base}/acme/fed/idp/callback`)}&scope=openid&code_challenge=${"a".repeat(43)}&code_challenge_method=S256`);
  assert.equal(stranger.status, 400);
});

/** A fresh jar holding only `agent`'s cookies under `prefix` (a new browser session at the portal). */
function PathAgentFrom(agent, prefix) {
  const a = new PathAgent();
  for (const [k, v] of agent.jar) if (k.startsWith(prefix)) a.jar.set(k, v);
  return a;
}

test("JIT into the administrators' pool grants the configured roles (AUT-9331)", async () => {
  await providers("system", [provider({ provisioning: { mode: "auto", admin_roles: [{ tenant: "acme", workspace: "fed", role: "manager" }] } })], "system");
  const console_ = await t.client("system", "system", { client_id: "console", redirect_uris: [RP], grant_types: ["authorization_code"], scope: "openid", skip_consent: true });
  up.setUser("carol");
  const { url, verifier } = authorizeUrl("system", { idp_hint: "corp", scope: "openid", client_id: "console" }, "system");
  const { location } = await follow(new Agent(), url);
  assert.ok(location?.searchParams.get("code"), String(location));
  const r = await form(`${base}/system/system/token`, { grant_type: "authorization_code", code: location.searchParams.get("code"), redirect_uri: RP, code_verifier: verifier }, { authorization: basic("console", console_.client_secret) });
  assert.equal(r.status, 200, r.text);
  const person = r.json.access_token;
  const admins = await api(t, sys.token, "GET", "/api/tenants/acme/workspaces/fed/administrators");
  const me = admins.json.items.find((a) => a.user_id === decodeJwt(person).payload.sub);
  assert.equal(me?.role, "manager", JSON.stringify(admins.json));
  // The provisioned administrator uses the role: users yes (manager), the configuration no.
  assert.equal((await api(t, person, "GET", "/api/tenants/acme/workspaces/fed/users")).status, 200);
  assert.equal((await api(t, person, "GET", "/api/tenants/acme/workspaces/fed/config")).status, 403);
  assert.equal((await api(t, person, "GET", "/api/tenants/acme/workspaces/jit/users")).status, 403, "no role elsewhere");
});

test("a provider may allow no session: every authorization goes back to it; a password sign-in records its last authentication", async () => {
  const agent = new Agent();
  const first = await signIn("brief", "alice", { agent });
  assert.ok(first.location?.searchParams.get("code"));
  assert.ok(!agent.cookies.has("ea_session"), "no session cookie");
  const before = up.calls();
  const again = await signIn("brief", "alice", { agent });
  assert.ok(again.location?.searchParams.get("code"));
  assert.ok(up.calls() > before, "back to the provider");

  const ada = await t.user("acme", "brief", { username: "ada", password: "a-long-password-1", claims: { email: "ada@example.com" } });
  const pw = new Agent();
  const { url } = authorizeUrl("brief");
  const page = await pw.request(url);
  const r = await pw.request(`${base}/acme/brief/login`, { method: "POST", form: { interaction: hidden(page.text_, "interaction"), username: "ada", password: "a-long-password-1" } });
  assert.equal(r.status, 303, r.text_);
  const user = await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/brief/users/${ada.id}`);
  assert.equal(user.json.last_idp, "pool");
  assert.equal(user.json.created_by, "administrator");
  assert.ok(Math.abs(user.json.last_auth_at - Date.now() / 1000) < 120, JSON.stringify(user.json));
});

test("an OAuth 2.0 provider: its user endpoint names the user; no nonce, no ID token", async () => {
  const before = up.hits["/me"] ?? 0;
  const { url, verifier } = authorizeUrl("plain", { idp_hint: "corp" });
  const agent = new Agent();
  const first = await agent.request(url);
  const out = new URL(first.headers.get("location"));
  assert.equal(out.searchParams.get("nonce"), null, "no nonce for a plain OAuth 2.0 provider");
  up.setUser("alice");
  const { location } = await follow(agent, out.toString());
  const id = decodeJwt((await tokens("plain", location, verifier)).id_token).payload;
  assert.equal(id.email, "alice@corp.example");
  assert.equal(id.preferred_username, "alice");
  assert.doesNotMatch(id.sub, /^x-/, "provisioned");
  assert.equal(up.hits["/me"], before + 1, "one call to the user endpoint");
});

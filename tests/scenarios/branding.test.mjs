// The pages' looks: a workspace's branding through the management API (checked on save: colours,
// URLs, sizes, the logo's bytes), on every page of the workspace (name, logo, colours, stylesheet,
// links; escaped; the CSP widened by exactly its files), its files served, and the application
// named on the sign-in and consent pages from its RFC 7591 metadata (https only, escaped, also
// through dynamic registration). Nothing of one workspace's branding shows in another's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startManaged, api, assertProblem } from "../support/management.mjs";
import { Agent, hidden, pkce } from "../support/target.mjs";
import { PNG } from "../support/images.mjs";

const REDIRECT = "https://rp.example/cb";
const USER = { username: "ada", password: "correct horse battery" };
const B = (w = "main") => `/api/tenants/acme/workspaces/${w}/branding`;


let t, call, sys;

before(async () => {
  ({ t, sys, call } = await startManaged({ tenants: ["acme"], workspaces: { acme: ["main", "plain"] } }));
  for (const w of ["main", "plain"]) {
    await call("POST", `/api/tenants/acme/workspaces/${w}/clients`, {
      client_id: "budget",
      client_name: "Budget <b>Planner</b>",
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
      scope: "openid profile",
      logo_uri: "https://cdn.rp.example/logo.png",
      client_uri: "https://rp.example/",
      policy_uri: "https://rp.example/privacy",
      tos_uri: "https://rp.example/terms",
    });
    await call("POST", `/api/tenants/acme/workspaces/${w}/users`, USER);
  }
});
after(() => t.stop());

const upload = (body, contentType = "image/png", w = "main") =>
  fetch(`${t.base}${B(w)}/logo`, { method: "PUT", headers: { authorization: `Bearer ${sys.token}`, "content-type": contentType }, body }).then(async (r) => {
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch {}
    return { status: r.status, json, text, headers: r.headers };
  });

/** The sign-in page of `w` for the budget client, and the agent holding its cookies. */
async function signInPage(w = "main", params = {}) {
  const agent = new Agent();
  const q = new URLSearchParams({ response_type: "code", client_id: "budget", redirect_uri: REDIRECT, scope: "openid profile", state: "s", code_challenge: pkce().challenge, code_challenge_method: "S256", ...params });
  const r = await agent.request(`${t.base}/acme/${w}/authorize?${q}`);
  assert.equal(r.status, 200, r.text_);
  return { agent, r, html: r.text_ };
}

test("branding is checked on save: colours, URLs, sizes and unknown members are refused with the field named, and nothing is stored", async () => {
  const bad = [
    [{ primary_color: "red" }, "primary_color"],
    [{ background_color: "#12345" }, "background_color"],
    [{ logo_uri: "javascript:alert(1)" }, "logo_uri"],
    [{ terms_uri: "http://acme.example/terms" }, "terms_uri"],
    [{ privacy_uri: "https://user:pw@acme.example/p" }, "privacy_uri"],
    [{ display_name: "x".repeat(101) }, "display_name"],
    [{ custom_css: "a".repeat(16 * 1024 + 1) }, "custom_css"],
  ];
  for (const [body, field] of bad) {
    const r = await api(t, sys.token, "PUT", B(), body);
    assertProblem(assert, r, 400, "invalid-configuration");
    assert.match(r.json.detail, new RegExp(field), r.text);
  }
  const unknown = await api(t, sys.token, "PUT", B(), { colour: "#fff" });
  assertProblem(assert, unknown, 400, "invalid-configuration");
  assert.match(unknown.json.detail, /colour/);
  assert.deepEqual((await api(t, sys.token, "GET", B())).json, {});
  // Without the scope, or for an unknown workspace: nothing.
  assertProblem(assert, await api(t, null, "PUT", B(), { display_name: "x" }), 401, "unauthorized");
  assertProblem(assert, await api(t, sys.token, "PUT", "/api/tenants/acme/workspaces/nope/branding", { display_name: "x" }), 404, "not-found");
});

test("a logo upload must be a small image whose bytes match its type", async () => {
  assertProblem(assert, await upload(Buffer.from("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"), "image/svg+xml"), 415, "unsupported-media-type");
  const lying = await upload(Buffer.from("<html><script>alert(1)</script>"), "image/png");
  assertProblem(assert, lying, 400, "invalid-configuration");
  assert.match(lying.json.detail, /logo/);
  assertProblem(assert, await upload(Buffer.concat([PNG, Buffer.alloc(48 * 1024)])), 413, "payload-too-large");
  assert.equal((await fetch(`${t.base}/acme/main/branding/logo`)).status, 404, "nothing was stored");
  assertProblem(assert, await api(t, sys.token, "DELETE", `${B()}/logo`), 404, "not-found");
  assert.deepEqual((await api(t, sys.token, "GET", B())).json, {}, "the branding holds no logo");
});

test("the sign-in page names the application from its metadata, with its logo and links, and the CSP allows that logo's origin only", async () => {
  const { r, html } = await signInPage("plain");
  assert.match(html, /to continue to <strong class="app-name"><a href="https:\/\/rp.example\/">Budget &lt;b&gt;Planner&lt;\/b&gt;<\/a><\/strong>/);
  assert.ok(!html.includes("<b>Planner"), "the client's name is escaped");
  assert.ok(html.includes('<img class="app-logo" src="https://cdn.rp.example/logo.png" alt="">'));
  assert.ok(html.includes('<a href="https://rp.example/privacy">Privacy policy of Budget &lt;b&gt;Planner&lt;/b&gt;</a>'));
  assert.ok(html.includes('<a href="https://rp.example/terms">Terms of service of Budget'));
  assert.match(r.headers.get("content-security-policy"), /img-src https:\/\/cdn\.rp\.example;/);
  // No branding in this workspace: no header, no stylesheet, no other image source.
  assert.ok(!html.includes('class="brand"') && !html.includes("branding.css"));
  assert.ok(!/img-src[^;]*branding/.test(r.headers.get("content-security-policy")));
  // In Portuguese.
  const pt = await signInPage("plain", { ui_locales: "pt-BR" });
  assert.ok(pt.html.includes("para continuar em <strong") && pt.html.includes("Política de privacidade de Budget"));
});

test("client URIs must be https, through the management API and dynamic registration alike", async () => {
  for (const [member, value] of [["logo_uri", "javascript:alert(1)"], ["client_uri", "data:text/html,x"], ["policy_uri", "http://rp.example/p"], ["tos_uri", "https://rp.example/t#frag"]]) {
    const r = await api(t, sys.token, "POST", "/api/tenants/acme/workspaces/plain/clients", { client_id: `bad-${member}`, redirect_uris: [REDIRECT], [member]: value });
    assert.equal(r.status, 400, `${member}: ${r.text}`);
    assert.match(r.text, new RegExp(member));
    assert.equal((await api(t, sys.token, "GET", `/api/tenants/acme/workspaces/plain/clients/bad-${member}`)).status, 404, "nothing was written");
  }
  await call("PUT", "/api/tenants/acme/workspaces/plain/config", { dcr: { enabled: true, initial_access_token_required: false } });
  const reg = (body) => fetch(`${t.base}/acme/plain/fdx/dcr/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const bad = await reg({ redirect_uris: [REDIRECT], logo_uri: "javascript:alert(1)" });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, "invalid_client_metadata");
  const ok = await reg({ redirect_uris: [REDIRECT], client_name: "Registered", logo_uri: "https://reg.example/l.png", tos_uri: "https://reg.example/tos" });
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
  assert.equal(ok.json.logo_uri, "https://reg.example/l.png");
  assert.equal(ok.json.tos_uri, "https://reg.example/tos");
});

test("a workspace's branding is on its pages: name, logo, colours, stylesheet and links, escaped, with the CSP widened by exactly its files", async () => {
  const saved = await call("PUT", B(), {
    display_name: "Acme <i>Bank</i>",
    primary_color: "#FFD700",
    background_color: "#102030",
    custom_css: "main{border-width:3px}",
    terms_uri: "https://acme.example/terms?x=\"><script>",
    privacy_uri: "https://acme.example/privacy",
    logo_uri: "https://static.acme.example/logo.png",
  });
  assert.equal(saved.primary_color, "#ffd700", "colours are stored normalised");
  const { r, html } = await signInPage();
  assert.ok(html.includes('<header class="brand"><img class="brand-logo" src="https://static.acme.example/logo.png" alt=""><span class="brand-name">Acme &lt;i&gt;Bank&lt;/i&gt;</span></header>'), html);
  // A light primary colour gets black button text; it is too light to be the focus ring.
  assert.ok(html.includes("--primary:#ffd700;--on-primary:#000000;--background:#102030;--on-background:#ffffff;") && !html.includes("--focus:"));
  assert.ok(!html.includes("<script>") && html.includes("terms?x=&quot;&gt;&lt;script&gt;"));
  const css = html.match(/<link rel="stylesheet" href="([^"]+)">/)[1];
  assert.ok(css.startsWith(`${t.base}/acme/main/branding.css?v=`));
  const csp = r.headers.get("content-security-policy");
  assert.ok(csp.includes(`style-src 'unsafe-inline' ${t.base}/acme/main/branding.css`), csp);
  assert.ok(csp.includes("img-src https://cdn.rp.example https://static.acme.example;") || csp.includes("img-src https://static.acme.example https://cdn.rp.example;"), csp);
  assert.ok(!/script-src|font-src|connect-src/.test(csp), csp);
  // The stylesheet as saved, as CSS.
  const sheet = await fetch(css);
  assert.equal(sheet.status, 200);
  assert.match(sheet.headers.get("content-type"), /^text\/css/);
  assert.equal(await sheet.text(), "main{border-width:3px}");
  // Every page carries it: the error page too (an unknown client), in Portuguese.
  const err = await new Agent().request(`${t.base}/acme/main/authorize?response_type=code&client_id=nobody&redirect_uri=${encodeURIComponent(REDIRECT)}&ui_locales=pt-BR`);
  assert.equal(err.status, 400);
  assert.ok(err.text_.includes("Acme &lt;i&gt;Bank") && err.text_.includes(">Termos de uso</a>") && err.text_.includes(">Política de privacidade</a>"), err.text_);
  // Another workspace of the tenant shows none of it.
  const plain = await signInPage("plain");
  assert.ok(!plain.html.includes("Acme") && !plain.html.includes("--primary:"));
  assert.equal((await fetch(`${t.base}/acme/plain/branding.css`)).status, 404);
});

test("an uploaded logo is served as an image, versioned on the pages, and replaces the logo URL; deleting the branding removes both", async () => {
  const up = await upload(PNG);
  assert.equal(up.status, 200, JSON.stringify(up.json));
  assert.equal(up.json.logo.content_type, "image/png");
  assert.equal(up.json.logo.bytes, PNG.length);
  // A branding update keeps the upload (a logo in the body is the server's and ignored).
  const kept = await call("PUT", B(), { display_name: "Acme Bank", logo: { content_type: "image/gif", bytes: 1, version: "x" } });
  assert.deepEqual(kept.logo, up.json.logo);
  const served = await fetch(`${t.base}/acme/main/branding/logo`);
  assert.equal(served.status, 200);
  assert.equal(served.headers.get("content-type"), "image/png");
  assert.equal(served.headers.get("x-content-type-options"), "nosniff");
  assert.match(served.headers.get("content-security-policy"), /sandbox/);
  assert.deepEqual(Buffer.from(await served.arrayBuffer()), PNG);
  const { r, html } = await signInPage();
  assert.ok(html.includes(`src="${t.base}/acme/main/branding/logo?v=${up.json.logo.version}" alt=""`), html);
  assert.ok(r.headers.get("content-security-policy").includes(`img-src https://cdn.rp.example ${t.base}/acme/main/branding/logo`), r.headers.get("content-security-policy"));
  assert.ok(!html.includes("static.acme.example"));
  assert.equal((await api(t, sys.token, "DELETE", B())).status, 204);
  assert.equal((await fetch(`${t.base}/acme/main/branding/logo`)).status, 404);
  assert.deepEqual((await api(t, sys.token, "GET", B())).json, {});
  assert.ok(!(await signInPage()).html.includes('class="brand"'));
});

test("the consent page names the application and carries the branding", async () => {
  await call("PUT", B(), { display_name: "Acme Bank" });
  const { agent, html } = await signInPage();
  const r = await agent.request(`${t.base}/acme/main/login`, { method: "POST", form: { interaction: hidden(html, "interaction"), ...USER } });
  assert.equal(r.status, 200, r.text_);
  assert.ok(r.text_.includes('<strong class="app-name"><a href="https://rp.example/">Budget &lt;b&gt;Planner&lt;/b&gt;</a></strong> wants to access your account'), r.text_);
  assert.ok(r.text_.includes('<span class="brand-name">Acme Bank</span>') && r.text_.includes("Terms of service of Budget"));
  assert.match(r.headers.get("content-security-policy"), /img-src https:\/\/cdn\.rp\.example/);
});

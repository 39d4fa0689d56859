// Accessibility (issue 21 §7): axe-core on every page a user can see (the sign-in page with an
// identity provider's button, the passkey button and the code sign-in), in English and Brazilian
// Portuguese, with JavaScript on and off, failing on any serious or critical violation; and a
// sign-in with the keyboard only, focus visible at each step. The workspace is branded (name, logo,
// colours, links) and the client has its own links, so all of that is checked too. Screenshots of every page land in
// tests/.artifacts/a11y/ (git-ignored). One browser, one workspace, two users.
//
// To check a new page, add one line to WALK (a name and the steps that reach it from the page
// before); the walk runs once per locale and JavaScript setting.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTarget, pkce, Agent, hidden } from "../support/target.mjs";
import { startRelyingParty } from "../support/relying-party.mjs";
import { totp } from "../support/totp.mjs";
import { checkPage, describe } from "../support/axe.mjs";
import { startEmailSink } from "../support/email-sink.mjs";
import { systemClient } from "../support/management.mjs";
import { PNG } from "../support/images.mjs";

const PASSWORD = "correct horse battery";
let t, issuer, browser, rp, scratchContext, scratch, sink;
let signUps = 0; // each walk signs up a new address (one code per address every 30 s)
const everything = []; // every violation seen, failing or not, printed at the end

before(async () => {
  rp = await startRelyingParty();
  t = await startTarget({ extensionHosts: "127.0.0.1" });
  sink = await startEmailSink();
  issuer = await t.workspace("a11y", "main", {
    // Passkeys (their button and the offer page), an authenticator app (the code sign-in button,
    // the set-up page, the step-up page), sign-up and password reset (their forms and code pages,
    // codes to a loopback mail relay); a high account limit, as each walk fails once on purpose.
    login: {
      aal: "NIST-AAL-1", passkeys: { enabled: true }, totp: { enabled: true, first_factor: true },
      email_codes: { enabled: true, webhook_url: sink.url() }, self_service: { sign_up: true, password_reset: true },
    },
    throttle: { account_max_failures: 100, address_max_failures: 1000 },
  });
  // An identity provider, so the sign-in page shows its button (never pressed here).
  const idp = { id: "gh", type: "oauth2", name: "GitHub", authorization_endpoint: "https://github.example/login/oauth/authorize", token_endpoint: "https://github.example/login/oauth/access_token", userinfo_endpoint: "https://api.github.example/user", subject_attribute: "id", client_id: "gh-app", client_secret: "gh-secret-abcdef", token_endpoint_auth_method: "client_secret_post" };
  const put = await t.admin("PUT", "/admin/tenants/a11y/workspaces/main/identity-providers", { providers: [idp] });
  assert.ok(put.status < 300, put.text);
  await t.client("a11y", "main", { client_id: "web", client_name: "Web Shop", redirect_uris: [`${rp.base}/cb`], grant_types: ["authorization_code"], scope: "openid profile email", client_uri: "https://shop.example/", policy_uri: "https://shop.example/privacy", tos_uri: "https://shop.example/terms" });
  await brand();
  await sink.trust(issuer);
  await t.user("a11y", "main", { username: "ada", password: PASSWORD, claims: { name: "Ada Lovelace" } });
  await t.user("a11y", "main", { username: "kay", password: PASSWORD });
  await t.user("a11y", "main", { username: "grace", password: PASSWORD });
  await enrolTotp("grace");
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  scratchContext = await browser.newContext();
  scratch = await scratchContext.newPage();
});

after(async () => {
  if (everything.length) console.log(`axe, every violation seen:\n${describe(everything)}`);
  await browser?.close();
  await t?.stop();
  await sink?.stop();
  rp?.close();
});

function authorize(extra = {}) {
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: "web", redirect_uri: `${rp.base}/cb`, scope: "openid profile email", code_challenge: pkce().challenge, code_challenge_method: "S256", ...extra })) u.searchParams.set(k, v);
  return u.toString();
}

/** Every page is checked branded: the workspace's name, uploaded logo, colours and links (the
 * application's links come from the client above). */
async function brand() {
  const { token } = await systemClient(t);
  const api = (method, path, body, contentType = "application/json") => fetch(`${t.base}/api/tenants/a11y/workspaces/main/branding${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": contentType }, body });
  const r = await api("PUT", "", JSON.stringify({ display_name: "Acme Bank", primary_color: "#7b2d8b", background_color: "#e8eef5", terms_uri: "https://acme.example/terms", privacy_uri: "https://acme.example/privacy" }));
  assert.equal(r.status, 200, await r.text());
  assert.equal((await api("PUT", "/logo", PNG, "image/png")).status, 200);
}

/** Signs `username` in over HTTP and sets up an authenticator app from /app (the step-up needs one). */
async function enrolTotp(username) {
  const agent = new Agent();
  let r = await agent.request(authorize());
  r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username, password: PASSWORD } });
  assert.equal(r.status, 200, r.text_); // the passkey offer: the session exists now
  const app = await agent.request(`${issuer}/app`);
  const shown = await agent.request(`${issuer}/app/totp/setup`, { method: "POST", form: { interaction: hidden(app.text_, "interaction") } });
  const secret = shown.text_.match(/<code id="totp-secret">([A-Z2-7]+)<\/code>/)[1];
  const done = await agent.request(`${issuer}/app/totp/confirm`, { method: "POST", form: { interaction: hidden(shown.text_, "interaction"), code: totp(secret, Math.floor(Date.now() / 30000)) } });
  assert.equal(done.status, 303, done.text_);
}

/** Presses the submit button of the form with this id. */
const press = (page, formId) => page.locator(`#${formId} button[type="submit"]`).first().click();
const passwordForm = (page) => page.locator("form:has(#password)");

async function signIn(page, username, password) {
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await passwordForm(page).locator('button[type="submit"]').click();
}

/** Waits for `selector`, saying "not now" to a passkey offer on the way. */
async function pastOffer(page, selector) {
  await page.locator(`${selector}, #passkey-not-now`).first().waitFor();
  if (await page.locator("#passkey-not-now").count()) await page.locator("#passkey-not-now").click();
  await page.locator(selector).waitFor();
}

// The walk: each step takes the page from the one before to the named page, which is then checked.
// ui_locales picks the language of the authorization's pages; the context's locale
// (Accept-Language) that of the account page.
const WALK = [
  ["sign-in", (p, l) => p.goto(authorize({ ui_locales: l }))],
  ["sign-in-error", (p) => signIn(p, "ada", "not the password")],
  ["code", (p) => p.locator("#code-username").fill("ada").then(() => press(p, "code-sign-in"))],
  ["passkey-offer", (p, l) => p.goto(authorize({ ui_locales: l })).then(() => signIn(p, "ada", PASSWORD))],
  ["consent", (p) => p.locator("#passkey-not-now").click()],
  ["account", (p) => p.locator('button[name="decision"][value="allow"]').click().then(() => p.waitForURL(`${rp.base}/**`)).then(() => p.goto(`${issuer}/app`))],
  ["account-password-error", (p) => p.locator("#current-password").fill("wrong password").then(() => p.locator("#new-password").fill("a new long password")).then(() => p.locator("#confirm-password").fill("a new long password")).then(() => press(p, "change-password"))],
  ["totp-setup", (p) => press(p, "totp-setup")],
  // The consent is withdrawn (so the next walk is asked again), then sign-out.
  ["logout", (p) => p.goto(`${issuer}/app`).then(() => p.locator('form:has(input[name="client_id"]) button').first().click()).then(() => p.goto(`${issuer}/logout`))],
  ["signed-out", (p) => press(p, "logout-confirm")],
  ["error", (p, l) => p.goto(authorize({ ui_locales: l, client_id: "nobody" }))],
  ["sign-up", (p, l) => p.goto(authorize({ ui_locales: l })).then(() => press(p, "sign-up-form"))],
  ["sign-up-error", (p) => p.locator("#email").fill(`new${++signUps}@example.com`).then(() => p.locator("#password").fill("short")).then(() => press(p, "sign-up"))],
  ["sign-up-code", (p) => p.locator("#password").fill("a long enough password").then(() => press(p, "sign-up"))],
  ["forgot-password", (p, l) => p.goto(authorize({ ui_locales: l })).then(() => press(p, "forgot-password-form"))],
  ["reset-password", (p) => p.locator("#username").fill(`someone${signUps}`).then(() => press(p, "forgot-password"))],
  ["step-up", (p, l) => p.goto(authorize({ ui_locales: l, acr_values: "NIST-AAL-2" })).then(() => signIn(p, "grace", PASSWORD)).then(() => pastOffer(p, "#totp-form"))],
];

for (const locale of ["en", "pt-BR"]) {
  for (const jsEnabled of [true, false]) {
    test(`axe: every page in ${locale}, JavaScript ${jsEnabled ? "on" : "off"}: no serious or critical violation`, async () => {
      const context = await browser.newContext({ javaScriptEnabled: jsEnabled, locale: locale === "en" ? "en-US" : "pt-BR" });
      const page = await context.newPage();
      const failing = [];
      try {
        for (const [name, step] of WALK) {
          await step(page, locale);
          await page.waitForLoadState("load");
          const label = `${name}.${locale}.${jsEnabled ? "js" : "nojs"}`;
          // The page is in the language asked for.
          assert.equal(await page.locator("html").getAttribute("lang"), locale, `${label}: <html lang>`);
          for (const v of await checkPage(page, label, { jsEnabled, scratch, all: everything })) failing.push({ page: label, ...v });
        }
      } finally {
        await context.close();
      }
      assert.equal(failing.length, 0, `serious or critical violations:\n${describe(failing)}`);
    });
  }
}

test("the check itself: a page with a nameless button and grey-on-white text fails it, with JavaScript on and off", async () => {
  // A canary: were axe not running (or running on an empty document), every walk above would pass.
  const bad = `<!doctype html><html lang="en"><head><title>bad</title></head><body><main><h1>Bad</h1><p style="color:#bbb">faint</p><button></button><noscript><input type="text"></noscript></main></body></html>`;
  for (const jsEnabled of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled: jsEnabled });
    const page = await context.newPage();
    await page.route("**/bad", (route) => route.fulfill({ contentType: "text/html", body: bad }));
    await page.goto(`${rp.base}/bad`);
    const ids = (await checkPage(page, `canary.${jsEnabled ? "js" : "nojs"}`, { jsEnabled, scratch })).map((v) => v.id).sort();
    await context.close();
    // Without JavaScript the <noscript> field is shown, and checked (an input without a label).
    assert.deepEqual(ids, jsEnabled ? ["button-name", "color-contrast"] : ["button-name", "color-contrast", "label"], `JavaScript ${jsEnabled ? "on" : "off"}`);
  }
});

test("keyboard only: Tab to the name, the password, Enter; the offer and the consent by keyboard; at the client with a code; focus always visible", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(authorize({ state: "kbd" }));
    /** Tabs until the element matching `selector` has the focus (at most `max` presses); checks its outline. */
    async function tabTo(selector, max = 24) {
      for (let i = 0; i < max; i++) {
        if (await page.locator(selector).evaluate((el) => el === document.activeElement)) break;
        await page.keyboard.press("Tab");
      }
      const focus = await page.locator(selector).evaluate((el) => {
        const s = getComputedStyle(el);
        return { focused: el === document.activeElement, outline: `${s.outlineStyle} ${s.outlineWidth}` };
      });
      assert.ok(focus.focused, `${selector} never got the focus`);
      assert.equal(focus.outline, "solid 3px", `${selector}: a visible focus outline`);
    }
    // From the top of the page (the name field has autofocus: start from the document instead).
    await page.locator("body").evaluate(() => document.activeElement?.blur());
    await tabTo("#username");
    await page.keyboard.type("kay");
    await page.keyboard.press("Tab");
    await tabTo("#password", 1);
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    // The passkey offer: "Not now" by keyboard.
    await page.locator("#passkey-not-now").waitFor();
    await tabTo("#passkey-not-now");
    await page.keyboard.press("Enter");
    // The consent: Allow by keyboard.
    await page.locator('button[name="decision"][value="allow"]').waitFor();
    await tabTo('button[name="decision"][value="allow"]');
    await page.keyboard.press("Enter");
    await page.waitForURL(`${rp.base}/**`);
    const last = rp.received.at(-1);
    assert.equal(last.state, "kbd");
    assert.ok(last.code, JSON.stringify(last));
  } finally {
    await context.close();
  }
});

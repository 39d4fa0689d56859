// Mutual TLS (RFC 8705) on Workers the way Cloudflare's edge delivers it: the client certificate is
// not a header but `request.cf.tlsClientAuth` (certPresented, certVerified, the SHA-256 fingerprint
// in hex, the RFC 2253 DNs). The release bundle under workerd via miniflare: every HTTP request
// carries the `cf` blob the worker was started with (tpp-one's certificate, verified), and single
// requests carry another through miniflare's dispatchFetch. The deployment names no
// CLIENT_CERT_HEADER. Runs against the Workers bundle only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { startWorker } from "../support/worker.mjs";
import { userTokens, decodeJwt } from "../support/signin.mjs";

const DATA = new URL("../../crates/core/tests/data/", import.meta.url);
const PEM_ONE = readFileSync(new URL("tpp-one.pem", DATA), "utf8");
const PEM_TWO = readFileSync(new URL("tpp-two.pem", DATA), "utf8");
// As `openssl x509 -noout -subject -nameopt RFC2253` prints tpp-one.pem's subject.
const DN_ONE = "organizationIdentifier=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR";
const REDIRECT = "https://tpp.example/cb";
const USER = { username: "maria", password: "senha muito segura", claims: { name: "Maria" } };
const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** The certificate's SHA-256 thumbprint as RFC 8705's `x5t#S256` (base64url of the DER's digest). */
const x5t = (pem) => Buffer.from(new X509Certificate(pem).fingerprint256.replaceAll(":", ""), "hex").toString("base64url");

/**
 * `cf.tlsClientAuth` as Cloudflare fills it for a verified client certificate: fingerprints in
 * lower-case hex without colons, the DNs in RFC 2253 (last RDN first), legacy and plain forms.
 */
function tlsClientAuth(pem, overrides = {}) {
  const x = new X509Certificate(pem);
  const rdns = (name) => name.split("\n");
  for (const rdn of [...rdns(x.subject), ...rdns(x.issuer)]) assert.doesNotMatch(rdn, /[,+"\\<>;]/, "no RFC 2253 escaping needed");
  const hex = (f) => f.replaceAll(":", "").toLowerCase();
  return {
    certPresented: "1",
    certVerified: "SUCCESS",
    certRevoked: "0",
    certSubjectDNRFC2253: rdns(x.subject).reverse().join(","),
    certIssuerDNRFC2253: rdns(x.issuer).reverse().join(","),
    certSubjectDN: rdns(x.subject).reverse().join(", "),
    certIssuerDN: rdns(x.issuer).reverse().join(", "),
    certSubjectDNLegacy: "/" + rdns(x.subject).join("/"),
    certIssuerDNLegacy: "/" + rdns(x.issuer).join("/"),
    certSerial: x.serialNumber,
    certIssuerSerial: "",
    certSKI: "",
    certIssuerSKI: "",
    certFingerprintSHA1: hex(x.fingerprint),
    certFingerprintSHA256: hex(x.fingerprint256),
    certNotBefore: x.validFrom,
    certNotAfter: x.validTo,
    ...overrides,
  };
}

/** What Cloudflare sends when the client presented no certificate (miniflare's default blob too). */
const NO_CERT = Object.fromEntries(Object.entries(tlsClientAuth(PEM_ONE)).map(([k]) => [k, ""]));
Object.assign(NO_CERT, { certPresented: "0", certVerified: "NONE", certRevoked: "0" });

const cf = (auth) => ({ colo: "GRU", country: "BR", httpProtocol: "HTTP/2", tlsVersion: "TLSv1.3", tlsCipher: "AEAD-AES128-GCM-SHA256", ...(auth ? { tlsClientAuth: auth } : {}) });

const rootSecret = "root-secret-for-the-mtls-cf-test-0123456789";
let w, issuer;

/**
 * A request to the worker. Without `cf` a plain HTTP request (the blob the worker was started
 * with); with `cf`, through dispatchFetch with that blob instead.
 */
async function call(url, { method = "GET", fields, headers = {}, cf: blob } = {}) {
  const init = { method, headers: { ...(fields ? FORM : {}), ...headers }, body: fields ? new URLSearchParams(fields).toString() : undefined, redirect: "manual" };
  const r = blob === undefined ? await fetch(url, init) : await w.dispatchFetch(url, { ...init, cf: blob });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

const clientCredentials = (opts = {}) => call(`${issuer}/token`, { method: "POST", fields: { grant_type: "client_credentials", client_id: "tpp", scope: "api" }, ...opts });

async function admin(method, path, body) {
  const r = await fetch(w.base + path, { method, headers: { authorization: `Bearer ${rootSecret}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

before(async () => {
  w = await startWorker({ rootSecret, cf: cf(tlsClientAuth(PEM_ONE)) });
  await admin("PUT", "/admin/tenants/bank", { name: "bank" });
  await admin("PUT", "/admin/tenants/bank/workspaces/plain", {});
  issuer = `${w.base}/bank/plain`;
  await admin("POST", "/admin/tenants/bank/workspaces/plain/users", USER);
  const client = await admin("POST", "/admin/tenants/bank/workspaces/plain/clients", {
    client_id: "tpp", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "client_credentials"], scope: "openid api",
    token_endpoint_auth_method: "tls_client_auth", tls_client_auth_subject_dn: DN_ONE, tls_client_certificate_bound_access_tokens: true,
  });
  assert.equal(client.tls_client_auth_subject_dn, DN_ONE);
});

after(() => w?.stop());

test("the blob describes tpp-one.pem the way Cloudflare does", () => {
  const auth = tlsClientAuth(PEM_ONE);
  assert.equal(auth.certSubjectDNRFC2253, DN_ONE);
  assert.match(auth.certFingerprintSHA256, /^[0-9a-f]{64}$/);
  assert.equal(Buffer.from(auth.certFingerprintSHA256, "hex").toString("base64url"), x5t(PEM_ONE));
});

test("client_credentials authenticated by cf.tlsClientAuth: the access token is bound to its SHA-256 fingerprint", async () => {
  const tok = await clientCredentials();
  assert.equal(tok.status, 200, tok.text);
  const at = decodeJwt(tok.json.access_token).payload;
  assert.equal(at.client_id, "tpp");
  assert.equal(at.cnf["x5t#S256"], Buffer.from(tlsClientAuth(PEM_ONE).certFingerprintSHA256, "hex").toString("base64url"));
  // The token's own client introspects it over the same certificate: active, with the binding.
  const intro = await call(`${issuer}/introspect`, { method: "POST", fields: { client_id: "tpp", token: tok.json.access_token } });
  assert.equal(intro.status, 200, intro.text);
  assert.equal(intro.json.active, true, intro.text);
  assert.equal(intro.json.cnf["x5t#S256"], x5t(PEM_ONE));
  // The same through dispatchFetch with the blob given per request (the path the failures below take).
  const again = await clientCredentials({ cf: cf(tlsClientAuth(PEM_ONE)) });
  assert.equal(again.status, 200, again.text);
  assert.equal(decodeJwt(again.json.access_token).payload.cnf["x5t#S256"], x5t(PEM_ONE));
});

test("the code flow: a user's token bound to the cf certificate; /userinfo takes it with that certificate only", async () => {
  const tok = await userTokens(issuer, { client_id: "tpp", redirect_uri: REDIRECT, scope: "openid", ...USER, auth: { fields: { client_id: "tpp" } } });
  assert.equal(decodeJwt(tok.access_token).payload.cnf["x5t#S256"], x5t(PEM_ONE));
  const bearer = { authorization: `Bearer ${tok.access_token}` };
  const ok = await call(`${issuer}/userinfo`, { headers: bearer });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.sub, decodeJwt(tok.id_token).payload.sub);
  const same = await call(`${issuer}/userinfo`, { headers: bearer, cf: cf(tlsClientAuth(PEM_ONE)) });
  assert.equal(same.status, 200, same.text);
  for (const auth of [tlsClientAuth(PEM_TWO), NO_CERT, undefined]) {
    const r = await call(`${issuer}/userinfo`, { headers: bearer, cf: cf(auth) });
    assert.equal(r.status, 401, `${auth?.certSubjectDNRFC2253}: ${r.text}`);
    assert.match(r.headers.get("www-authenticate"), /invalid_token/);
  }
});

test("tls_client_auth is refused (invalid_client) when the edge did not verify the certificate, none was presented, or it names another subject", async () => {
  const cases = {
    "certVerified FAILED": tlsClientAuth(PEM_ONE, { certVerified: "FAILED:self signed certificate" }),
    "certVerified NONE": tlsClientAuth(PEM_ONE, { certVerified: "NONE" }),
    // Everything else still describes tpp-one: only certPresented says no certificate.
    "certPresented 0": tlsClientAuth(PEM_ONE, { certPresented: "0" }),
    "no certificate": NO_CERT,
    "tpp-two's certificate": tlsClientAuth(PEM_TWO),
    // Only the RFC 2253 subject differs: that field decides, not the legacy or plain forms.
    "another RFC 2253 subject": tlsClientAuth(PEM_ONE, { certSubjectDNRFC2253: tlsClientAuth(PEM_TWO).certSubjectDNRFC2253 }),
  };
  const seen = {};
  for (const [name, auth] of Object.entries(cases)) {
    const r = await clientCredentials({ cf: cf(auth) });
    seen[name] = `${r.status} ${r.json?.error}`;
  }
  assert.deepEqual(seen, Object.fromEntries(Object.keys(cases).map((name) => [name, "401 invalid_client"])));
  const none = await clientCredentials({ cf: cf(tlsClientAuth(PEM_ONE, { certPresented: "0" })) });
  assert.match(none.json.error_description, /none was presented/);
  const unverified = await clientCredentials({ cf: cf(tlsClientAuth(PEM_ONE, { certVerified: "FAILED:certificate has expired" })) });
  assert.match(unverified.json.error_description, /not verified/);
});

test("an incomplete tlsClientAuth object is read without failing the request", async () => {
  // Only the fields the worker needs: accepted (this used to panic in workers-rs's getters and hang).
  const full = tlsClientAuth(PEM_ONE);
  const minimal = { certPresented: "1", certVerified: "SUCCESS", certFingerprintSHA256: full.certFingerprintSHA256, certSubjectDNRFC2253: DN_ONE };
  const ok = await clientCredentials({ cf: cf(minimal) });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(decodeJwt(ok.json.access_token).payload.cnf["x5t#S256"], x5t(PEM_ONE));
  // Without a fingerprint (or with one that is not a SHA-256) there is no certificate to bind to.
  for (const fingerprint of [undefined, full.certFingerprintSHA1, 42]) {
    const auth = { ...minimal, certFingerprintSHA256: fingerprint };
    const r = await clientCredentials({ cf: cf(auth) });
    assert.equal(r.status, 401, `${fingerprint}: ${r.text}`);
    assert.equal(r.json.error, "invalid_client");
    assert.match(r.json.error_description, /none was presented/);
  }
});

test("with CLIENT_CERT_HEADER unset, a forged certificate header is ignored and the cf certificate still counts", async () => {
  const forged = (pem) => Object.fromEntries(["x-client-cert", "x-ssl-client-cert", "ssl-client-cert", "x-forwarded-client-cert"].map((h) => [h, encodeURIComponent(pem)]));
  // The edge saw tpp-one; the forged header claims tpp-two: the token is bound to tpp-one.
  const bound = await clientCredentials({ headers: forged(PEM_TWO) });
  assert.equal(bound.status, 200, bound.text);
  assert.equal(decodeJwt(bound.json.access_token).payload.cnf["x5t#S256"], x5t(PEM_ONE));
  // The edge saw no certificate; the forged header claims tpp-one: nothing authenticates.
  const r = await clientCredentials({ headers: forged(PEM_ONE), cf: cf(NO_CERT) });
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.error, "invalid_client");
  assert.match(r.json.error_description, /none was presented/);
});

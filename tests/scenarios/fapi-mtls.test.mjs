// Mutual TLS under the Open Finance Brasil profile (RFC 8705): tls_client_auth and
// self_signed_tls_client_auth from a PEM upload, certificate-bound access tokens (cnf.x5t#S256)
// refused with another certificate at userinfo and introspection, mtls_endpoint_aliases and
// mtls_issuer in discovery, cpf/cnpj through the claims parameter, and a forged certificate header
// ignored where the deployment does not trust one. Certificates reach the server the way a TLS
// front end forwards them: a URL-encoded PEM in the header the deployment names (on Workers the
// same core fields come from request.cf.tlsClientAuth: tests/e2e/workers-mtls-cf.test.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { startTarget, form, TARGET } from "../support/target.mjs";
import { decodeJwt } from "../support/signin.mjs";
import { keyPair, requestObject, codeRequest, push, browse, redirected, authorizeUrl } from "../support/fapi.mjs";

const DATA = new URL("../../crates/core/tests/data/", import.meta.url);
const PEM_ONE = readFileSync(new URL("tpp-one.pem", DATA), "utf8");
const PEM_TWO = readFileSync(new URL("tpp-two.pem", DATA), "utf8");
const x5t = (pem) => Buffer.from(new X509Certificate(pem).fingerprint256.replaceAll(":", ""), "hex").toString("base64url");
const HEADER = "x-client-cert";
const cert = (pem) => ({ [HEADER]: encodeURIComponent(pem) });
const REDIRECT = "https://tpp.example/cb";
const USER = { username: "maria", password: "senha muito segura", claims: { name: "Maria", cpf: "12345678901", cnpj: ["12345678000199"] } };
const PROFILE = { profile: "fapi_br", default_signing_alg: "PS256", access_token_ttl: 300 };
let t, issuer, key, mtlsIssuer;

before(async () => {
  t = await startTarget({ clientCertHeader: HEADER });
  mtlsIssuer = `${t.base.replace("127.0.0.1", "localhost")}/bank/ob`;
  issuer = await t.workspace("bank", "ob", { ...PROFILE, mtls_issuer: mtlsIssuer });
  await t.user("bank", "ob", USER);
  key = await keyPair("PS256", "tpp-ps");
  await t.client("bank", "ob", {
    client_id: "tpp", redirect_uris: [REDIRECT], scope: "openid profile", token_endpoint_auth_method: "tls_client_auth",
    tls_client_certificate: PEM_ONE, tls_client_certificate_bound_access_tokens: true, jwks: { keys: [key.jwk] },
  });
});
after(() => t.stop());

async function pushed(headers = cert(PEM_ONE), extra = {}) {
  const { params, verifier } = codeRequest("tpp", REDIRECT, "openid profile", extra);
  const request = await requestObject(key, "tpp", issuer, params);
  return { r: await push(issuer, { client_id: "tpp", request }, headers), verifier };
}

async function tokens(extra = {}) {
  const { r, verifier } = await pushed(cert(PEM_ONE), extra);
  assert.equal(r.status, 201, r.text);
  const { r: done } = await browse(issuer, authorizeUrl(issuer, { client_id: "tpp", request_uri: r.json.request_uri }), USER);
  const code = redirected(done).get("code");
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", client_id: "tpp", code, redirect_uri: REDIRECT, code_verifier: verifier }, cert(PEM_ONE));
  assert.equal(tok.status, 200, tok.text);
  return tok.json;
}

test("discovery: mTLS aliases, bound tokens, tls_client_auth, the claims parameter with cpf and cnpj", async () => {
  const d = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(d.issuer, issuer);
  assert.equal(d.mtls_endpoint_aliases.token_endpoint, `${mtlsIssuer}/token`);
  assert.equal(d.mtls_endpoint_aliases.userinfo_endpoint, `${mtlsIssuer}/userinfo`);
  assert.equal(d.mtls_endpoint_aliases.pushed_authorization_request_endpoint, `${mtlsIssuer}/par`);
  assert.equal(d.tls_client_certificate_bound_access_tokens, true);
  assert.deepEqual(d.token_endpoint_auth_methods_supported, ["private_key_jwt", "tls_client_auth"]);
  assert.equal(d.claims_parameter_supported, true);
  assert.ok(d.claims_supported.includes("cpf") && d.claims_supported.includes("cnpj"));
});

test("discovery requested through the mTLS domain shows the workspace's mtls_issuer", async () => {
  const d = await (await fetch(`${mtlsIssuer}/.well-known/openid-configuration`)).json();
  assert.equal(d.issuer, mtlsIssuer);
  assert.equal(d.token_endpoint, `${mtlsIssuer}/token`);
});

test("a PEM upload derives tls_client_auth_subject_dn, or self_signed's thumbprint; a bad PEM is refused and nothing stored", async () => {
  const made = await t.client("bank", "ob", { client_id: "tpp-ss", redirect_uris: [REDIRECT], scope: "openid", token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_certificate: PEM_TWO, jwks: { keys: [key.jwk] } });
  assert.equal(made.tls_client_certificate_x5t_s256, x5t(PEM_TWO));
  const tls = await t.client("bank", "ob", { client_id: "tpp-dn", redirect_uris: [REDIRECT], scope: "openid", token_endpoint_auth_method: "tls_client_auth", tls_client_certificate: PEM_ONE });
  assert.equal(tls.tls_client_auth_subject_dn, "2.5.4.97=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR");
  const bad = await t.admin("POST", "/admin/tenants/bank/workspaces/ob/clients", { client_id: "tpp-bad", redirect_uris: [REDIRECT], token_endpoint_auth_method: "tls_client_auth", tls_client_certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error, "invalid_client_metadata");
  const dn = await t.admin("POST", "/admin/tenants/bank/workspaces/ob/clients", { client_id: "tpp-bad", redirect_uris: [REDIRECT], token_endpoint_auth_method: "tls_client_auth" });
  assert.equal(dn.status, 400, dn.text);
});

test("tls_client_auth: the whole flow; the access token is bound to the certificate; cpf and cnpj via claims", async () => {
  const tok = await tokens({ claims: { id_token: { cpf: { essential: true }, cnpj: null, iss: null } } });
  const at = decodeJwt(tok.access_token).payload;
  assert.equal(at.cnf["x5t#S256"], x5t(PEM_ONE));
  const id = decodeJwt(tok.id_token).payload;
  assert.equal(id.cpf, "12345678901");
  assert.deepEqual(id.cnpj, ["12345678000199"]);
  const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tok.access_token}`, ...cert(PEM_ONE) } });
  assert.equal(ui.status, 200, await ui.text());
  const intro = await form(`${issuer}/introspect`, { client_id: "tpp", token: tok.access_token }, cert(PEM_ONE));
  assert.equal(intro.json.active, true, intro.text);
  assert.equal(intro.json.cnf["x5t#S256"], x5t(PEM_ONE));
});

test("a bound token presented with another certificate, or none, is refused at userinfo and inactive at introspection", async () => {
  const tok = await tokens();
  for (const headers of [cert(PEM_TWO), {}]) {
    const ui = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tok.access_token}`, ...headers } });
    assert.equal(ui.status, 401);
    assert.match(ui.headers.get("www-authenticate"), /invalid_token/);
  }
  // The token's own client over the other certificate fails authentication first:
  const wrong = await form(`${issuer}/introspect`, { client_id: "tpp", token: tok.access_token }, cert(PEM_TWO));
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(wrong.json.error, "invalid_client");
});

test("tls_client_auth with the wrong subject DN, no certificate, or self_signed with the wrong thumbprint: invalid_client", async () => {
  for (const headers of [cert(PEM_TWO), {}]) {
    const { r } = await pushed(headers);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, "invalid_client");
  }
  const tok = await form(`${issuer}/token`, { grant_type: "authorization_code", client_id: "tpp", code: "x", redirect_uri: REDIRECT }, cert(PEM_TWO));
  assert.equal(tok.json.error, "invalid_client");
  // self_signed_tls_client_auth is outside the Brazil profile: a plain workspace.
  const plain = await t.workspace("bank", "plain");
  await t.client("bank", "plain", { client_id: "ss", redirect_uris: [REDIRECT], grant_types: ["client_credentials"], scope: "api", token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_certificate: PEM_TWO, tls_client_certificate_bound_access_tokens: true });
  const bad = await form(`${plain}/token`, { grant_type: "client_credentials", client_id: "ss" }, cert(PEM_ONE));
  assert.equal(bad.status, 401, bad.text);
  assert.equal(bad.json.error, "invalid_client");
  const ok = await form(`${plain}/token`, { grant_type: "client_credentials", client_id: "ss" }, cert(PEM_TWO));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(decodeJwt(ok.json.access_token).payload.cnf["x5t#S256"], x5t(PEM_TWO));
});

test("where the deployment trusts no certificate header, a forged one is ignored", async () => {
  const other = await startTarget();
  try {
    const plain = await other.workspace("bank", "plain");
    await other.client("bank", "plain", { client_id: "ss", redirect_uris: [REDIRECT], grant_types: ["client_credentials"], scope: "api", token_endpoint_auth_method: "self_signed_tls_client_auth", tls_client_certificate: PEM_TWO });
    const r = await form(`${plain}/token`, { grant_type: "client_credentials", client_id: "ss" }, cert(PEM_TWO));
    assert.equal(r.status, 401, r.text);
    assert.match(r.json.error_description, /none was presented/);
  } finally {
    await other.stop();
  }
});

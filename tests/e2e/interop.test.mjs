// Interoperability: real client libraries against the Workers bundle (or TARGET=native).
// openid-client (panva, certified RP) drives the code flow with PKCE and nonce, validates the ID
// token, fetches userinfo, refreshes, runs client_credentials, introspects, revokes and builds the
// logout URL, and registers a client dynamically (RFC 7591, with an initial access token); oauth4webapi
// and jose check RS256/PS256 tokens and private_key_jwt.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import * as oauth from "oauth4webapi";
import * as jose from "jose";
import { startTarget, Agent, hidden } from "../support/target.mjs";
import { systemClient, must } from "../support/management.mjs";

const REDIRECT = "http://localhost:3000/callback";
let t, issuer, secret;

before(async () => {
  t = await startTarget();
  issuer = await t.workspace("acme", "main");
  await t.user("acme", "main", { username: "ada", password: "correct horse battery", claims: { name: "Ada Lovelace", email: "ada@example.com", email_verified: true } });
  secret = (await t.client("acme", "main", { client_id: "rp", client_name: "RP", redirect_uris: [REDIRECT], post_logout_redirect_uris: ["http://localhost:3000/"], grant_types: ["authorization_code", "refresh_token", "client_credentials"], scope: "openid profile email offline_access api" })).client_secret;
});
after(() => t.stop());

/** Plays the user: follows the authorization URL through login and consent to the callback URL. */
async function userAgent(authUrl, agent = new Agent(), at = issuer) {
  let r = await agent.request(authUrl.toString());
  if (r.status === 200) {
    r = await agent.request(`${at}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username: "ada", password: "correct horse battery" } });
  }
  if (r.status === 200 && r.text_.includes('name="decision"')) {
    r = await agent.request(`${at}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  }
  assert.equal(r.status, 303, r.text_);
  return new URL(r.headers.get("location"));
}

async function discover(clientId, secretOrMetadata, auth) {
  return client.discovery(new URL(issuer), clientId, secretOrMetadata, auth, { execute: [client.allowInsecureRequests] });
}

test("openid-client: discovery, code flow with PKCE and nonce, userinfo, refresh, introspection, revocation, logout URL", async () => {
  const config = await discover("rp", undefined, client.ClientSecretBasic(secret));
  assert.equal(config.serverMetadata().issuer, issuer);
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: "openid profile email offline_access", code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", nonce, state,
  });
  const callback = await userAgent(authUrl);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true });
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, "rp");
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, "ada@example.com");

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, true);
  await client.tokenRevocation(config, refreshed.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === "invalid_grant");

  const logout = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: "http://localhost:3000/", state: "bye" });
  assert.equal(logout.origin + logout.pathname, `${issuer}/logout`);
  const r = await fetch(logout, { redirect: "manual" });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "http://localhost:3000/?state=bye");
});

test("openid-client: client_credentials, and the JWT access token verifies against the JWKS", async () => {
  const config = await discover("rp", undefined, client.ClientSecretBasic(secret));
  const tokens = await client.clientCredentialsGrant(config, { scope: "api" });
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, { issuer, typ: "at+jwt" });
  assert.equal(protectedHeader.alg, "ES256");
  assert.equal(payload.client_id, "rp");
  assert.equal(payload.scope, "api");
});

test("openid-client: private_key_jwt with a PS256 client that also wants PS256 ID tokens", async () => {
  const { publicKey, privateKey } = await jose.generateKeyPair("PS256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), alg: "PS256", use: "sig", kid: "rp-key-1" };
  await t.client("acme", "main", { client_id: "fapi-rp", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "client_credentials"], scope: "openid api", token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, id_token_signed_response_alg: "PS256" });
  const config = await discover("fapi-rp", { id_token_signed_response_alg: "PS256" }, client.PrivateKeyJwt({ key: privateKey, kid: "rp-key-1" }));
  const verifier = client.randomPKCECodeVerifier();
  const authUrl = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: "openid", code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state: "s" });
  const tokens = await client.authorizationCodeGrant(config, await userAgent(authUrl), { pkceCodeVerifier: verifier, expectedState: "s" });
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  const { protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, { issuer, audience: "fapi-rp" });
  assert.equal(protectedHeader.alg, "PS256");
  const cc = await client.clientCredentialsGrant(config, { scope: "api" });
  assert.ok(cc.access_token);
});

test("oauth4webapi: discovery and an RS256 client's code flow with ID token checks", async () => {
  const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), { algorithm: "oidc", [oauth.allowInsecureRequests]: true }));
  const rsSecret = (await t.client("acme", "main", { client_id: "rs-rp", redirect_uris: [REDIRECT], grant_types: ["authorization_code"], scope: "openid email", id_token_signed_response_alg: "RS256" })).client_secret;
  const c = { client_id: "rs-rp", id_token_signed_response_alg: "RS256" };
  const verifier = oauth.generateRandomCodeVerifier();
  const nonce = oauth.generateRandomNonce();
  const u = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries({ client_id: "rs-rp", redirect_uri: REDIRECT, response_type: "code", scope: "openid email", nonce, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" })) u.searchParams.set(k, v);
  const callback = await userAgent(u);
  const params = oauth.validateAuthResponse(as, c, callback, oauth.expectNoState);
  const response = await oauth.authorizationCodeGrantRequest(as, c, oauth.ClientSecretBasic(rsSecret), params, REDIRECT, verifier, { [oauth.allowInsecureRequests]: true });
  const result = await oauth.processAuthorizationCodeResponse(as, c, response, { expectedNonce: nonce, requireIdToken: true });
  const { protectedHeader } = await jose.jwtVerify(result.id_token, jose.createRemoteJWKSet(new URL(as.jwks_uri)), { issuer, audience: "rs-rp" });
  assert.equal(protectedHeader.alg, "RS256");
  const claims = oauth.getValidatedIdTokenClaims(result);
  assert.equal(claims.email, "ada@example.com");
});

test("openid-client: dynamic client registration with an initial access token, then the code flow and client_credentials", async () => {
  const dcrIssuer = await t.workspace("acme", "dcr", { dcr: { enabled: true } });
  await t.user("acme", "dcr", { username: "ada", password: "correct horse battery" });
  const sys = await systemClient(t, { client_id: "ops" });
  const iat = (await must(t, sys.token)("POST", "/api/tenants/acme/workspaces/dcr/dcr/initial-access-tokens", { description: "interop" })).token;
  const metadata = { client_name: "Dynamic RP", application_type: "native", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token", "client_credentials"], token_endpoint_auth_method: "client_secret_post", scope: "openid profile offline_access" };
  const options = { execute: [client.allowInsecureRequests] };
  await assert.rejects(client.dynamicClientRegistration(new URL(dcrIssuer), metadata, undefined, options), (e) => (e.status ?? e.cause?.status) === 401);
  const config = await client.dynamicClientRegistration(new URL(dcrIssuer), metadata, undefined, { ...options, initialAccessToken: iat });
  assert.equal(config.serverMetadata().registration_endpoint, `${dcrIssuer}/fdx/dcr/register`);
  const registered = config.clientMetadata();
  assert.ok(registered.client_id && registered.client_secret && registered.registration_access_token);
  assert.equal(registered.client_name, "Dynamic RP");

  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: "openid offline_access", code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", nonce });
  const callback = await userAgent(authUrl, new Agent(), dcrIssuer);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
  assert.equal(tokens.claims().aud, registered.client_id);
  assert.ok(tokens.refresh_token);
  const machine = await client.clientCredentialsGrant(config, { scope: "profile" });
  assert.equal(machine.scope, "profile");

  // RFC 7592: the registration reads back with its token, and is gone after DELETE.
  const read = await fetch(registered.registration_client_uri, { headers: { authorization: `Bearer ${registered.registration_access_token}` } });
  assert.equal(read.status, 200);
  assert.equal((await read.json()).client_id, registered.client_id);
  const del = await fetch(registered.registration_client_uri, { method: "DELETE", headers: { authorization: `Bearer ${registered.registration_access_token}` } });
  assert.equal(del.status, 204);
  const after_ = await fetch(`${dcrIssuer}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "client_credentials", client_id: registered.client_id, client_secret: registered.client_secret }) });
  assert.equal(after_.status, 401);
  assert.equal((await after_.json()).error, "invalid_client");
});

test("oauth4webapi: authorization_details (RFC 9396) in a signed request object pushed with PAR, in the token response, in client_credentials and in introspection", async () => {
  const { systemClient, must } = await import("../support/management.mjs");
  const call = must(t, (await systemClient(t, { client_id: "ops-rar" })).token);
  await call("PUT", "/api/tenants/acme/features", { rich_authorization_requests: true });
  const TYPE = "payment_initiation";
  await call("POST", "/api/tenants/acme/workspaces/main/authorization-details-types", {
    type: TYPE, service: "https://bank.example/payments", description: "Payment",
    schema: { type: "object", required: ["type", "instructedAmount"], properties: { type: { const: TYPE }, instructedAmount: { type: "object", required: ["currency", "amount"], properties: { currency: { type: "string" }, amount: { type: "string" } } } } },
  });
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), alg: "ES256", use: "sig", kid: "rar-key-1" };
  await call("POST", "/api/tenants/acme/workspaces/main/clients", { client_id: "rar-rp", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "client_credentials"], scope: "openid api", token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, authorization_details_types: [TYPE] });
  const key = { key: privateKey, kid: "rar-key-1" };
  const insecure = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), { algorithm: "oidc", ...insecure }));
  assert.deepEqual(as.authorization_details_types_supported, [TYPE]);
  const c = { client_id: "rar-rp" };
  const details = [{ type: TYPE, instructedAmount: { currency: "EUR", amount: "12.34" } }];

  const verifier = oauth.generateRandomCodeVerifier();
  const params = new URLSearchParams({ client_id: "rar-rp", redirect_uri: REDIRECT, response_type: "code", code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state: "rar", authorization_details: JSON.stringify(details) });
  const request = await oauth.issueRequestObject(as, c, params, key);
  const pushed = await oauth.processPushedAuthorizationResponse(as, c, await oauth.pushedAuthorizationRequest(as, c, oauth.PrivateKeyJwt(key), { request }, insecure));
  const u = new URL(as.authorization_endpoint);
  u.searchParams.set("client_id", "rar-rp");
  u.searchParams.set("request_uri", pushed.request_uri);
  const callback = await userAgent(u);
  const code = oauth.validateAuthResponse(as, c, callback, "rar");
  const result = await oauth.processAuthorizationCodeResponse(as, c, await oauth.authorizationCodeGrantRequest(as, c, oauth.PrivateKeyJwt(key), code, REDIRECT, verifier, insecure));
  assert.deepEqual(result.authorization_details, details);
  assert.equal(result.id_token, undefined, "no scope was asked for, and none was added");
  const { payload } = await jose.jwtVerify(result.access_token, jose.createRemoteJWKSet(new URL(as.jwks_uri)), { issuer, typ: "at+jwt" });
  assert.deepEqual(payload.authorization_details, details);

  const machine = await oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt(key), { authorization_details: JSON.stringify(details) }, insecure));
  assert.deepEqual(machine.authorization_details, details);
  const introspected = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, oauth.PrivateKeyJwt(key), machine.access_token, insecure));
  assert.equal(introspected.active, true);
  assert.deepEqual(introspected.authorization_details, details);

  const refused = await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt(key), { authorization_details: JSON.stringify([{ type: TYPE, instructedAmount: { currency: 1 } }]) }, insecure);
  await assert.rejects(oauth.processClientCredentialsResponse(as, c, refused), (e) => e.error === "invalid_authorization_details" && /instructedAmount/.test(e.error_description));
});

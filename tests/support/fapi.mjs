// Helpers for the PAR / JAR / Open Finance Brasil scenarios: client keys, client assertions,
// signed request objects, pushing a request, and driving the browser leg from a request_uri.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as jose from "jose";
import { Agent, hidden, form, pkce } from "./target.mjs";

export const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export async function keyPair(alg, kid) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { privateKey, kid, alg, jwk: { ...(await jose.exportJWK(publicKey)), alg, use: "sig", kid } };
}

const now = () => Math.floor(Date.now() / 1000);

/** Signs `claims` with `key`; `undefined` values remove a claim. */
export async function signJwt(key, claims, header = {}) {
  const all = { ...claims };
  for (const [n, v] of Object.entries(all)) if (v === undefined) delete all[n];
  return new jose.SignJWT(all).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

/** RFC 7523 client authentication fields for a form post to `aud`. */
export async function clientAssertion(key, client_id, aud, claims = {}) {
  const jwt = await signJwt(key, { iss: client_id, sub: client_id, aud, jti: randomUUID(), iat: now(), exp: now() + 120, ...claims });
  return { client_assertion_type: ASSERTION_TYPE, client_assertion: jwt };
}

/** A signed request object (RFC 9101) for `issuer` carrying `params`; `claims` override iss/aud/exp/nbf. */
export async function requestObject(key, client_id, issuer, params, claims = {}) {
  return signJwt(key, { iss: client_id, aud: issuer, iat: now(), nbf: now(), exp: now() + 300, jti: randomUUID(), client_id, ...params, ...claims }, { typ: "oauth-authz-req+jwt" });
}

/** Authorization request parameters for the code flow with PKCE; returns { params, verifier }. */
export function codeRequest(client_id, redirect_uri, scope, extra = {}) {
  const { verifier, challenge } = pkce();
  return { verifier, params: { response_type: "code", client_id, redirect_uri, scope, state: randomUUID(), nonce: randomUUID(), code_challenge: challenge, code_challenge_method: "S256", ...extra } };
}

/** POST /par; `fields` is everything sent (request parameters and client authentication). */
export const push = (issuer, fields, headers = {}) => form(`${issuer}/par`, fields, headers);

/**
 * The browser leg: GET `url`, sign in if asked, answer the consent page with `decision`.
 * Returns the final response (the agent's fetch result, with `text_`) and the page seen on the way.
 */
export async function browse(issuer, url, { username, password, decision = "allow", agent = new Agent() } = {}) {
  let r = await agent.request(url);
  const pages = [];
  if (r.status === 200 && r.text_.includes('name="password"')) {
    r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username, password } });
  }
  if (r.status === 200 && r.text_.includes('name="decision"')) {
    pages.push(r.text_);
    r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision } });
  }
  return { r, consentPage: pages[0], agent };
}

/** The authorization response's query parameters (after a 303). */
export function redirected(r) {
  assert.equal(r.status, 303, r.text_);
  return new URL(r.headers.get("location")).searchParams;
}

export const authorizeUrl = (issuer, params) => `${issuer}/authorize?${new URLSearchParams(params)}`;

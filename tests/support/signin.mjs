// User tokens for scenarios that test what comes after the authorization-code flow (refresh,
// introspection, revocation, userinfo): the signIn/redeem pattern of code-flow.test.mjs, with the
// client, redirect URI and client authentication as parameters.
import assert from "node:assert/strict";
import { Agent, hidden, form, pkce } from "./target.mjs";

/**
 * authorize -> login -> consent (if asked) -> code; returns { code, verifier, agent }.
 * `client_id`, `redirect_uri`, `scope` and extra authorize parameters in `params`.
 */
export async function authorizeCode(issuer, { client_id, redirect_uri, scope = "openid", username, password, params = {}, agent = new Agent() }) {
  const { verifier, challenge } = pkce();
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id, redirect_uri, scope, code_challenge: challenge, code_challenge_method: "S256", ...params })) u.searchParams.set(k, v);
  let r = await agent.request(u.toString());
  if (r.status === 200 && r.text_.includes('name="password"')) {
    r = await agent.request(`${issuer}/login`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), username, password } });
  }
  if (r.status === 200 && r.text_.includes('name="decision"')) {
    r = await agent.request(`${issuer}/consent`, { method: "POST", form: { interaction: hidden(r.text_, "interaction"), decision: "allow" } });
  }
  assert.equal(r.status, 303, r.text_);
  const code = new URL(r.headers.get("location")).searchParams.get("code");
  assert.ok(code, r.headers.get("location"));
  return { code, verifier, agent };
}

/**
 * A full sign-in and code redemption; returns the token response JSON.
 * `auth` is { headers, fields } for client authentication at the token endpoint.
 */
export async function userTokens(issuer, opts) {
  const { code, verifier } = await authorizeCode(issuer, opts);
  const r = await form(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: opts.redirect_uri, code_verifier: verifier, ...(opts.auth?.fields ?? {}) }, opts.auth?.headers ?? {});
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** The decoded (unverified) header and payload of a JWT. */
export function decodeJwt(jwt) {
  const [h, p] = jwt.split(".");
  return { header: JSON.parse(Buffer.from(h, "base64url")), payload: JSON.parse(Buffer.from(p, "base64url")) };
}

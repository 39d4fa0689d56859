//! RFC 9068 access tokens: minting (bound to the client's certificate where RFC 8705 asks),
//! reading a presented one (RFC 6750), and verifying it.

use super::{sign, verify_own_jwt, Authentication};
use crate::config::client::Client;
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Request;
use crate::runtime::Runtime;
use serde_json::{json, Value};

pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: i64,
}

/// An RFC 9068 JWT access token. `grant_id` ties it to a revocable grant (absent for
/// client_credentials, whose tokens are revoked by `jti`).
pub async fn mint_access_token<R: Runtime>(
    ctx: &Ctx<'_, R>,
    client: &Client,
    sub: &str,
    scope: &str,
    grant_id: Option<&str>,
    auth: Option<&Authentication>,
    user_claims: &serde_json::Map<String, Value>,
) -> Result<AccessToken, OAuthError> {
    let jti = crypto::random_id(ctx.rt.entropy());
    let ttl = ctx.config.access_token_ttl;
    let mut claims = json!({
        "iss": ctx.issuer,
        "sub": sub,
        "aud": ctx.access_token_audience(),
        "client_id": client.client_id,
        "iat": ctx.now,
        "exp": ctx.now + ttl,
        "jti": jti,
        "scope": scope,
    });
    if let Some(g) = grant_id {
        claims["gid"] = json!(g);
    }
    if let Some(a) = auth {
        claims["auth_time"] = json!(a.auth_time);
        // Stated as the ID token states it (under fapi_br, one of the profile's levels).
        claims["acr"] = json!(ctx.config.id_token_acr(&a.acr));
        claims["amr"] = json!(a.amr);
    }
    // The data lineage's access-token claims (`authn::context::claims_for`), never over ours.
    if let Some(obj) = claims.as_object_mut() {
        for (k, v) in user_claims {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(x5t) = certificate_binding(ctx, client)? {
        claims["cnf"] = json!({ "x5t#S256": x5t });
    }
    let token = sign(ctx, ctx.config.default_signing_alg, Some("at+jwt"), &claims).await?;
    Ok(AccessToken { token, jti, expires_in: ttl })
}

/// RFC 8705 §3: the thumbprint an access token is bound to. A client registered with
/// `tls_client_certificate_bound_access_tokens` must present a certificate; under the Brazil
/// profile every token issued over mutual TLS is bound.
fn certificate_binding<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client) -> Result<Option<String>, OAuthError> {
    let wants = client.tls_client_certificate_bound_access_tokens;
    if !wants && !ctx.config.certificate_bound_tokens_required() {
        return Ok(None);
    }
    match ctx.client_certificate.get() {
        Some(cert) => Ok(Some(cert.sha256_fingerprint.clone())),
        None if wants => Err(OAuthError::invalid_request("this client's access tokens are bound to its TLS client certificate, and none was presented")),
        None => Ok(None),
    }
}

/// An access token bound to a certificate (`cnf.x5t#S256`) is usable only over a TLS connection
/// that presents that same certificate (RFC 8705 §3). Unbound tokens pass.
pub fn check_certificate_binding<R: Runtime>(ctx: &Ctx<'_, R>, claims: &Value) -> Result<(), OAuthError> {
    let Some(bound) = claims.get("cnf").and_then(|c| c.get("x5t#S256")).and_then(Value::as_str) else { return Ok(()) };
    match ctx.client_certificate.get() {
        Some(cert) if crypto::constant_time_eq(cert.sha256_fingerprint.as_bytes(), bound.as_bytes()) => Ok(()),
        Some(_) => Err(OAuthError::invalid_token("the access token is bound to another TLS client certificate")),
        None => Err(OAuthError::invalid_token("the access token is bound to a TLS client certificate, and none was presented")),
    }
}

/// The bearer token of a resource request (RFC 6750 §2.1 header or §2.2 form body), exactly once.
pub fn bearer_token(req: &Request) -> Result<String, OAuthError> {
    let header = req.header("authorization").and_then(|h| {
        let (scheme, value) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| value.trim().to_string())
    });
    let form = if req.method == "POST" && req.content_type() == "application/x-www-form-urlencoded" {
        req.form_params()?.get("access_token").map(str::to_string)
    } else {
        None
    };
    match (header, form) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the access token once, not in both the header and the body")),
        (Some(t), None) | (None, Some(t)) if !t.is_empty() => Ok(t),
        _ => Err(OAuthError::invalid_request("an access token is required").with_status(401).with_bearer_challenge()),
    }
}

/// Verifies an access token's signature, issuer, expiry and type, without asking the database
/// whether it was revoked (the caller must: see [`verify_access_token`]). Returns its claims.
pub async fn verify_access_token_jwt<R: Runtime>(ctx: &Ctx<'_, R>, token: &str) -> Result<Value, OAuthError> {
    let (claims, header) = verify_own_jwt(ctx, token, false).await?;
    if header.get("typ").and_then(Value::as_str).map(|t| t.eq_ignore_ascii_case("at+jwt")) != Some(true) {
        return Err(OAuthError::invalid_token("not an access token"));
    }
    // A deleted client's tokens die with it (its user grants are revoked on deletion; tokens of
    // its own, from client_credentials, have no grant). The lookup is the isolate's client cache.
    let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or("");
    if ctx.client(client_id).await?.is_none() {
        return Err(OAuthError::invalid_token("the token's client no longer exists"));
    }
    Ok(claims)
}

/// Verifies an access token and that it was not revoked. Returns its claims.
pub async fn verify_access_token<R: Runtime>(ctx: &Ctx<'_, R>, token: &str) -> Result<Value, OAuthError> {
    let claims = verify_access_token_jwt(ctx, token).await?;
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    let gid = claims.get("gid").and_then(Value::as_str);
    if !crate::store::access_token_live(ctx.db(), ctx.now_ms(), gid, jti).await? {
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    Ok(claims)
}

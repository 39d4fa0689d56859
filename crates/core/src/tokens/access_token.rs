//! RFC 9068 access tokens: minting (bound to the client's certificate where RFC 8705 asks),
//! reading a presented one (RFC 6750), and verifying it.

use super::{sign_serialized, verify_own_jwt, Authentication};
use crate::config::client::Client;
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Request;
use crate::runtime::Runtime;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: i64,
}

/// The claims of an access token, written straight to JSON (no `Value` built and walked again):
/// ours, then the data lineage's (`extra`) under other names.
#[derive(serde::Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Value>,
    #[serde(flatten)]
    extra: BTreeMap<&'a str, &'a Value>,
}

impl<'a> AccessTokenClaims<'a> {
    /// Adds `claims` under the names not set above.
    fn with_lineage(mut self, claims: &'a serde_json::Map<String, Value>) -> Self {
        for (k, v) in claims {
            if !self.has(k) {
                self.extra.insert(k, v);
            }
        }
        self
    }

    /// Whether `name` is one of the claims set above (a lineage claim of that name is left out).
    fn has(&self, name: &str) -> bool {
        match name {
            "iss" | "sub" | "aud" | "client_id" | "iat" | "exp" | "jti" | "scope" => true,
            "gid" => self.gid.is_some(),
            "auth_time" => self.auth_time.is_some(),
            "acr" => self.acr.is_some(),
            "amr" => self.amr.is_some(),
            "cnf" => self.cnf.is_some(),
            _ => false,
        }
    }
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
    let audience = ctx.access_token_audience();
    let cnf = certificate_binding(ctx, client)?.map(|x5t| json!({ "x5t#S256": x5t }));
    let claims = AccessTokenClaims {
        iss: &ctx.issuer,
        sub,
        aud: &audience,
        client_id: &client.client_id,
        iat: ctx.now,
        exp: ctx.now + ttl,
        jti: &jti,
        scope,
        gid: grant_id,
        auth_time: auth.map(|a| a.auth_time),
        // Stated as the ID token states it (under fapi_br, one of the profile's levels).
        acr: auth.map(|a| ctx.config.id_token_acr(&a.acr)),
        amr: auth.map(|a| a.amr.as_slice()),
        cnf,
        extra: BTreeMap::new(),
    }
    // The data lineage's access-token claims (`authn::context::claims_for`), never over ours.
    .with_lineage(user_claims);
    let json = serde_json::to_string(&claims).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let token = sign_serialized(ctx, ctx.config.default_signing_alg, Some("at+jwt"), &json).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims<'a>(gid: Option<&'a str>, cnf: Option<Value>) -> AccessTokenClaims<'a> {
        AccessTokenClaims { iss: "https://as.example/t/w", sub: "u1", aud: "https://api.example", client_id: "app", iat: 10, exp: 70, jti: "j", scope: "api", gid, auth_time: None, acr: None, amr: None, cnf, extra: BTreeMap::new() }
    }

    #[test]
    fn lineage_claims_never_replace_ours() {
        let lineage = json!({"sub": "spoofed", "gid": "g9", "cnf": {"x5t#S256": "theirs"}, "department": "R&D"});
        let lineage = lineage.as_object().unwrap();
        let written = |c: AccessTokenClaims<'_>| -> Value { serde_json::from_str(&serde_json::to_string(&c.with_lineage(lineage)).unwrap()).unwrap() };
        let plain = written(claims(None, None));
        assert_eq!((plain["sub"].as_str(), plain["department"].as_str()), (Some("u1"), Some("R&D")));
        assert_eq!(plain["gid"], "g9", "a name of ours that this token does not carry is the lineage's");
        assert_eq!(plain["cnf"]["x5t#S256"], "theirs");
        assert!(plain.get("auth_time").is_none() && plain.get("amr").is_none(), "absent claims are left out, not null");
        let bound = written(claims(Some("g1"), Some(json!({"x5t#S256": "ours"}))));
        assert_eq!((bound["gid"].as_str(), bound["cnf"]["x5t#S256"].as_str()), (Some("g1"), Some("ours")));
    }
}

//! The JWTs this server signs, and checking them when they come back: RFC 9068 access tokens
//! ([`access_token`]) and OIDC ID tokens ([`id_token`]). Codes and refresh tokens are random
//! values, stored hashed ([`hash_secret_token`]).

pub mod access_token;
pub mod id_token;

pub use access_token::{bearer_token, check_certificate_binding, mint_access_token, verify_access_token, verify_access_token_jwt, AccessToken};
pub use id_token::{authorization_response_alg, front_channel_id_token_claims, id_token_alg, mint_id_token, IdTokenInput};

use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::jose;
use crate::runtime::{Alg, Runtime};
use serde_json::Value;

/// The authentication event behind a user grant, as ID tokens report it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Authentication {
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub sid: Option<String>,
}

/// Signs `claims` with the workspace's active key for `alg`.
pub async fn sign<R: Runtime>(ctx: &Ctx<'_, R>, alg: Alg, typ: Option<&str>, claims: &Value) -> Result<String, OAuthError> {
    sign_serialized(ctx, alg, typ, &jose::claims_json(claims)?).await
}

/// [`sign`] for claims already serialized as a JSON object.
async fn sign_serialized<R: Runtime>(ctx: &Ctx<'_, R>, alg: Alg, typ: Option<&str>, claims_json: &str) -> Result<String, OAuthError> {
    let keys = ctx.keys().await?;
    let key = keys.active(alg).ok_or_else(|| OAuthError::server_error(format!("no active {} key", alg.as_str())))?;
    Ok(jose::sign_jwt_json(ctx.rt.signer(), alg, &key.kid, key.pkcs8(ctx.rt.master_secret())?, typ, claims_json).await?)
}

/// Checks a JWT this workspace signed: signature by a published key, issuer, and (unless
/// `allow_expired`) expiry. Returns its claims and header.
pub async fn verify_own_jwt<R: Runtime>(ctx: &Ctx<'_, R>, token: &str, allow_expired: bool) -> Result<(Value, Value), OAuthError> {
    let bad = |why: &str| OAuthError::invalid_token(why.to_string());
    let jws = jose::parse_jws(token).map_err(|_| bad("the token is malformed"))?;
    let kid = jws.header.get("kid").and_then(Value::as_str);
    let keys = ctx.keys_with(kid).await?;
    jose::verify_jws(ctx.rt.signer(), &jws, &keys.public_jwks()).await.map_err(|_| bad("the token signature is invalid"))?;
    // The workspace answers under two names when it has an mTLS domain; its keys are its own, so
    // a token signed by them and naming either is one of ours.
    let iss = jws.claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let ours = iss == ctx.issuer
        || (!ctx.config.mtls_issuer.is_empty() && iss == ctx.config.mtls_issuer)
        || (ctx.via_mtls && iss.ends_with(&format!("/{}/{}", ctx.tenant, ctx.workspace)));
    if !ours {
        return Err(bad("the token was issued by another server"));
    }
    let exp = jws.claims.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("the token has no expiry"))?;
    if !allow_expired && exp <= ctx.now {
        return Err(bad("the token has expired"));
    }
    Ok((jws.claims, jws.header))
}

/// Refresh tokens and codes are random; only their hashes are stored.
pub fn hash_secret_token(token: &str) -> String {
    crypto::sha256_b64url(token.as_bytes())
}

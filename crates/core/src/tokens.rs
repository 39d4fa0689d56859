//! Minting and checking the JWTs this server signs: RFC 9068 access tokens and OIDC ID tokens.

use crate::config::WorkspaceConfig;
use crate::crypto;
use crate::error::OAuthError;
use crate::jose;
use crate::runtime::{Alg, Runtime};
use crate::server::Ctx;
use crate::store::User;
use serde_json::{json, Map, Value};

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
    let keys = ctx.keys().await?;
    let key = keys.active(alg).ok_or_else(|| OAuthError::server_error(format!("no active {} key", alg.as_str())))?;
    Ok(jose::sign_jwt(ctx.rt.signer(), alg, &key.kid, &key.pkcs8, typ, claims).await?)
}

pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: i64,
}

/// An RFC 9068 JWT access token. `grant_id` ties it to a revocable grant (absent for
/// client_credentials, whose tokens are revoked by `jti`).
pub async fn mint_access_token<R: Runtime>(
    ctx: &Ctx<'_, R>,
    client_id: &str,
    sub: &str,
    scope: &str,
    grant_id: Option<&str>,
    auth: Option<&Authentication>,
) -> Result<AccessToken, OAuthError> {
    let jti = crypto::random_id(ctx.rt.entropy());
    let ttl = ctx.config.access_token_ttl;
    let mut claims = json!({
        "iss": ctx.issuer,
        "sub": sub,
        "aud": ctx.access_token_audience(),
        "client_id": client_id,
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
        claims["acr"] = json!(a.acr);
    }
    let token = sign(ctx, ctx.config.default_signing_alg, Some("at+jwt"), &claims).await?;
    Ok(AccessToken { token, jti, expires_in: ttl })
}

/// The user's claims that `scope` releases, always including `sub`.
pub fn user_claims(config: &WorkspaceConfig, user: &User, scope: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id));
    for s in scope.split_whitespace() {
        let Some(sc) = config.scopes.get(s) else { continue };
        for c in &sc.claims {
            if c == "preferred_username" && !user.claims.contains_key(c) {
                out.insert(c.clone(), json!(user.username));
            } else if let Some(v) = user.claims.get(c) {
                out.insert(c.clone(), v.clone());
            }
        }
    }
    out
}

pub struct IdTokenInput<'a> {
    pub client_id: &'a str,
    pub alg: Alg,
    pub user: &'a User,
    pub scope: &'a str,
    pub auth: &'a Authentication,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
}

pub async fn mint_id_token<R: Runtime>(ctx: &Ctx<'_, R>, i: IdTokenInput<'_>) -> Result<String, OAuthError> {
    let mut claims = user_claims(&ctx.config, i.user, i.scope);
    claims.insert("iss".into(), json!(ctx.issuer));
    claims.insert("aud".into(), json!(i.client_id));
    claims.insert("azp".into(), json!(i.client_id));
    claims.insert("iat".into(), json!(ctx.now));
    claims.insert("exp".into(), json!(ctx.now + ctx.config.id_token_ttl));
    claims.insert("auth_time".into(), json!(i.auth.auth_time));
    claims.insert("acr".into(), json!(i.auth.acr));
    claims.insert("amr".into(), json!(i.auth.amr));
    claims.insert("at_hash".into(), json!(jose::at_hash(i.access_token)));
    if let Some(sid) = &i.auth.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if let Some(n) = i.nonce {
        claims.insert("nonce".into(), json!(n));
    }
    sign(ctx, i.alg, Some("JWT"), &Value::Object(claims)).await
}

/// Checks a JWT this workspace signed: signature by a published key, issuer, and (unless
/// `allow_expired`) expiry. Returns its claims and header.
pub async fn verify_own_jwt<R: Runtime>(ctx: &Ctx<'_, R>, token: &str, allow_expired: bool) -> Result<(Value, Value), OAuthError> {
    let bad = |why: &str| OAuthError::invalid_token(why.to_string());
    let jws = jose::parse_jws(token).map_err(|_| bad("the token is malformed"))?;
    let kid = jws.header.get("kid").and_then(Value::as_str);
    let keys = ctx.keys_with(kid).await?;
    jose::verify_jws(ctx.rt.signer(), &jws, &keys.public_jwks()).await.map_err(|_| bad("the token signature is invalid"))?;
    if jws.claims.get("iss").and_then(Value::as_str) != Some(ctx.issuer.as_str()) {
        return Err(bad("the token was issued by another server"));
    }
    let exp = jws.claims.get("exp").and_then(Value::as_i64).ok_or_else(|| bad("the token has no expiry"))?;
    if !allow_expired && exp <= ctx.now {
        return Err(bad("the token has expired"));
    }
    Ok((jws.claims, jws.header))
}

/// Verifies an access token and that it was not revoked. Returns its claims.
pub async fn verify_access_token<R: Runtime>(ctx: &Ctx<'_, R>, token: &str) -> Result<Value, OAuthError> {
    let (claims, header) = verify_own_jwt(ctx, token, false).await?;
    if header.get("typ").and_then(Value::as_str).map(|t| t.eq_ignore_ascii_case("at+jwt")) != Some(true) {
        return Err(OAuthError::invalid_token("not an access token"));
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    let gid = claims.get("gid").and_then(Value::as_str);
    if !crate::store::access_token_live(ctx.db(), gid, jti).await? {
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    Ok(claims)
}

/// Refresh tokens and codes are random; only their hashes are stored.
pub fn hash_secret_token(token: &str) -> String {
    crypto::sha256_b64url(token.as_bytes())
}

//! Minting and checking the JWTs this server signs: RFC 9068 access tokens and OIDC ID tokens.

use crate::clients::Client;
use crate::config::{WorkspaceConfig, ACR_BR_LOA2, ACR_BR_LOA3};
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
    if let Some(x5t) = certificate_binding(ctx, client_id).await? {
        claims["cnf"] = json!({ "x5t#S256": x5t });
    }
    let token = sign(ctx, ctx.config.default_signing_alg, Some("at+jwt"), &claims).await?;
    Ok(AccessToken { token, jti, expires_in: ttl })
}

/// RFC 8705 §3: the thumbprint an access token is bound to. A client registered with
/// `tls_client_certificate_bound_access_tokens` must present a certificate; under the Brazil
/// profile every token issued over mutual TLS is bound.
async fn certificate_binding<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str) -> Result<Option<String>, OAuthError> {
    let wants = ctx.client(client_id).await?.is_some_and(|c| c.client.tls_client_certificate_bound_access_tokens);
    match &ctx.client_certificate {
        Some(cert) if wants || ctx.config.fapi_br() => Ok(Some(cert.sha256_fingerprint.clone())),
        None if wants => Err(OAuthError::invalid_request("this client's access tokens are bound to its TLS client certificate, and none was presented")),
        _ => Ok(None),
    }
}

/// An access token bound to a certificate (`cnf.x5t#S256`) is usable only over a TLS connection
/// that presents that same certificate (RFC 8705 §3). Unbound tokens pass.
pub fn check_certificate_binding<R: Runtime>(ctx: &Ctx<'_, R>, claims: &Value) -> Result<(), OAuthError> {
    let Some(bound) = claims.get("cnf").and_then(|c| c.get("x5t#S256")).and_then(Value::as_str) else { return Ok(()) };
    match &ctx.client_certificate {
        Some(cert) if crypto::constant_time_eq(cert.sha256_fingerprint.as_bytes(), bound.as_bytes()) => Ok(()),
        Some(_) => Err(OAuthError::invalid_token("the access token is bound to another TLS client certificate")),
        None => Err(OAuthError::invalid_token("the access token is bound to a TLS client certificate, and none was presented")),
    }
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
    /// User claims the `claims` parameter asked for (released when the user has them).
    pub extra_claims: &'a [String],
}

/// The algorithm of this client's ID tokens, from either endpoint: the profile's only algorithm,
/// else the client's `id_token_signed_response_alg`, else the workspace default.
pub fn id_token_alg(config: &WorkspaceConfig, client: &Client) -> Alg {
    config.only_alg().or(client.id_token_signed_response_alg).unwrap_or(config.default_signing_alg)
}

/// The algorithm of this client's JARM responses: the profile's only algorithm, else the client's
/// `authorization_signed_response_alg`, else the workspace default.
pub fn authorization_response_alg(config: &WorkspaceConfig, client: &Client) -> Alg {
    config.only_alg().or(client.authorization_signed_response_alg).unwrap_or(config.default_signing_alg)
}

/// The claims every ID token carries, wherever it is issued: issuer, audience, times and the
/// authentication event (`acr` always one of the Brazilian levels under the profile).
fn id_token_base(config: &WorkspaceConfig, issuer: &str, now: i64, client_id: &str, sub: &str, auth: &Authentication, nonce: Option<&str>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(sub));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("azp".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + config.id_token_ttl));
    claims.insert("auth_time".into(), json!(auth.auth_time));
    // The Brazil profile: `acr` is always one of its levels (a session from before the switch gets loa2).
    let acr = if config.fapi_br() && auth.acr != ACR_BR_LOA2 && auth.acr != ACR_BR_LOA3 { ACR_BR_LOA2 } else { auth.acr.as_str() };
    claims.insert("acr".into(), json!(acr));
    claims.insert("amr".into(), json!(auth.amr));
    if let Some(sid) = &auth.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if let Some(n) = nonce {
        claims.insert("nonce".into(), json!(n));
    }
    claims
}

pub async fn mint_id_token<R: Runtime>(ctx: &Ctx<'_, R>, i: IdTokenInput<'_>) -> Result<String, OAuthError> {
    let mut claims = user_claims(&ctx.config, i.user, i.scope);
    for name in i.extra_claims {
        if let Some(v) = i.user.claims.get(name) {
            claims.insert(name.clone(), v.clone());
        }
    }
    claims.extend(id_token_base(&ctx.config, &ctx.issuer, ctx.now, i.client_id, &i.user.id, i.auth, i.nonce));
    claims.insert("at_hash".into(), json!(jose::at_hash(i.access_token)));
    sign(ctx, i.alg, Some("JWT"), &Value::Object(claims)).await
}

/// The claims of the ID token of a `code id_token` authorization response (OIDC Core 3.3.2.11,
/// FAPI 1 Advanced 5.2.2.1-5): the authentication event, `nonce`, `c_hash` of the code and, when
/// the request had a state, `s_hash` of it. No user claims beyond `sub`: this token travels
/// through the browser (FAPI 1 Advanced 5.2.2.1-6: no sensitive data in the front channel), and
/// the token endpoint's ID token carries the rest.
#[allow(clippy::too_many_arguments)]
pub fn front_channel_id_token_claims(config: &WorkspaceConfig, issuer: &str, now: i64, client_id: &str, sub: &str, auth: &Authentication, nonce: &str, code: &str, state: Option<&str>) -> Value {
    let mut claims = id_token_base(config, issuer, now, client_id, sub, auth, Some(nonce));
    // Every algorithm we sign with hashes with SHA-256: the left half, base64url (as at_hash).
    claims.insert("c_hash".into(), json!(jose::at_hash(code)));
    if let Some(s) = state {
        claims.insert("s_hash".into(), json!(jose::at_hash(s)));
    }
    Value::Object(claims)
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

/// Verifies an access token's signature, issuer, expiry and type, without asking the database
/// whether it was revoked (the caller must: see [`verify_access_token`]). Returns its claims.
pub async fn verify_access_token_jwt<R: Runtime>(ctx: &Ctx<'_, R>, token: &str) -> Result<Value, OAuthError> {
    let (claims, header) = verify_own_jwt(ctx, token, false).await?;
    if header.get("typ").and_then(Value::as_str).map(|t| t.eq_ignore_ascii_case("at+jwt")) != Some(true) {
        return Err(OAuthError::invalid_token("not an access token"));
    }
    Ok(claims)
}

/// Verifies an access token and that it was not revoked. Returns its claims.
pub async fn verify_access_token<R: Runtime>(ctx: &Ctx<'_, R>, token: &str) -> Result<Value, OAuthError> {
    let claims = verify_access_token_jwt(ctx, token).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;

    fn auth(acr: &str) -> Authentication {
        Authentication { auth_time: 900, acr: acr.into(), amr: vec!["pwd".into()], sid: Some("sid-1".into()) }
    }

    #[test]
    fn front_channel_id_token_hashes_code_and_state() {
        let cfg = WorkspaceConfig::default();
        // OIDC Core appendix A.4: the code and its c_hash.
        let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
        let c = front_channel_id_token_claims(&cfg, "https://as.example/t/w", 1000, "rp", "user-1", &auth("urn:x"), "n-0S6_WzA2Mj", code, Some("af0ifjsldkj"));
        assert_eq!(c["c_hash"], "LDktKdoQak3Pk0cnXxCltA");
        // SHA-256 of "af0ifjsldkj", left 128 bits, base64url (computed independently with python3).
        assert_eq!(c["s_hash"], "bOhtX8F73IMjSPeVAqxyTQ");
        assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(c["sub"], "user-1");
        assert_eq!(c["aud"], "rp");
        assert_eq!(c["iss"], "https://as.example/t/w");
        assert_eq!(c["auth_time"], 900);
        assert_eq!(c["exp"], 1000 + cfg.id_token_ttl);
        assert_eq!(c["acr"], "urn:x");
        assert!(c.get("at_hash").is_none());
        let no_state = front_channel_id_token_claims(&cfg, "i", 0, "rp", "u", &auth("urn:x"), "n", "code", None);
        assert!(no_state.get("s_hash").is_none());
        assert_eq!(no_state["c_hash"], jose::at_hash("code"));
    }

    #[test]
    fn front_channel_id_token_acr_under_fapi_br() {
        let cfg = WorkspaceConfig { profile: Profile::FapiBr, default_signing_alg: Alg::PS256, access_token_ttl: 300, ..WorkspaceConfig::default() };
        let c = front_channel_id_token_claims(&cfg, "i", 0, "rp", "u", &auth("urn:edgeauth:acr:password"), "n", "code", Some("s"));
        assert_eq!(c["acr"], ACR_BR_LOA2);
        let c = front_channel_id_token_claims(&cfg, "i", 0, "rp", "u", &auth(ACR_BR_LOA3), "n", "code", Some("s"));
        assert_eq!(c["acr"], ACR_BR_LOA3);
    }

    #[test]
    fn signing_algorithms_per_client_and_profile() {
        let plain = WorkspaceConfig::default();
        let br = WorkspaceConfig { profile: Profile::FapiBr, default_signing_alg: Alg::PS256, access_token_ttl: 300, ..WorkspaceConfig::default() };
        let none = Client::default();
        let rs = Client { id_token_signed_response_alg: Some(Alg::RS256), authorization_signed_response_alg: Some(Alg::ES256), ..Client::default() };
        let rs_jarm = Client { authorization_signed_response_alg: Some(Alg::RS256), ..Client::default() };
        assert_eq!(id_token_alg(&plain, &none), plain.default_signing_alg);
        assert_eq!(id_token_alg(&plain, &rs), Alg::RS256);
        assert_eq!(id_token_alg(&br, &rs), Alg::PS256);
        assert_eq!(authorization_response_alg(&plain, &none), plain.default_signing_alg);
        assert_eq!(authorization_response_alg(&plain, &rs_jarm), Alg::RS256);
        assert_eq!(authorization_response_alg(&br, &rs_jarm), Alg::PS256);
    }
}

//! The relying-party side of a sign-in at an OpenID or OAuth 2.0 provider: its endpoints
//! (discovered, or configured), the authorization URL, the code exchange with client
//! authentication, the ID token's checks against the provider's JWKS, and userinfo. Every request
//! goes through [`crate::outbound`]; discovery documents and JWKS are cached there per provider.

use super::FederationError;
use crate::config::identity_providers::{ClientAuthMethod, IdentityProvider, IdpType};
use crate::crypto;
use crate::engine::Ctx;
use crate::http::{form_encode, percent_encode};
use crate::jose::{self, JoseError};
use crate::outbound::{self, FetchError};
use crate::runtime::Runtime;
use crate::tokens;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Clock skew allowed on a provider's `iat` and `exp`.
const SKEW_SECS: i64 = 60;

/// A provider's endpoints, as discovered (OpenID) or configured (OAuth 2.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks_uri: Option<String>,
    /// RFC 9207: the provider puts `iss` in its authorization responses.
    pub iss_parameter: bool,
}

/// Whose documents a provider's fetched metadata and JWKS are, in [`outbound`]'s cache.
pub fn metadata_owner(tenant: &str, workspace: &str, idp: &str) -> String {
    format!("idp-meta/{tenant}/{workspace}/{idp}")
}

pub fn jwks_owner(tenant: &str, workspace: &str, idp: &str) -> String {
    format!("idp-jwks/{tenant}/{workspace}/{idp}")
}

fn fetch_failed(what: &str, e: FetchError) -> FederationError {
    match e {
        FetchError::Store(s) => FederationError::Ours(s.to_string()),
        e => FederationError::Unavailable(format!("{what}: {e}")),
    }
}

pub async fn endpoints<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider) -> Result<Endpoints, FederationError> {
    match idp.kind {
        IdpType::Oauth2 => Ok(Endpoints {
            authorization: idp.authorization_endpoint.clone(),
            token: idp.token_endpoint.clone(),
            userinfo: Some(idp.userinfo_endpoint.clone()),
            jwks_uri: None,
            iss_parameter: false,
        }),
        IdpType::Oidc => {
            let url = format!("{}/.well-known/openid-configuration", idp.issuer);
            let doc = outbound::cached_json(ctx, &metadata_owner(&ctx.tenant, &ctx.workspace, &idp.id), &url).await.map_err(|e| fetch_failed("discovery", e))?;
            discovered(&doc, &idp.issuer)
        }
        IdpType::Workspace => Err(FederationError::Ours("a workspace provider has no endpoints".into())),
    }
}

/// The endpoints of a discovery document, which must name the configured issuer (OIDC Discovery §4.3).
pub fn discovered(doc: &Value, issuer: &str) -> Result<Endpoints, FederationError> {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    if s("issuer").as_deref() != Some(issuer) {
        return Err(FederationError::Unavailable(format!("the discovery document names issuer {:?}, not {issuer}", s("issuer"))));
    }
    let (Some(authorization), Some(token), Some(jwks_uri)) = (s("authorization_endpoint"), s("token_endpoint"), s("jwks_uri")) else {
        return Err(FederationError::Unavailable("the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri".into()));
    };
    // The browser is sent to the authorization endpoint: it must pass the same URL rules.
    crate::urls::web_url(&authorization).map_err(|e| FederationError::Unavailable(format!("authorization_endpoint {e}")))?;
    Ok(Endpoints {
        authorization,
        token,
        userinfo: s("userinfo_endpoint"),
        jwks_uri: Some(jwks_uri),
        iss_parameter: doc.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true)),
    })
}

/// Where the browser goes: the provider's authorization endpoint with code + PKCE (S256) + state,
/// and a nonce for OpenID providers.
/// `client_id`: ours at the provider (a workspace provider's: the virtual client it knows us by).
#[allow(clippy::too_many_arguments)]
pub fn authorization_url(ep: &Endpoints, idp: &IdentityProvider, client_id: &str, redirect_uri: &str, state: &str, nonce: &str, challenge: &str, login_hint: Option<&str>) -> String {
    let scope = idp.requested_scopes();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope.as_str()),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if idp.kind != IdpType::Oauth2 {
        params.push(("nonce", nonce));
        if let Some(h) = login_hint {
            params.push(("login_hint", h));
        }
    }
    let sep = if ep.authorization.contains('?') { '&' } else { '?' };
    format!("{}{sep}{}", ep.authorization, form_encode(params))
}

/// What the token endpoint answered.
#[derive(Debug, Clone)]
pub struct TokenAnswer {
    pub access_token: String,
    pub id_token: Option<String>,
}

/// The code exchange (RFC 6749 §4.1.3) with PKCE's verifier and the configured client authentication.
pub async fn exchange<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, ep: &Endpoints, code: &str, redirect_uri: &str, verifier: &str) -> Result<TokenAnswer, FederationError> {
    let mut form: Vec<(&str, String)> = vec![("grant_type", "authorization_code".into()), ("code", code.into()), ("redirect_uri", redirect_uri.into()), ("code_verifier", verifier.into())];
    let mut basic = None;
    let secret = || -> Result<String, FederationError> {
        idp.secret(ctx.rt.master_secret(), &ctx.tenant, &ctx.workspace).map_err(|e| FederationError::Ours(e.to_string()))?.ok_or_else(|| FederationError::Ours(format!("identity provider {} has no client secret", idp.id)))
    };
    match idp.token_endpoint_auth_method {
        ClientAuthMethod::ClientSecretBasic => {
            // RFC 6749 §2.3.1: each part form-encoded before base64.
            let pair = format!("{}:{}", percent_encode(&idp.client_id), percent_encode(&secret()?));
            basic = Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)));
        }
        ClientAuthMethod::ClientSecretPost => {
            form.push(("client_id", idp.client_id.clone()));
            form.push(("client_secret", secret()?));
        }
        ClientAuthMethod::PrivateKeyJwt => {
            form.push(("client_id", idp.client_id.clone()));
            form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
            form.push(("client_assertion", client_assertion(ctx, idp, &ep.token).await?));
        }
    }
    let body = form_encode(form.iter().map(|(k, v)| (*k, v.as_str())));
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(b) = &basic {
        headers.push(("authorization", b.as_str()));
    }
    let (status, answer) = outbound::send_json(ctx.rt, "POST", &ep.token, &headers, Some(body.as_bytes())).await.map_err(|e| fetch_failed("token endpoint", e))?;
    let answer = answer.ok_or_else(|| FederationError::Unavailable(format!("the token endpoint answered {status} without JSON")))?;
    if status != 200 {
        let code = answer.get("error").and_then(Value::as_str).unwrap_or("");
        return Err(if status >= 500 { FederationError::Unavailable(format!("the token endpoint answered {status} {code}")) } else { FederationError::Rejected(format!("the token endpoint refused the code: {status} {code}")) });
    }
    let access_token = answer.get("access_token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| FederationError::Rejected("the token answer has no access_token".into()))?;
    Ok(TokenAnswer { access_token: access_token.to_string(), id_token: answer.get("id_token").and_then(Value::as_str).map(str::to_string) })
}

/// RFC 7523 client authentication towards the provider, signed with this workspace's key (the
/// provider reads our JWKS): `aud` is the provider's token endpoint.
async fn client_assertion<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, token_endpoint: &str) -> Result<String, FederationError> {
    let claims = json!({
        "iss": idp.client_id, "sub": idp.client_id, "aud": token_endpoint,
        "iat": ctx.now, "exp": ctx.now + 60, "jti": crypto::random_id(ctx.rt.entropy()),
    });
    tokens::sign(ctx, ctx.config.default_signing_alg, None, &claims).await.map_err(|e| FederationError::Ours(e.description))
}

/// The ID token's claims once its signature (the provider's JWKS; refetched once for an unknown
/// `kid`) and claims check out: `iss` the configured issuer, `aud` our client id (`azp` too when
/// there are several audiences), unexpired, `nonce` this sign-in's.
pub async fn verify_id_token<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, ep: &Endpoints, id_token: &str, nonce: &str) -> Result<Map<String, Value>, FederationError> {
    let bad = |why: &str| FederationError::Rejected(format!("the ID token {why}"));
    let jws = jose::parse_jws(id_token).map_err(|e| bad(&format!("is unusable: {}", e.message())))?;
    let uri = ep.jwks_uri.as_deref().ok_or_else(|| bad("cannot be checked: the provider has no jwks_uri"))?;
    let owner = jwks_owner(&ctx.tenant, &ctx.workspace, &idp.id);
    let keys = |set: &Value| set.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    let set = outbound::cached_json(ctx, &owner, uri).await.map_err(|e| fetch_failed("jwks", e))?;
    let verified = match jose::verify_jws(ctx.rt.signer(), &jws, &keys(&set)).await {
        Err(JoseError::NoMatchingKey(why)) => match outbound::refetch_json(ctx, &owner, uri).await.map_err(|e| fetch_failed("jwks", e))? {
            Some(set) => jose::verify_jws(ctx.rt.signer(), &jws, &keys(&set)).await,
            None => Err(JoseError::NoMatchingKey(why)),
        },
        v => v,
    };
    verified.map_err(|e| bad(&format!("signature does not verify: {}", e.message())))?;
    let c = match jws.claims {
        Value::Object(m) => m,
        _ => return Err(bad("has no claims")),
    };
    check_id_token_claims(&c, &idp.issuer, &idp.client_id, nonce, ctx.now).map_err(|why| bad(&why))?;
    Ok(c)
}

/// The claim checks of OIDC Core §3.1.3.7, on data (a unit test beside).
pub fn check_id_token_claims(c: &Map<String, Value>, issuer: &str, client_id: &str, nonce: &str, now: i64) -> Result<(), String> {
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    if s("iss") != Some(issuer) {
        return Err(format!("was issued by {:?}, not {issuer}", s("iss")));
    }
    let audiences: Vec<&str> = match c.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.contains(&client_id) {
        return Err("is not for us (aud)".into());
    }
    if audiences.len() > 1 && s("azp") != Some(client_id) {
        return Err("has several audiences and another azp".into());
    }
    let exp = c.get("exp").and_then(Value::as_i64).ok_or("has no exp")?;
    if exp + SKEW_SECS <= now {
        return Err("has expired".into());
    }
    if c.get("iat").and_then(Value::as_i64).is_some_and(|iat| iat > now + SKEW_SECS) {
        return Err("was issued in the future (iat)".into());
    }
    if s("nonce") != Some(nonce) {
        return Err("does not carry this sign-in's nonce".into());
    }
    match s("sub") {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(()),
        _ => Err("has no usable sub".into()),
    }
}

/// The user endpoint's answer (OpenID userinfo, or an OAuth 2.0 provider's own), with the access token.
pub async fn userinfo<R: Runtime>(ctx: &Ctx<'_, R>, url: &str, access_token: &str) -> Result<Map<String, Value>, FederationError> {
    let auth = format!("Bearer {access_token}");
    let (status, body) = outbound::send_json(ctx.rt, "GET", url, &[("authorization", auth.as_str())], None).await.map_err(|e| fetch_failed("userinfo", e))?;
    match (status, body) {
        (200, Some(Value::Object(m))) => Ok(m),
        (200, _) => Err(FederationError::Unavailable("the user endpoint did not answer a JSON object".into())),
        (s, _) if s >= 500 => Err(FederationError::Unavailable(format!("the user endpoint answered {s}"))),
        (s, _) => Err(FederationError::Rejected(format!("the user endpoint answered {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn id_token_claims_are_checked_as_oidc_core_says() {
        let good = json!({ "iss": "https://idp.example", "aud": "edge", "exp": 2000, "iat": 1000, "nonce": "n1", "sub": "alice" });
        assert!(check_id_token_claims(&claims(good.clone()), "https://idp.example", "edge", "n1", 1500).is_ok());
        for (k, v, why) in [
            ("iss", json!("https://evil.example"), "issuer"),
            ("aud", json!("other"), "audience"),
            ("aud", json!(["edge", "other"]), "several audiences without azp"),
            ("exp", json!(1000), "expired"),
            ("iat", json!(9000), "future"),
            ("nonce", json!("n2"), "nonce"),
            ("sub", json!(""), "empty sub"),
        ] {
            let mut c = good.clone();
            c[k] = v;
            assert!(check_id_token_claims(&claims(c), "https://idp.example", "edge", "n1", 1500).is_err(), "{why}");
        }
        let mut c = good.clone();
        c["aud"] = json!(["edge", "other"]);
        c["azp"] = json!("edge");
        assert!(check_id_token_claims(&claims(c), "https://idp.example", "edge", "n1", 1500).is_ok());
        let mut c = good;
        c.as_object_mut().unwrap().remove("nonce");
        assert!(check_id_token_claims(&claims(c), "https://idp.example", "edge", "n1", 1500).is_err(), "a missing nonce");
    }

    #[test]
    fn discovery_must_name_the_configured_issuer() {
        let doc = json!({ "issuer": "https://idp.example", "authorization_endpoint": "https://idp.example/auth", "token_endpoint": "https://idp.example/token", "jwks_uri": "https://idp.example/jwks", "authorization_response_iss_parameter_supported": true });
        let ep = discovered(&doc, "https://idp.example").unwrap();
        assert!(ep.iss_parameter && ep.userinfo.is_none());
        assert!(discovered(&doc, "https://other.example").is_err());
        let mut bad = doc.clone();
        bad["authorization_endpoint"] = json!("http://evil.example/auth");
        assert!(discovered(&bad, "https://idp.example").is_err(), "the browser is never sent to a plain-http public host");
    }
}

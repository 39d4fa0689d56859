//! OpenID Connect Discovery 1.0 / RFC 8414 metadata and the JWKS.

use crate::clients::AUTH_METHODS;
use crate::error::OAuthError;
use crate::http::Response;
use crate::runtime::{Alg, Runtime};
use crate::server::Ctx;
use serde_json::json;

pub fn metadata<R: Runtime>(ctx: &Ctx<'_, R>) -> Response {
    let cfg = &ctx.config;
    let algs: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
    let mut claims: Vec<&str> = vec!["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"];
    for s in cfg.scopes.values() {
        for c in &s.claims {
            if !claims.contains(&c.as_str()) {
                claims.push(c);
            }
        }
    }
    let doc = json!({
        "issuer": ctx.issuer,
        "authorization_endpoint": ctx.endpoint("authorize"),
        "token_endpoint": ctx.endpoint("token"),
        "userinfo_endpoint": ctx.endpoint("userinfo"),
        "jwks_uri": ctx.endpoint("jwks"),
        "end_session_endpoint": ctx.endpoint("logout"),
        "introspection_endpoint": ctx.endpoint("introspect"),
        "revocation_endpoint": ctx.endpoint("revoke"),
        "scopes_supported": cfg.scopes.keys().collect::<Vec<_>>(),
        "claims_supported": claims,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": cfg.grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": &AUTH_METHODS[..3],
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["en", "pt-BR"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "acr_values_supported": [cfg.login.password_acr],
        "access_token_signing_alg_values_supported": algs,
    });
    Response::json(200, &doc).with_header("cache-control", "public, max-age=60")
}

pub async fn jwks<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<Response, OAuthError> {
    let keys = ctx.keys().await?;
    Ok(Response::new(200)
        .with_header("content-type", "application/jwk-set+json")
        .with_header("cache-control", "public, max-age=60")
        .with_body(keys.jwks_json.clone().into_bytes()))
}

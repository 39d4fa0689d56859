//! OpenID Connect Discovery 1.0 / RFC 8414 metadata and the JWKS.

use crate::config::client::{AUTH_NONE, RESPONSE_CODE_ID_TOKEN};
use crate::error::OAuthError;
use crate::http::Response;
use crate::oauth::response_mode::RESPONSE_MODES;
use crate::runtime::{Alg, Clock, Runtime};
use crate::engine::Ctx;
use serde_json::json;

/// The metadata document, from the isolate's cache while the configuration it was built from is
/// the current one (a reloaded configuration is a new `Arc`; the cached one is held, so its
/// address cannot be reused).
/// The authorization details types are read (through their own cache) only when the document is
/// built, and not at all where the workspace switched Rich Authorization Requests off.
pub async fn metadata<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<Response, OAuthError> {
    let now_ms = ctx.rt.clock().now_ms();
    let document = match ctx.server.cached_discovery_document(&ctx.issuer, &ctx.config, now_ms) {
        Some(d) => d,
        None => {
            let rar = ctx.rich_authorization().await?;
            ctx.server.discovery_document(&ctx.issuer, &ctx.config, now_ms, || {
                // serde_json's writer, not `Value`'s Display (a formatter adapter per token): on Spin the
                // document is built for every request.
                serde_json::to_string(&build_metadata(ctx, &rar.supported())).expect("a JSON value always serializes")
            })
        }
    };
    Ok(Response::new(200)
        .with_header("content-type", "application/json")
        .with_header("cache-control", "public, max-age=60")
        .with_body(document.as_bytes().to_vec())
        // The document is served from the isolate's cache while its configuration entry lives.
        .reusable_until(ctx.config_expires_ms))
}

fn build_metadata<R: Runtime>(ctx: &Ctx<'_, R>, authorization_details_types: &[&str]) -> serde_json::Value {
    let cfg = &ctx.config;
    // The Brazil profile allows one algorithm and one client authentication method: advertise only those.
    let algs: Vec<&str> = match cfg.only_alg() {
        Some(a) => vec![a.as_str()],
        None => Alg::ALL.iter().map(|a| a.as_str()).collect(),
    };
    let auth_methods = cfg.client_auth_methods();
    let confidential_methods: Vec<&str> = auth_methods.iter().copied().filter(|m| *m != AUTH_NONE).collect();
    let acr_values = cfg.acr_values_supported();
    // `code id_token` under the Brazil profile only when the workspace switches it on.
    let response_types: Vec<&str> = if cfg.code_id_token_enabled() { vec!["code", RESPONSE_CODE_ID_TOKEN] } else { vec!["code"] };
    let mut claims: Vec<&str> = vec!["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash", "c_hash", "s_hash", "cpf", "cnpj"];
    for s in cfg.scopes.values() {
        for c in &s.claims {
            if !claims.contains(&c.as_str()) {
                claims.push(c);
            }
        }
    }
    let mut doc = json!({
        "issuer": ctx.issuer,
        "authorization_endpoint": ctx.endpoint("authorize"),
        "pushed_authorization_request_endpoint": ctx.endpoint("par"),
        "require_pushed_authorization_requests": cfg.par_required(),
        "token_endpoint": ctx.endpoint("token"),
        "userinfo_endpoint": ctx.endpoint("userinfo"),
        "jwks_uri": ctx.endpoint("jwks"),
        "end_session_endpoint": ctx.endpoint("logout"),
        "introspection_endpoint": ctx.endpoint("introspect"),
        "revocation_endpoint": ctx.endpoint("revoke"),
        "scopes_supported": cfg.scopes.keys().collect::<Vec<_>>(),
        "claims_supported": claims,
        "response_types_supported": response_types,
        "response_modes_supported": RESPONSE_MODES,
        "authorization_signing_alg_values_supported": algs,
        "grant_types_supported": cfg.grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": confidential_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["en", "pt-BR"],
        "claims_parameter_supported": true,
        "tls_client_certificate_bound_access_tokens": true,
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": algs,
        "require_signed_request_object": cfg.request_object_required(),
        // Only the request_uri values of our own PAR endpoint are accepted (no fetching).
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "acr_values_supported": acr_values,
        "access_token_signing_alg_values_supported": algs,
    });
    // RFC 7591 §3: where clients register themselves, when the workspace lets them.
    if crate::config::registration::registration_served(cfg, &ctx.tenant, &ctx.workspace) {
        doc["registration_endpoint"] = json!(ctx.endpoint("fdx/dcr/register"));
    }
    // RFC 9396 §10: listed only where the feature is on.
    if !authorization_details_types.is_empty() {
        doc["authorization_details_types_supported"] = json!(authorization_details_types);
    }
    // RFC 8705 §5: where clients that authenticate or bind tokens with TLS certificates call.
    if !cfg.mtls_issuer.is_empty() {
        let at = |name: &str| format!("{}/{name}", cfg.mtls_issuer);
        doc["mtls_endpoint_aliases"] = json!({
            "token_endpoint": at("token"),
            "pushed_authorization_request_endpoint": at("par"),
            "userinfo_endpoint": at("userinfo"),
            "introspection_endpoint": at("introspect"),
            "revocation_endpoint": at("revoke"),
        });
    }
    doc
}

pub async fn jwks<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<Response, OAuthError> {
    let (keys, keys_expire_ms) = ctx.keys_with_expiry().await?;
    Ok(Response::new(200)
        .with_header("content-type", "application/jwk-set+json")
        .with_header("cache-control", "public, max-age=60")
        .with_body(keys.jwks_json.clone().into_bytes())
        // It also needs the workspace to exist with this configuration (the context checked it).
        .reusable_until(keys_expire_ms.min(ctx.config_expires_ms)))
}

//! Token introspection (RFC 7662). The caller authenticates as a client of the workspace; tokens of
//! other workspaces, and revoked or expired tokens, are simply inactive.

use crate::client_auth;
use crate::open_finance::consents;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store;
use crate::tokens;
use serde_json::json;

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let caller = client_auth::authenticate(ctx, req, &params, &ctx.endpoint("introspect")).await?;
    if caller.is_public() {
        return Err(OAuthError::invalid_client("public clients cannot introspect tokens"));
    }
    let token = params.require("token")?;
    let inactive = || Ok(Response::json_no_store(200, &json!({ "active": false })));
    // Where the workspace restricts introspection, only the token's own client and resource
    // servers learn anything about a token; to anyone else it is simply inactive (RFC 7662 §2.2).
    let may_see = |token_client: Option<&str>| !ctx.config.restrict_introspection || caller.resource_server || token_client == Some(caller.client_id.as_str());
    // JWT access tokens have three dot-separated parts; refresh tokens are opaque.
    if token.split('.').count() == 3 {
        let Ok(claims) = tokens::verify_access_token(ctx, token).await else { return inactive() };
        if !may_see(claims.get("client_id").and_then(|c| c.as_str())) {
            return inactive();
        }
        // A certificate-bound token shown by its own client over another certificate (RFC 8705 §3):
        // inactive. Resource servers introspecting it get `cnf` and compare with their caller's certificate.
        if claims.get("client_id").and_then(|c| c.as_str()) == Some(caller.client_id.as_str()) && tokens::check_certificate_binding(ctx, &claims).is_err() {
            return inactive();
        }
        let scope = claims.get("scope").and_then(|s| s.as_str()).unwrap_or("");
        if !consents::scope_usable(ctx, scope).await? {
            return inactive();
        }
        let mut out = json!({ "active": true, "token_type": "Bearer" });
        if let Some(id) = consents::consent_id_in(scope) {
            out["consent_id"] = json!(id);
        }
        for k in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "auth_time", "acr", "amr", "cnf", "authorization_details"] {
            if let Some(v) = claims.get(k) {
                out[k] = v.clone();
            }
        }
        return Ok(Response::json_no_store(200, &out));
    }
    // The token and its grant in one read (with the user's columns, unused here, for the grant's
    // authorization details joined beside it).
    let Some((rec, grant)) = store::refresh_token_with_grant(ctx.db(), ctx.now_ms(), &ctx.tenant, &ctx.workspace, &tokens::hash_secret_token(token)).await? else { return inactive() };
    if rec.used_at.is_some() || rec.expires_at <= ctx.now || !may_see(Some(rec.client_id.as_str())) {
        return inactive();
    }
    let Some((grant, _)) = grant else { return inactive() };
    if grant.revoked_at.is_some() || !consents::scope_usable(ctx, &grant.scope).await? {
        return inactive();
    }
    let mut out = json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": rec.scope,
        "client_id": rec.client_id,
        "sub": grant.user_id,
        "exp": rec.expires_at,
        "iat": rec.created_at,
        "iss": ctx.issuer,
        "auth_time": grant.auth_time,
        "acr": ctx.config.id_token_acr(&grant.acr),
        "amr": grant.amr,
    });
    if let Some(d) = grant.authorization_details.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) {
        out["authorization_details"] = d;
    }
    Ok(Response::json_no_store(200, &out))
}

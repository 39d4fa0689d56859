//! The UserInfo endpoint (OIDC Core §5.3): GET or POST, Bearer token in the header or the form.

use crate::authn::context::{claims_for, subject, with_token_facts, AuthnContext};
use crate::config::authn_context::ClaimTarget;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store;
use crate::tokens;
use serde_json::Value;


pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let token = tokens::bearer_token(req)?;
    let claims = tokens::verify_access_token_jwt(ctx, &token).await.map_err(|e| e.with_bearer_challenge())?;
    tokens::check_certificate_binding(ctx, &claims).map_err(|e| e.with_bearer_challenge())?;
    // Whether the token was revoked, and the user: one database round trip for both.
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let (live, user, context) = store::access_token_live_and_user(ctx.db(), ctx.now_ms(), &ctx.tenant, &ctx.workspace, str_claim("gid"), str_claim("jti").unwrap_or(""), str_claim("sub").unwrap_or("")).await?;
    if !live {
        return Err(OAuthError::invalid_token("the token has been revoked").with_bearer_challenge());
    }
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if !scope.split_whitespace().any(|s| s == "openid") {
        return Err(OAuthError::insufficient_scope("the token lacks the openid scope").with_bearer_challenge());
    }
    if claims.get("gid").is_none() {
        return Err(OAuthError::invalid_token("the token does not represent a user").with_bearer_challenge());
    }
    let context = context.as_deref().and_then(AuthnContext::parse);
    let user = subject(user, context.as_ref()).ok_or_else(|| OAuthError::invalid_token("the user no longer exists").with_bearer_challenge())?;
    let user = with_token_facts(user, &claims);
    let body = Value::Object(claims_for(&ctx.config, &user, scope, ClaimTarget::Userinfo));
    Ok(Response::json_no_store(200, &body))
}

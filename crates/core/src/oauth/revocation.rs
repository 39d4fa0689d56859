//! Token revocation (RFC 7009). A refresh token revokes its whole grant; an access token is
//! recorded by `jti` until it expires. Tokens of other clients or unknown tokens answer 200 too,
//! so the endpoint reveals nothing about them.

use crate::client_auth;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::jose;
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store;
use crate::tokens;
use serde_json::Value;

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let client = client_auth::authenticate(ctx, req, &params, &ctx.endpoint("revoke")).await?;
    let token = params.require("token")?;
    match params.get("token_type_hint") {
        None | Some("access_token") | Some("refresh_token") => {}
        Some(other) => return Err(OAuthError::unsupported_token_type(format!("token_type_hint '{other}' is not supported"))),
    }
    if token.split('.').count() == 3 {
        if jose::parse_jws(token).is_ok() {
            if let Ok((claims, _)) = tokens::verify_own_jwt(ctx, token, false).await {
                let owner = claims.get("client_id").and_then(Value::as_str);
                let jti = claims.get("jti").and_then(Value::as_str);
                let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(ctx.now);
                if let (Some(owner), Some(jti)) = (owner, jti) {
                    if owner == client.client_id {
                        store::revoke_access_token(ctx.db(), &ctx.tenant, &ctx.workspace, jti, exp).await?;
                    }
                }
            }
        }
    } else if let Some(rec) = store::get_refresh_token(ctx.db(), &ctx.tenant, &ctx.workspace, &tokens::hash_secret_token(token)).await? {
        if rec.client_id == client.client_id {
            store::revoke_grant(ctx.db(), &rec.grant_id, ctx.now).await?;
        }
    }
    Ok(Response::new(200).with_header("cache-control", "no-store"))
}

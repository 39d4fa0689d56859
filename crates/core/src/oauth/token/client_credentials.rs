//! The `client_credentials` grant: an access token for the client itself, within its scopes.

use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Params;
use crate::runtime::Runtime;
use crate::tokens;
use serde_json::{json, Value};

pub(super) async fn grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let allowed: Vec<&str> = client.allowed_scopes().filter(|s| !matches!(*s, "openid" | "offline_access")).collect();
    let scope = match params.get("scope") {
        None => allowed.join(" "),
        Some(s) => {
            for x in s.split_whitespace() {
                if !allowed.contains(&x) {
                    return Err(OAuthError::invalid_scope(format!("scope '{x}' is not allowed for this client")));
                }
            }
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let at = tokens::mint_access_token(ctx, &client.client_id, &client.client_id, &scope, None, None).await?;
    Ok(json!({ "access_token": at.token, "token_type": "Bearer", "expires_in": at.expires_in, "scope": scope }))
}

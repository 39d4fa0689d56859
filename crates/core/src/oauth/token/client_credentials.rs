//! The `client_credentials` grant: an access token for the client itself, within its scopes.

use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Params;
use crate::runtime::Runtime;
use crate::tokens;
use serde_json::{json, Value};

pub(super) async fn grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let scope = granted_scope(client, params.get("scope"))?;
    let at = tokens::mint_access_token(ctx, &client.client_id, &client.client_id, &scope, None, None, &serde_json::Map::new()).await?;
    Ok(json!({ "access_token": at.token, "token_type": "Bearer", "expires_in": at.expires_in, "scope": scope }))
}

/// The scope of the token: what was asked for, each one the client's, or all the client's when
/// nothing was; never `openid` or `offline_access`, which speak of a user.
fn granted_scope(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    let allowed: Vec<&str> = client.allowed_scopes().filter(|s| !matches!(*s, "openid" | "offline_access")).collect();
    match requested {
        None => Ok(allowed.join(" ")),
        Some(s) => {
            for x in s.split_whitespace() {
                if !allowed.contains(&x) {
                    return Err(OAuthError::invalid_scope(format!("scope '{x}' is not allowed for this client")));
                }
            }
            Ok(s.split_whitespace().collect::<Vec<_>>().join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_clients_and_never_a_users() {
        let c = Client { scope: "openid offline_access api read".into(), ..Client::default() };
        assert_eq!(granted_scope(&c, None).unwrap(), "api read");
        assert_eq!(granted_scope(&c, Some("read  api")).unwrap(), "read api");
        assert_eq!(granted_scope(&c, Some("openid")).unwrap_err().code, "invalid_scope");
        assert_eq!(granted_scope(&c, Some("write")).unwrap_err().code, "invalid_scope");
    }
}

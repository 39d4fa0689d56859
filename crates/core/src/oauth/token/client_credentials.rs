//! The `client_credentials` grant: an access token for the client itself, within its scopes,
//! and with the authorization details (RFC 9396) it asks for: each of a type it subscribed to,
//! valid against the type's schema, and allowed by the type's machine policy.

use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Params;
use crate::oauth::authorization_details;
use crate::policy::PolicyContext;
use crate::runtime::Runtime;
use crate::tokens;
use serde_json::{json, Value};

pub(super) async fn grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let rar = authorization_details::types_for(ctx, params).await?;
    let details = authorization_details::from_params(params.get(authorization_details::PARAMETER), rar.as_deref(), client)?;
    // AUT-9668: with authorization details, no scope asked for is no scope (no defaults added).
    let scope = match (&details, params.get("scope")) {
        (Some(_), None) => String::new(),
        (_, requested) => granted_scope(client, requested)?,
    };
    let mut claims = serde_json::Map::new();
    if let (Some(d), Some(rar)) = (&details, &rar) {
        let request = json!({ "client_id": client.client_id, "scope": scope, "grant_type": "client_credentials" });
        authorization_details::check_policies(rar, d, PolicyContext::Machine, client, &request, &Value::Null)?;
        claims.insert(authorization_details::PARAMETER.into(), json!(d));
    }
    let at = tokens::mint_access_token(ctx, client, &client.client_id, &scope, None, None, &claims).await?;
    let mut body = json!({ "access_token": at.token, "token_type": "Bearer", "expires_in": at.expires_in, "scope": scope });
    if let Some(d) = details {
        body[authorization_details::PARAMETER] = json!(d);
    }
    Ok(body)
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

//! The token endpoint: the client authenticates, then one file per grant type. What every user
//! grant hands out (access token, ID token, refresh token) is issued here.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use crate::client_auth;
use crate::config::client::Client;
use crate::config::{GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN};
use crate::oauth::authorization_details;
use crate::engine::Ctx;
use crate::authn::context::{claims_for, subject, with_auth_facts, AuthnContext, POOL};
use crate::config::authn_context::ClaimTarget;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::store::{Grant, User};
use crate::tokens::{self, Authentication, IdTokenInput};
use serde_json::{json, Value};

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let client = client_auth::authenticate(ctx, req, &params, &ctx.endpoint("token")).await?;
    let grant_type = params.require("grant_type")?;
    if !ctx.config.grant_enabled(grant_type) {
        return Err(OAuthError::unsupported_grant_type(format!("grant type '{grant_type}' is not supported here")));
    }
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!("this client may not use the {grant_type} grant")));
    }
    let body = match grant_type {
        GRANT_AUTHORIZATION_CODE => authorization_code::grant(ctx, &client, &params).await?,
        GRANT_REFRESH_TOKEN => refresh_token::grant(ctx, &client, &params).await?,
        GRANT_CLIENT_CREDENTIALS => client_credentials::grant(ctx, &client, &params).await?,
        other => return Err(OAuthError::unsupported_grant_type(format!("grant type '{other}' is not supported"))),
    };
    Ok(Response::json_no_store(200, &body))
}

/// A code redemption inside the deployment, for a workspace that signs its users in through
/// another (`oauth::authorize::upstream`): no network hop and no client authentication, because
/// the client is the virtual one that only this path can name (the token endpoint finds no such
/// client, so nobody can redeem its codes there). PKCE and the redirect URI are checked as always.
pub async fn redeem_internal<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, code: &str, redirect_uri: &str, verifier: &str) -> Result<Value, OAuthError> {
    let form = crate::http::form_encode([("grant_type", GRANT_AUTHORIZATION_CODE), ("code", code), ("redirect_uri", redirect_uri), ("code_verifier", verifier)]);
    authorization_code::grant(ctx, client, &crate::http::Params::parse(&form)?).await
}

/// The `authorization_details` of a code redemption or refresh (a narrowing), refused with
/// `invalid_request` where the feature is off, as at every endpoint.
pub(super) async fn narrowing<'p, R: Runtime>(ctx: &Ctx<'_, R>, params: &'p crate::http::Params) -> Result<Option<&'p str>, OAuthError> {
    let requested = params.get(authorization_details::PARAMETER);
    if requested.is_some() && !ctx.rich_authorization().await?.enabled {
        return Err(OAuthError::invalid_request("authorization_details is not supported here: rich authorization requests are not enabled"));
    }
    Ok(requested)
}

/// The details an access token of `grant` carries: those granted, or the narrower set the token
/// request asks for (never more: RFC 9396 §7.2).
pub(super) fn details_for(grant: &Grant, requested: Option<&str>) -> Result<Option<Vec<Value>>, OAuthError> {
    let granted: Option<Vec<Value>> = grant.authorization_details.as_deref().and_then(|d| serde_json::from_str(d).ok());
    match (granted, requested) {
        (granted, None) => Ok(granted),
        (None, Some(_)) => Err(OAuthError::invalid_authorization_details("the grant holds no authorization details to narrow")),
        (Some(granted), Some(raw)) => {
            let requested = authorization_details::parse(raw)?;
            authorization_details::check_narrowing(&granted, &requested)?;
            Ok(Some(requested))
        }
    }
}

fn refresh_allowed<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client) -> bool {
    client.allows_grant(GRANT_REFRESH_TOKEN) && ctx.config.grant_enabled(GRANT_REFRESH_TOKEN)
}

/// Tokens for a user grant: access token, ID token when `openid` is in scope, and `refresh`, a
/// refresh token already stored (in the batch that consumed the code or the rotated token).
/// `user` is the grant's, read with it.
#[allow(clippy::too_many_arguments)]
async fn issue_for_grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, grant: &Grant, user: Option<User>, scope: &str, nonce: Option<&str>, refresh: Option<String>, id_token_claims: &[String], details: Option<Vec<Value>>) -> Result<Value, OAuthError> {
    let context = grant.context.as_deref().and_then(AuthnContext::parse);
    let user = subject(user, context.as_ref()).ok_or_else(|| OAuthError::invalid_grant("the user no longer exists or is disabled"))?;
    let auth = Authentication { auth_time: grant.auth_time, acr: grant.acr.clone(), amr: grant.amr.clone(), sid: grant.sid.clone() };
    let user = with_auth_facts(user, auth.auth_time, &auth.amr, &auth.acr, context.as_ref().map_or(POOL, AuthnContext::idp));
    let mut at_claims = claims_for(&ctx.config, &user, scope, ClaimTarget::AccessToken);
    if let Some(d) = &details {
        at_claims.insert(authorization_details::PARAMETER.into(), json!(d));
    }
    let at = tokens::mint_access_token(ctx, client, &user.id, scope, Some(&grant.id), Some(&auth), &at_claims).await?;
    let mut body = json!({
        "access_token": at.token,
        "token_type": "Bearer",
        "expires_in": at.expires_in,
        "scope": scope,
    });
    // RFC 9396 §7: the token response names the details the access token carries.
    if let Some(d) = details {
        body[authorization_details::PARAMETER] = json!(d);
    }
    if scope.split_whitespace().any(|s| s == "openid") {
        let alg = tokens::id_token_alg(&ctx.config, client);
        let id_token = tokens::mint_id_token(ctx, IdTokenInput { client_id: &client.client_id, alg, user: &user, scope, auth: &auth, nonce, access_token: &at.token, extra_claims: id_token_claims }).await?;
        body["id_token"] = json!(id_token);
    }
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}

//! The `authorization_code` grant: the code is consumed exactly once (a replay revokes what it
//! issued), then redirect_uri and PKCE must match the authorization request.

use super::{issue_for_grant, NewRefresh};
use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Params;
use crate::runtime::Runtime;
use crate::oauth::code::CodeRequest;
use crate::oauth::pkce;
use crate::open_finance::consents;
use crate::store::{self, CodeRedemption};
use crate::tokens;
use serde_json::Value;

pub(super) async fn grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let code = params.require("code")?;
    let code_hash = tokens::hash_secret_token(code);
    let (request, grant) = match store::redeem_code(ctx.db(), &ctx.tenant, &ctx.workspace, &client.client_id, &code_hash, ctx.now).await? {
        CodeRedemption::Redeemed { request, grant } => (request, grant.map(|g| *g)),
        CodeRedemption::Replayed { grant_id } => {
            // RFC 6749 §4.1.2: a code used twice revokes every token issued from it.
            store::revoke_grant(ctx.db(), &grant_id, ctx.now).await?;
            return Err(OAuthError::invalid_grant("the authorization code was already used; tokens issued from it are revoked"));
        }
        CodeRedemption::Invalid => return Err(OAuthError::invalid_grant("the authorization code is invalid, expired, or was issued to another client")),
    };
    let request: CodeRequest = serde_json::from_str(&request).map_err(|e| OAuthError::server_error(e.to_string()))?;
    if params.get("redirect_uri") != Some(request.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    pkce::verify(request.code_challenge.as_deref(), params.get("code_verifier"))?;
    let (grant, user) = grant.ok_or_else(|| OAuthError::invalid_grant("the grant no longer exists"))?;
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the grant was revoked"));
    }
    if !consents::scope_usable(ctx, &grant.scope).await? {
        return Err(OAuthError::invalid_grant("the consent this grant is bound to is not AUTHORISED"));
    }
    let details = super::details_for(&grant, super::narrowing(ctx, params).await?)?;
    issue_for_grant(ctx, client, &grant, user, &grant.scope, request.nonce.as_deref(), NewRefresh::Issue, &request.id_token_claims, details).await
}

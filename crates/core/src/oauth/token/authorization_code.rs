//! The `authorization_code` grant: the code is consumed exactly once (a replay revokes what it
//! issued), then redirect_uri and PKCE must match the authorization request.

use super::{issue_for_grant, refresh_allowed};
use crate::crypto;
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
    // The refresh token is made before the consume and written in its batch (one round trip, as a
    // rotation's successor); it is handed out only when everything below agrees, and is otherwise
    // never seen by anyone.
    let refresh = refresh_allowed(ctx, client).then(|| crypto::random_token(ctx.rt.entropy()));
    let refresh_hash = refresh.as_deref().map(tokens::hash_secret_token);
    let new_refresh = refresh_hash.as_deref().map(|h| store::Successor { token_hash: h, scope: None, expires_at: ctx.now + ctx.config.refresh_token_ttl });
    let (request, grant, refresh) = match store::redeem_code(ctx.db(), &ctx.tenant, &ctx.workspace, &client.client_id, &code_hash, ctx.now, new_refresh.as_ref()).await? {
        CodeRedemption::Redeemed { request, grant, refresh_stored } => (request, grant.map(|g| *g), refresh.filter(|_| refresh_stored)),
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
    issue_for_grant(ctx, client, &grant, user, &grant.scope, request.nonce.as_deref(), refresh, &request.id_token_claims, details).await
}

//! The `refresh_token` grant: rotation with reuse detection (a rotated token used again revokes
//! its whole family), or, without rotation, the same token for the grant's lifetime.

use super::{issue_for_grant, refresh_allowed};
use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Params;
use crate::runtime::Runtime;
use crate::crypto;
use crate::open_finance::consents;
use crate::store;
use crate::tokens;
use serde_json::{json, Value};

pub(super) async fn grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let token = params.require("refresh_token")?;
    let hash = tokens::hash_secret_token(token);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    // RFC 6749 §6: a refresh may narrow the scope, never widen it.
    let exceeds = |requested: &str, granted: &str| requested.split_whitespace().any(|x| !granted.split_whitespace().any(|g| g == x));
    // Refuse a widening before rotation consumes the token: otherwise the refused request burns it,
    // and the client's next (correct) refresh looks like reuse and revokes the whole grant.
    if let Some(requested) = params.get("scope") {
        if let Some(rec) = store::get_refresh_token(ctx.db(), &ctx.tenant, &ctx.workspace, &hash).await? {
            if rec.client_id == client.client_id && exceeds(requested, &rec.scope) {
                return Err(OAuthError::invalid_scope("the requested scope exceeds the original grant"));
            }
        }
    }
    // The same for authorization details (RFC 9396 §7.2): checked against the grant before the
    // consume. Read only when the request carries them.
    let requested_details = super::narrowing(ctx, params).await?;
    if let Some(requested) = requested_details {
        if let Some(rec) = store::get_refresh_token(ctx.db(), &ctx.tenant, &ctx.workspace, &hash).await? {
            if rec.client_id == client.client_id {
                if let Some((grant, _)) = store::get_grant_with_user(ctx.db(), &ctx.tenant, &ctx.workspace, &rec.grant_id).await? {
                    super::details_for(&grant, Some(requested))?;
                }
            }
        }
    }
    // The Brazil profile forbids rotation for its clients, whatever the client's own setting.
    let rotation = client.refresh_token_rotation && ctx.config.refresh_token_rotation_allowed();
    // A narrowed scope, normalized; a widening is refused below, after the consume.
    let requested = params.get("scope").map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    // The successor is made before the consume and written in its batch (one round trip); it is
    // handed out only when everything below agrees, and is otherwise never seen by anyone.
    let successor = (rotation && refresh_allowed(ctx, client)).then(|| crypto::random_token(ctx.rt.entropy()));
    let successor_hash = successor.as_deref().map(tokens::hash_secret_token);
    // `live_at_consume`: the rotating consume already required a live grant, atomically.
    let (token_scope, live_at_consume, grant, stored_successor) = if rotation {
        let next = successor_hash.as_deref().map(|h| store::Successor { token_hash: h, scope: requested.as_deref(), expires_at: ctx.now + ctx.config.refresh_token_ttl });
        match store::rotate_refresh_token(ctx.db(), &ctx.tenant, &ctx.workspace, &client.client_id, &hash, ctx.now, next.as_ref()).await? {
            Some(r) => (r.scope, true, r.grant, successor.filter(|_| r.successor_stored)),
            None => {
                if let Some(rec) = store::get_refresh_token(ctx.db(), &ctx.tenant, &ctx.workspace, &hash).await? {
                    if rec.used_at.is_some() && rec.client_id == client.client_id {
                        // Reuse of a rotated token: someone holds a copy. Revoke the whole family.
                        store::revoke_grant(ctx.db(), &rec.grant_id, ctx.now).await?;
                        return Err(OAuthError::invalid_grant("the refresh token was already used; its grant is revoked"));
                    }
                }
                return Err(invalid());
            }
        }
    } else {
        match store::get_refresh_token(ctx.db(), &ctx.tenant, &ctx.workspace, &hash).await? {
            Some(rec) if rec.client_id == client.client_id && rec.used_at.is_none() && rec.expires_at > ctx.now => {
                let grant = store::get_grant_with_user(ctx.db(), &ctx.tenant, &ctx.workspace, &rec.grant_id).await?;
                (rec.scope, false, grant, None)
            }
            _ => return Err(invalid()),
        }
    };
    let (grant, user) = grant.ok_or_else(invalid)?;
    // After a won consume, a revocation seen now was made by a concurrent request that reused the
    // same token: the winner still gets its answer (exactly one wins), and what it gets is already
    // dead, because every token of a revoked grant is refused.
    if (grant.revoked_at.is_some() && !live_at_consume) || grant.client_id != client.client_id {
        return Err(invalid());
    }
    // Open Finance: refresh only while the bound consent is AUTHORISED.
    if !consents::scope_usable(ctx, &grant.scope).await? {
        return Err(OAuthError::invalid_grant("the consent this grant is bound to is not AUTHORISED"));
    }
    let scope = match requested {
        None => token_scope.clone(),
        Some(s) => {
            if exceeds(&s, &token_scope) {
                return Err(OAuthError::invalid_scope("the requested scope exceeds the original grant"));
            }
            s
        }
    };
    let details = super::details_for(&grant, requested_details)?;
    let mut body = issue_for_grant(ctx, client, &grant, user, &scope, None, stored_successor, &[], details).await?;
    if !rotation {
        body["refresh_token"] = json!(token);
    }
    Ok(body)
}

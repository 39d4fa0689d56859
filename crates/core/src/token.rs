//! The token endpoint: authorization_code (one-time, PKCE), refresh_token (rotation with reuse
//! detection), client_credentials.

use crate::authorize::CodeRequest;
use crate::client_auth;
use crate::clients::Client;
use crate::consents;
use crate::config::{GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN};
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{Params, Request, Response};
use crate::runtime::Runtime;
use crate::server::Ctx;
use crate::store::{self, CodeRedemption, Grant, NewRefreshToken, User};
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
        GRANT_AUTHORIZATION_CODE => authorization_code(ctx, &client, &params).await?,
        GRANT_REFRESH_TOKEN => refresh_token(ctx, &client, &params).await?,
        GRANT_CLIENT_CREDENTIALS => client_credentials(ctx, &client, &params).await?,
        other => return Err(OAuthError::unsupported_grant_type(format!("grant type '{other}' is not supported"))),
    };
    Ok(Response::json_no_store(200, &body))
}

/// RFC 7636 §4.1: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
pub fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

async fn authorization_code<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
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
    match (&request.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !valid_pkce_value(verifier) || !crypto::constant_time_eq(crypto::sha256_b64url(verifier.as_bytes()).as_bytes(), challenge.as_bytes()) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required (PKCE)")),
        // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
        (None, Some(_)) => return Err(OAuthError::invalid_grant("code_verifier given but the authorization request had no code_challenge")),
        (None, None) => {}
    }
    let (grant, user) = grant.ok_or_else(|| OAuthError::invalid_grant("the grant no longer exists"))?;
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the grant was revoked"));
    }
    if !consents::scope_usable(ctx, &grant.scope).await? {
        return Err(OAuthError::invalid_grant("the consent this grant is bound to is not AUTHORISED"));
    }
    issue_for_grant(ctx, client, &grant, user, &grant.scope, request.nonce.as_deref(), NewRefresh::Issue, &request.id_token_claims).await
}

async fn refresh_token<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
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
    // The Brazil profile forbids rotation for its clients, whatever the client's own setting.
    let rotation = client.refresh_token_rotation && !ctx.config.fapi_br();
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
    let refresh = stored_successor.map_or(NewRefresh::None, NewRefresh::Stored);
    let mut body = issue_for_grant(ctx, client, &grant, user, &scope, None, refresh, &[]).await?;
    if !rotation {
        body["refresh_token"] = json!(token);
    }
    Ok(body)
}

fn refresh_allowed<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client) -> bool {
    client.allows_grant(GRANT_REFRESH_TOKEN) && ctx.config.grant_enabled(GRANT_REFRESH_TOKEN)
}

/// The refresh token of a token response.
enum NewRefresh {
    None,
    /// Make one and store it (when the client may refresh).
    Issue,
    /// Already stored (the rotation's batch wrote it): hand it out.
    Stored(String),
}

/// Tokens for a user grant: access token, ID token when `openid` is in scope, and the refresh token
/// `refresh` says. `user` is the grant's, read with it.
#[allow(clippy::too_many_arguments)]
async fn issue_for_grant<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, grant: &Grant, user: Option<User>, scope: &str, nonce: Option<&str>, refresh: NewRefresh, id_token_claims: &[String]) -> Result<Value, OAuthError> {
    let user = user.filter(|u| !u.disabled).ok_or_else(|| OAuthError::invalid_grant("the user no longer exists or is disabled"))?;
    let auth = Authentication { auth_time: grant.auth_time, acr: grant.acr.clone(), amr: grant.amr.clone(), sid: grant.sid.clone() };
    let at = tokens::mint_access_token(ctx, &client.client_id, &user.id, scope, Some(&grant.id), Some(&auth)).await?;
    let mut body = json!({
        "access_token": at.token,
        "token_type": "Bearer",
        "expires_in": at.expires_in,
        "scope": scope,
    });
    if scope.split_whitespace().any(|s| s == "openid") {
        let alg = tokens::id_token_alg(&ctx.config, client);
        let id_token = tokens::mint_id_token(ctx, IdTokenInput { client_id: &client.client_id, alg, user: &user, scope, auth: &auth, nonce, access_token: &at.token, extra_claims: id_token_claims }).await?;
        body["id_token"] = json!(id_token);
    }
    match refresh {
        NewRefresh::Issue if refresh_allowed(ctx, client) => {
            let refresh = crypto::random_token(ctx.rt.entropy());
            let hash = tokens::hash_secret_token(&refresh);
            let expires_at = (ctx.now + ctx.config.refresh_token_ttl).min(grant.expires_at);
            store::insert_refresh_token(
                ctx.db(),
                &ctx.tenant,
                &ctx.workspace,
                &NewRefreshToken { token_hash: &hash, grant_id: &grant.id, client_id: &client.client_id, scope, now: ctx.now, expires_at },
            )
            .await?;
            body["refresh_token"] = json!(refresh);
        }
        NewRefresh::Stored(refresh) => body["refresh_token"] = json!(refresh),
        NewRefresh::Issue | NewRefresh::None => {}
    }
    Ok(body)
}

async fn client_credentials<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
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

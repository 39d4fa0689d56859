//! The browser's SSO session for a workspace: an opaque random id in the `ea_session` cookie,
//! the session itself in the runtime's session store (a Durable Object on Workers, SQLite
//! elsewhere).

use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Request;
use crate::runtime::{Runtime, SessionStore, SsoSession};
use crate::web::forms;

pub const SESSION_COOKIE: &str = "ea_session";

/// The session id a cookie may carry (a random token; anything else is ignored unread).
fn cookie_sid(req: &Request) -> Option<String> {
    req.cookie(SESSION_COOKIE).filter(|s| s.len() >= 32 && s.len() <= 64)
}

/// The browser's SSO session for this workspace, if it has a live one. With `sso_enabled: false`
/// there is none: every authorization signs the user in again, and the authentication travels
/// with the interaction to the end of the flow instead (see [`start`]).
pub async fn current<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Option<SsoSession>, OAuthError> {
    if !ctx.config.sso_enabled {
        return Ok(None);
    }
    existing(ctx, req).await
}

/// The browser's live session whatever `sso_enabled` says now: logout ends a session that was
/// started before SSO was switched off.
pub async fn existing<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Option<SsoSession>, OAuthError> {
    let Some(sid) = cookie_sid(req) else { return Ok(None) };
    let s = ctx.rt.sessions().get(&sid).await?;
    Ok(s.filter(|s| s.tenant == ctx.tenant && s.workspace == ctx.workspace && s.expires_at > ctx.now))
}

/// Starts a session for `user_id` authenticated now with `amr`, replacing the browser's previous
/// one; returns it with the `Set-Cookie` value that carries it. With `sso_enabled: false` the
/// session is stored nowhere and no cookie carries it: it lives for this authorization only, in
/// the sealed consent form when there is one (the previous session is still ended).
pub async fn start<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, user_id: &str, amr: Vec<String>) -> Result<(SsoSession, Option<String>), OAuthError> {
    if let Some(old) = cookie_sid(req) {
        ctx.rt.sessions().delete(&old).await?;
    }
    let session = SsoSession {
        sid: crypto::random_token(ctx.rt.entropy()),
        tenant: ctx.tenant.clone(),
        workspace: ctx.workspace.clone(),
        user_id: user_id.to_string(),
        auth_time: ctx.now,
        amr,
        acr: ctx.config.login_acr(),
        expires_at: ctx.now + ctx.config.session_ttl,
    };
    if !ctx.config.sso_enabled {
        return Ok((session, None));
    }
    ctx.rt.sessions().create(&session).await?;
    let set = forms::cookie(ctx, SESSION_COOKIE, &session.sid, ctx.config.session_ttl, "Lax");
    Ok((session, Some(set)))
}

/// The `sid` a grant (and the ID tokens issued from it) names: the session's, when there is a
/// stored session for logout to end; none for an authentication that lives in one flow only.
pub fn grant_sid<R: Runtime>(ctx: &Ctx<'_, R>, session: &SsoSession) -> Option<String> {
    ctx.config.sso_enabled.then(|| session.sid.clone())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    forms::cookie(ctx, SESSION_COOKIE, "", 0, "Lax")
}

//! The browser's SSO session for a workspace. The `ea_session` cookie carries a random secret; the
//! session store (a Durable Object on Workers, SQLite elsewhere) keeps the session under a hash of
//! it, and that hash is the session's `sid` everywhere else: in grants, in ID tokens, in logout.
//! So an ID token's `sid` (which every relying party, and every browser history holding a
//! `code id_token` fragment, sees) cannot be turned back into the cookie, and the store holds no
//! cookie either.

use crate::aal::{Aal, Factors};
use super::context::AuthnContext;
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Request;
use crate::runtime::{Runtime, SessionStore, SsoSession};
pub use crate::store::replica::Freshness;
use crate::web::forms;

pub const SESSION_COOKIE: &str = "ea_session";

/// The secret a session cookie may carry (a random token; anything else is ignored unread).
fn cookie_secret(req: &Request) -> Option<String> {
    req.cookie(SESSION_COOKIE).filter(|s| s.len() >= 32 && s.len() <= 64)
}

/// The session's id (`sid`) for the secret its cookie carries: a one-way function of it.
/// Sessions stored before this rule were kept under their cookie's value: no cookie finds them
/// now, so their users sign in once more.
fn sid_of(secret: &str) -> String {
    crypto::sha256_b64url(format!("ea_session|{secret}").as_bytes())
}

/// The browser's SSO session for this workspace, if it has a live one. With `sso_enabled: false`
/// there is none: every authorization signs the user in again, and the authentication travels
/// with the interaction to the end of the flow instead (see [`start`]).
pub async fn current<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, freshness: Freshness) -> Result<Option<SsoSession>, OAuthError> {
    if !ctx.config.sso_enabled {
        return Ok(None);
    }
    existing(ctx, req, freshness).await
}

/// The browser's live session whatever `sso_enabled` says now: logout ends a session that was
/// started before SSO was switched off.
pub async fn existing<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, freshness: Freshness) -> Result<Option<SsoSession>, OAuthError> {
    let Some(secret) = cookie_secret(req) else { return Ok(None) };
    let s = ctx.rt.sessions().get(&sid_of(&secret)).await?;
    let Some(s) = s.filter(|s| s.tenant == ctx.tenant && s.workspace == ctx.workspace && s.expires_at > ctx.now) else { return Ok(None) };
    // "Sign out everywhere" cannot list a user's sessions (a Durable Object each on Workers), so it
    // leaves a cut-off that every session check reads: one primary-key read, only when a live
    // session was found. The authorization endpoints may take it from a replica (bounded, see
    // `store::replica`); the account page asks the primary.
    let cutoff = crate::store::sessions::not_before(ctx.db(), ctx.now_ms(), freshness, &ctx.tenant, &ctx.workspace, &s.user_id).await?;
    Ok((!began_before(&s, cutoff)).then_some(s))
}

/// Whether the session began before the user's cut-off (a session from before `started_ms` was
/// recorded counts from its `auth_time`).
fn began_before(s: &SsoSession, cutoff: Option<i64>) -> bool {
    let started = if s.started_ms > 0 { s.started_ms } else { s.auth_time.saturating_mul(1000) };
    cutoff.is_some_and(|c| started < c)
}

/// How a session starts: who, how, and (a sign-in through an identity provider) with what context
/// and, when the provider asks for one, a shorter lifetime (0: no stored session).
pub struct SignIn {
    pub user_id: String,
    pub amr: Vec<String>,
    pub acr: String,
    /// The assurance level the sign-in reached (`None`: none of ours, e.g. a provider's `amr`
    /// that names no factor).
    pub aal: Option<Aal>,
    pub context: Option<AuthnContext>,
    pub lifetime: Option<i64>,
}

impl SignIn {
    /// A password sign-in of the identity pool's `user_id`.
    pub fn password<R: Runtime>(ctx: &Ctx<'_, R>, user_id: &str) -> SignIn {
        SignIn::local(ctx, user_id, Factors::password())
    }

    /// A sign-in of the identity pool's `user_id` with these factors (a password, a code, a
    /// passkey, or a step-up's sum of them).
    pub fn local<R: Runtime>(ctx: &Ctx<'_, R>, user_id: &str, factors: Factors) -> SignIn {
        let aal = factors.level();
        SignIn { user_id: user_id.to_string(), amr: factors.amr(), acr: ctx.config.sign_in_acr(aal), aal, context: None, lifetime: None }
    }
}

/// The level a session's sign-in reached: as recorded, or (a session from before levels were
/// recorded) as its `amr` shows, never more; a sign-in whose methods we cannot tell is AAL1.
pub fn level(session: &SsoSession) -> Aal {
    Aal::from_u8(session.aal).or_else(|| Factors::from_amr(&session.amr).level()).unwrap_or(Aal::One)
}

/// Starts a session for a sign-in, replacing the browser's previous one; returns it with the
/// `Set-Cookie` value that carries it. With `sso_enabled: false` (or a provider's lifetime of 0)
/// the session is stored nowhere and no cookie carries it: it lives for this authorization only,
/// in the sealed consent form when there is one (the previous session is still ended).
pub async fn start<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, sign_in: SignIn) -> Result<(SsoSession, Option<String>), OAuthError> {
    if let Some(old) = cookie_secret(req) {
        ctx.rt.sessions().delete(&sid_of(&old)).await?;
    }
    let secret = crypto::random_token(ctx.rt.entropy());
    let ttl = sign_in.lifetime.map_or(ctx.config.session_ttl, |t| t.min(ctx.config.session_ttl));
    let ephemeral = !ctx.config.sso_enabled || ttl <= 0;
    let session = SsoSession {
        sid: sid_of(&secret),
        tenant: ctx.tenant.clone(),
        workspace: ctx.workspace.clone(),
        user_id: sign_in.user_id,
        auth_time: ctx.now,
        amr: sign_in.amr,
        acr: sign_in.acr,
        aal: sign_in.aal.map_or(0, |a| a as u8),
        expires_at: ctx.now + ttl.max(0),
        context: sign_in.context.and_then(|c| serde_json::to_value(c).ok()),
        ephemeral,
        started_ms: ctx.now_ms(),
    };
    if ephemeral {
        return Ok((session, None));
    }
    ctx.rt.sessions().create(&session).await?;
    let set = forms::cookie(ctx, SESSION_COOKIE, &secret, ttl, "Lax");
    Ok((session, Some(set)))
}

/// A new session id and cookie for the same sign-in (after a password change: whoever had the old
/// cookie is out, this browser stays in). The old session is deleted; the new one begins now, so
/// a cut-off set in this request spares it.
pub async fn rotate<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, old: &SsoSession) -> Result<(SsoSession, Option<String>), OAuthError> {
    if let Some(s) = cookie_secret(req) {
        ctx.rt.sessions().delete(&sid_of(&s)).await?;
    }
    let secret = crypto::random_token(ctx.rt.entropy());
    let session = SsoSession { sid: sid_of(&secret), started_ms: ctx.now_ms(), ..old.clone() };
    ctx.rt.sessions().create(&session).await?;
    let set = forms::cookie(ctx, SESSION_COOKIE, &secret, (session.expires_at - ctx.now).max(0), "Lax");
    Ok((session, Some(set)))
}

/// Ends this browser's session (its store entry) and returns the `Set-Cookie` that removes the cookie.
pub async fn end<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<String, OAuthError> {
    if let Some(s) = cookie_secret(req) {
        ctx.rt.sessions().delete(&sid_of(&s)).await?;
    }
    Ok(clear_cookie(ctx))
}

/// The authentication context a session carries (a sign-in through an identity provider).
pub fn context_of(session: &SsoSession) -> Option<AuthnContext> {
    session.context.clone().and_then(|v| serde_json::from_value(v).ok())
}

/// The `sid` a grant (and the ID tokens issued from it) names: the session's (never its cookie's
/// secret), when there is a stored session for logout to end; none for an authentication that
/// lives in one flow only.
pub fn grant_sid<R: Runtime>(ctx: &Ctx<'_, R>, session: &SsoSession) -> Option<String> {
    (ctx.config.sso_enabled && !session.ephemeral).then(|| session.sid.clone())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    forms::cookie(ctx, SESSION_COOKIE, "", 0, "Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(auth_time: i64, started_ms: i64) -> SsoSession {
        SsoSession { sid: "s".into(), tenant: "t".into(), workspace: "w".into(), user_id: "u".into(), auth_time, amr: vec![], acr: String::new(), aal: 0, expires_at: i64::MAX, context: None, ephemeral: false, started_ms }
    }

    #[test]
    fn a_cut_off_ends_the_sessions_that_began_before_it_to_the_millisecond() {
        assert!(!began_before(&session(100, 100_500), None));
        assert!(began_before(&session(100, 100_500), Some(100_501)));
        // A sign-in in the same second as the cut-off, after it, survives it.
        assert!(!began_before(&session(100, 100_501), Some(100_501)));
        assert!(!began_before(&session(100, 100_900), Some(100_501)));
        // A session stored before `started_ms` was recorded counts from its auth_time.
        assert!(began_before(&session(100, 0), Some(100_001)));
        assert!(!began_before(&session(101, 0), Some(100_999)));
    }
}

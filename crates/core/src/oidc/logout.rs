//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). `post_logout_redirect_uri` must be
//! registered by the client named by `id_token_hint` or `client_id`. Without a valid hint for the
//! current session the user confirms first, so a third party cannot sign users out (CSRF).

use crate::authn::session;
use crate::error::OAuthError;
use crate::http::{form_encode, Request, Response};
use crate::web::forms::{self, Stage};
use crate::web::pages;
use crate::runtime::{Runtime, SessionStore};
use crate::engine::Ctx;
use crate::store;
use crate::tokens;
use serde_json::Value;

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    match inner(ctx, req).await {
        Ok(r) => r,
        Err(e) if e.status >= 500 => e.into_response(),
        Err(e) => e.into_page(forms::locale(ctx, req, None)),
    }
}

fn default_target<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    ctx.endpoint("app")
}

async fn inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = if req.method == "POST" { req.form_params()? } else { req.query_params()? };
    if params.get("interaction").is_some() {
        // The user confirmed on our page.
        let i: forms::Interaction = forms::resume(ctx, req, &params, Stage::Logout)?;
        let target = i.redirect.unwrap_or_else(|| default_target(ctx));
        if let Some(sid) = i.sid {
            ctx.rt.sessions().delete(&sid).await?;
        }
        return Ok(end(ctx, &target));
    }
    let mut client_id = params.get("client_id").map(str::to_string);
    let mut hint_sid = None;
    if let Some(hint) = params.get("id_token_hint") {
        ctx.config.check_id_token_hint_accepted()?;
        let not_id_token = || OAuthError::invalid_request("id_token_hint is not an ID token issued here");
        let (claims, header) = tokens::verify_own_jwt(ctx, hint, true).await.map_err(|_| not_id_token())?;
        // Other JWTs we sign (access tokens, JARM responses) verify too: only an ID token is a hint.
        if !tokens::id_token::looks_like_id_token(&header, &claims) {
            return Err(not_id_token());
        }
        let aud = match claims.get("aud") {
            Some(Value::String(a)) => Some(a.clone()),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if client_id.is_some() && client_id != aud {
            return Err(OAuthError::invalid_request("client_id does not match id_token_hint"));
        }
        client_id = aud;
        hint_sid = claims.get("sid").and_then(Value::as_str).map(str::to_string);
    }
    let target = match params.get("post_logout_redirect_uri") {
        None => default_target(ctx),
        Some(uri) => {
            let id = client_id.as_deref().ok_or_else(|| OAuthError::invalid_request("post_logout_redirect_uri needs id_token_hint or client_id"))?;
            let client = store::get_client(ctx.db(), &ctx.tenant, &ctx.workspace, id).await?.ok_or_else(|| OAuthError::invalid_request("unknown client"))?;
            if !client.client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(OAuthError::invalid_request("post_logout_redirect_uri is not registered for this client"));
            }
            match params.get("state") {
                Some(state) => format!("{uri}{}{}", if uri.contains('?') { '&' } else { '?' }, form_encode([("state", state)])),
                None => uri.to_string(),
            }
        }
    };
    let Some(session) = session::existing(ctx, req, session::Freshness::Bounded).await? else {
        return Ok(end(ctx, &target));
    };
    if hint_sid.as_deref() == Some(session.sid.as_str()) {
        ctx.rt.sessions().delete(&session.sid).await?;
        return Ok(end(ctx, &target));
    }
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Logout, None::<&()>, Some(&session.sid), Some(target));
    let page = pages::logout_confirm(forms::locale(ctx, req, params.get("ui_locales")), &ctx.endpoint("logout"), &blob);
    Ok(match set_cookie {
        Some(c) => page.with_header("set-cookie", c),
        None => page,
    })
}

/// Clears the session cookie and sends the browser on.
fn end<R: Runtime>(ctx: &Ctx<'_, R>, target: &str) -> Response {
    Response::redirect(target).with_header("set-cookie", session::clear_cookie(ctx))
}

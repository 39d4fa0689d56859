//! The login step: the page that asks for credentials, and its form post, which checks them,
//! starts the SSO session and continues the authorization.

use super::{step_response, AuthRequest};
use crate::authn::throttle::{self, Guard, Verdict};
use crate::authn::{password, session};
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::web::forms::{self, Stage};
use crate::web::pages;

/// The sign-in page: the workspace's enabled identity providers, and its password form.
pub async fn show<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, error: Option<&str>) -> Response {
    let providers = match ctx.identity_providers().await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let choices: Vec<pages::ProviderChoice<'_>> = providers.enabled().into_iter().map(|p| pages::ProviderChoice { id: &p.id, name: &p.name }).collect();
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Login, Some(ar), None, None);
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let (options, action) = (ctx.endpoint("passkeys/assertion-options"), ctx.endpoint("passkeys/sign-in"));
    let passkeys = ctx.config.login.passkeys.enabled.then_some(pages::PasskeyForm { options: &options, action: &action });
    let code = ctx.config.login.code_first_factor().then(|| ctx.endpoint("login/code"));
    // The application asking, named on the page (from the isolate's client cache; a workspace
    // acting as another's identity provider has no stored client to name).
    let client = ctx.client(&ar.client_id).await.ok().flatten();
    let app = client.as_ref().map(|c| pages::AppView::of(&c.client));
    let (sign_up, forgot) = (ctx.config.login.sign_up().then(|| ctx.endpoint("signup")), ctx.config.login.password_reset().then(|| ctx.endpoint("password/forgot")));
    let links = pages::SelfServiceLinks { sign_up: sign_up.as_deref(), forgot_password: forgot.as_deref() };
    let mut page = pages::login(locale, app.as_ref(), &ctx.endpoint("login"), &blob, ar.login_hint.as_deref(), error, &choices, &ctx.endpoint("idp/start"), ctx.config.login.password_enabled, passkeys.as_ref(), code.as_deref(), &links);
    if passkeys.is_some() {
        page = pages::with_script(page, &ctx.endpoint("passkeys.js"));
    }
    forms::with_cookie(page, set_cookie)
}

/// The login page again, answered 429 with `Retry-After`: too many failed sign-ins for this login
/// name or from this address. One text for both, and for names with no account behind them.
async fn locked<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, retry_after_secs: i64) -> Response {
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let e = throttle::locked_error(retry_after_secs);
    let mut page = show(ctx, req, ar, Some(pages::text(locale, "too_many_attempts"))).await;
    page.status = e.status;
    page.with_retry_after(&e).with_failure(&e)
}

/// POST /login: checks the password, starts the SSO session, continues the authorization.
pub async fn post<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, post_inner(ctx, req).await)
}

async fn post_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    if !ctx.config.login.password_enabled {
        return Err(OAuthError::invalid_request("this workspace signs users in through identity providers only"));
    }
    if !throttle::login_form_post(ctx, &i.id, i.exp).await? {
        return Err(OAuthError::invalid_request("this sign-in page has expired (it was submitted too many times); start again from the application"));
    }
    let client = super::load_client(ctx, &ar.client_id).await?;
    let username = params.get("username").unwrap_or("").trim();
    // Locked: refused before the password is checked, so a locked name costs no hash, and the
    // right password is refused too (an attacker learns nothing from a locked attempt).
    let mut guard = Guard::login(ctx, req, username);
    if let Verdict::Locked { retry_after_secs } = guard.check(ctx, true).await? {
        return Ok(locked(ctx, req, &ar, retry_after_secs).await);
    }
    let Some(user) = password::verify(ctx, username, params.get("password").unwrap_or("")).await? else {
        // Unknown name, disabled user or wrong password: counted alike, answered alike.
        if let Verdict::Locked { retry_after_secs } = guard.failed(ctx).await? {
            return Ok(locked(ctx, req, &ar, retry_after_secs).await);
        }
        let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
        // The name comes back as typed (never the password), so the user corrects only what was wrong.
        let again = AuthRequest { login_hint: Some(username.to_string()), ..ar };
        return Ok(show(ctx, req, &again, Some(pages::text(locale, "invalid_credentials"))).await);
    };
    guard.succeeded(ctx).await?;
    super::extensions::signed_in(ctx, req, &ar, &client, session::SignIn::password(ctx, &user.id), Some(&user)).await
}

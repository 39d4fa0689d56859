//! The login step: the page that asks for credentials, and its form post, which checks them,
//! starts the SSO session and continues the authorization.

use super::{after_login, step_response, AuthRequest};
use crate::authn::{password, session};
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::web::forms::{self, Stage};
use crate::web::pages;

pub fn show<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, error: Option<&str>) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Login, Some(ar), None, None);
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    forms::with_cookie(pages::login(locale, &ctx.endpoint("login"), &blob, ar.login_hint.as_deref(), error), set_cookie)
}

/// POST /login: checks the password, starts the SSO session, continues the authorization.
pub async fn post<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, post_inner(ctx, req).await)
}

async fn post_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let client = super::load_client(ctx, &ar.client_id).await?;
    let username = params.get("username").unwrap_or("").trim();
    let Some(user) = password::verify(ctx, username, params.get("password").unwrap_or("")).await? else {
        let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
        return Ok(show(ctx, req, &ar, Some(pages::text(locale, "invalid_credentials"))));
    };
    let (session, set_cookie) = session::start(ctx, req, &user.id, vec!["pwd".into()]).await?;
    let resp = after_login(ctx, req, &ar, &client, &session).await;
    Ok(forms::with_cookie(resp, set_cookie))
}

//! The user's own page at `/{tenant}/{workspace}/app`: who is signed in, which applications they
//! allowed (with a way to withdraw each consent), sign-out. Also the default post-logout page.

use crate::authn::session;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::web::forms::{self, Stage};
use crate::web::pages::{self, AccountView};
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store;

pub async fn page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    match page_inner(ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn page_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let locale = forms::locale(ctx, req, None);
    let Some(session) = session::current(ctx, req).await? else {
        return Ok(pages::account(locale, None));
    };
    let Some(user) = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await? else {
        return Ok(pages::account(locale, None));
    };
    let consents: Vec<(String, String)> = store::list_consents(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?.into_iter().map(|(c, s, _)| (c, s)).collect();
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Account, None::<&()>, Some(&session.sid), None);
    let withdraw = ctx.endpoint("app/consents/withdraw");
    let logout = ctx.endpoint("logout");
    let page = pages::account(locale, Some(AccountView { username: &user.username, consents: &consents, withdraw_action: &withdraw, logout_action: &logout, interaction: &blob }));
    Ok(match set_cookie {
        Some(c) => page.with_header("set-cookie", c),
        None => page,
    })
}

/// POST /app/consents/withdraw: forgets the consent and revokes the client's grants for the user.
pub async fn withdraw_consent<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let result = async {
        let params = req.form_params()?;
        let i: forms::Interaction = forms::resume(ctx, req, &params, Stage::Account)?;
        let session = session::current(ctx, req).await?;
        let Some(session) = session.filter(|s| Some(&s.sid) == i.sid.as_ref()) else {
            return Err(OAuthError::login_required("your session has ended"));
        };
        let client_id = params.require("client_id")?;
        store::withdraw_consent(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id, client_id, ctx.now).await?;
        Ok(Response::redirect(&ctx.endpoint("app")))
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) if e.status >= 500 => e.into_response(),
        Err(e) => e.into_page(forms::locale(ctx, req, None)),
    }
}

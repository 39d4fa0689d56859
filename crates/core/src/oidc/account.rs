//! The user's own page at `/{tenant}/{workspace}/app`: who is signed in, which applications they
//! allowed (with a way to withdraw each consent), sign-out. Also the default post-logout page.

use crate::authn::session;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::web::forms::{self, Stage};
use crate::oauth::authorize::passkeys;
use crate::web::pages::{self, AccountPasskeys, AccountView, PasskeyForm, PasskeyItem};
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
    let enabled = ctx.config.login.passkeys.enabled;
    let keys = if enabled { store::passkeys::for_user(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await? } else { Vec::new() };
    let (options, register, rename, delete) = (ctx.endpoint("passkeys/registration-options"), ctx.endpoint("passkeys/register"), ctx.endpoint("app/passkeys/rename"), ctx.endpoint("app/passkeys/delete"));
    let passkeys = enabled.then(|| AccountPasskeys {
        list: keys.iter().map(|k| PasskeyItem { id: &k.credential_id, name: &k.name, created_at: k.created_at, last_used_at: k.last_used_at }).collect(),
        register: PasskeyForm { options: &options, action: &register },
        rename_action: &rename,
        delete_action: &delete,
    });
    let mut page = pages::account(locale, Some(AccountView { passkeys, username: &user.username, consents: &consents, withdraw_action: &withdraw, logout_action: &logout, interaction: &blob }));
    if enabled {
        page = pages::with_script(page, &ctx.endpoint("passkeys.js"));
    }
    Ok(forms::with_cookie(page, set_cookie))
}

/// POST /app/passkeys/rename and /app/passkeys/delete: the signed-in user's own passkeys only.
pub async fn passkey_action<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, delete: bool) -> Response {
    let result = async {
        let params = req.form_params()?;
        let (user, _, _) = passkeys::account_user(ctx, req, &params).await?;
        let id = params.require("credential_id")?;
        let done = if delete {
            store::passkeys::delete(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id, id).await?
        } else {
            let name = params.require("name")?.trim();
            if name.is_empty() || name.chars().count() > 64 {
                return Err(OAuthError::invalid_request("a passkey's name has 1 to 64 characters"));
            }
            store::passkeys::rename(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id, id, name).await?
        };
        if !done {
            return Err(OAuthError::not_found("you have no such passkey"));
        }
        Ok(Response::redirect(&ctx.endpoint("app")))
    }
    .await;
    answer(ctx, req, result)
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
    answer(ctx, req, result)
}

/// An account-page action's answer: its redirect, or its error as a page (ours as the bare 500).
fn answer<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, result: Result<Response, OAuthError>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) if e.status >= 500 => e.into_response(),
        Err(e) => e.into_page(forms::locale(ctx, req, None)),
    }
}

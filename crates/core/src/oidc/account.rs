//! The user's own page at `/{tenant}/{workspace}/app`: who is signed in, which applications they
//! allowed (with a way to withdraw each consent), sign-out. Also the default post-logout page.

use crate::authn::session;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::web::forms::{self, Stage};
use crate::oauth::authorize::passkeys;
use crate::web::pages::{self, AccountPasskeys, AccountTotp, AccountView, PasskeyForm, PasskeyItem};
use crate::authn::otp;
use crate::oauth::authorize::codes;
use crate::crypto::{b64url, b64url_decode};
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
    let totp_on = ctx.config.login.totp.enabled;
    let enrolled = totp_on && store::otp::get_totp(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?.is_some();
    let (setup, remove) = (ctx.endpoint("app/totp/setup"), ctx.endpoint("app/totp/delete"));
    let totp = totp_on.then(|| AccountTotp { enrolled, setup_action: &setup, delete_action: &remove });
    let mut page = pages::account(locale, Some(AccountView { passkeys, totp, username: &user.username, consents: &consents, withdraw_action: &withdraw, logout_action: &logout, interaction: &blob }));
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

fn totp_enabled<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<(), OAuthError> {
    if ctx.config.login.totp.enabled {
        Ok(())
    } else {
        Err(OAuthError::invalid_request("authenticator apps are not enabled in this workspace"))
    }
}

/// The enrolment page for `secret`: its key, its QR code, the form that confirms it.
fn totp_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, user: &store::User, sid: &str, secret: &[u8], error: Option<&str>) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::TotpEnrol, Some(&b64url(secret)), Some(sid), None);
    let label = if ctx.config.name.is_empty() { ctx.workspace.as_str() } else { ctx.config.name.as_str() };
    let uri = otp::otpauth_uri(label, &user.username, secret);
    let locale = forms::locale(ctx, req, None);
    let qr = crate::web::qr::svg(&uri, pages::text(locale, "totp_setup")).unwrap_or_default();
    let mut page = pages::totp_setup(locale, &ctx.endpoint("app/totp/confirm"), &blob, &otp::base32(secret), &qr, error);
    if error.is_some() {
        page.status = 400;
    }
    forms::with_cookie(page, set_cookie)
}

/// POST /app/totp/setup: a new secret for the signed-in user, shown until a code confirms it
/// (nothing is stored before that: the secret travels sealed in the page's form).
pub async fn totp_setup<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let result = async {
        totp_enabled(ctx)?;
        let params = req.form_params()?;
        let (user, _, session) = passkeys::account_user(ctx, req, &params).await?;
        Ok(totp_page(ctx, req, &user, &session.sid, &otp::new_secret(ctx.rt.entropy()), None))
    }
    .await;
    answer(ctx, req, result)
}

/// POST /app/totp/confirm: the app's first code stores the secret (replacing an earlier app).
pub async fn totp_confirm<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let result = async {
        totp_enabled(ctx)?;
        let params = req.form_params()?;
        let i: forms::Interaction<String> = forms::resume(ctx, req, &params, Stage::TotpEnrol)?;
        let session = session::current(ctx, req).await?.filter(|s| Some(&s.sid) == i.sid.as_ref()).ok_or_else(|| OAuthError::login_required("your session has ended"))?;
        let user = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?.filter(|u| !u.disabled).ok_or_else(|| OAuthError::login_required("your session has ended"))?;
        let secret = i.ar.as_deref().and_then(b64url_decode).filter(|s| s.len() == otp::SECRET_LEN).ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
        if codes::enrol_totp(ctx, &user.id, &secret, params.get("code").unwrap_or("")).await? {
            return Ok(Response::redirect(&ctx.endpoint("app")));
        }
        let locale = forms::locale(ctx, req, None);
        Ok(totp_page(ctx, req, &user, &session.sid, &secret, Some(pages::text(locale, "code_wrong"))))
    }
    .await;
    answer(ctx, req, result)
}

/// POST /app/totp/delete: removes the signed-in user's authenticator app.
pub async fn totp_delete<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let result = async {
        let params = req.form_params()?;
        let (user, _, _) = passkeys::account_user(ctx, req, &params).await?;
        if !store::otp::delete_totp(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await? {
            return Err(OAuthError::not_found("you have no authenticator app"));
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

//! The user's own page at `/{tenant}/{workspace}/app`: who is signed in, which applications they
//! allowed (with a way to withdraw each consent), passkeys and the authenticator app, change
//! password, sign out everywhere, sign-out. Also the default post-logout page.

use crate::authn::throttle::{self, Guard, Verdict};
use crate::authn::{password, session};
use crate::crypto;
use crate::runtime::SsoSession;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::web::forms::{self, Stage};
use crate::oauth::authorize::{passkeys, self_service};
use crate::web::pages::{self, AccountPasskeys, AccountTotp, AccountView, PasskeyForm, PasskeyItem};
use crate::authn::otp;
use crate::oauth::authorize::codes;
use crate::crypto::{b64url, b64url_decode};
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store;

/// What the account page shows beyond the user's own data: a status line, or the password form's
/// error (and the status code it comes with).
#[derive(Default)]
struct Shown {
    notice: Option<&'static str>,
    password_error: Option<(pages::PasswordField, String)>,
    status: Option<u16>,
}

pub async fn page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    match page_inner(ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn page_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let locale = forms::locale(ctx, req, None);
    let Some(session) = session::current(ctx, req, session::Freshness::Latest).await? else {
        return Ok(pages::account(locale, None));
    };
    let Some(user) = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await? else {
        return Ok(pages::account(locale, None));
    };
    let changed = req.query_params().ok().is_some_and(|q| q.get("changed") == Some("password"));
    let notice = changed.then(|| pages::text(locale, "password_changed"));
    render(ctx, req, &session, &user, Shown { notice, ..Shown::default() }).await
}

/// The user's name as the heading shows it: `name`, else `given_name family_name`, else the username.
pub fn display_name(user: &store::User) -> String {
    let claim = |k: &str| user.claims.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(name) = claim("name") {
        return name.to_string();
    }
    let parts: Vec<&str> = [claim("given_name"), claim("family_name")].into_iter().flatten().collect();
    if parts.is_empty() {
        user.username.clone()
    } else {
        parts.join(" ")
    }
}

/// The signed-in user's page, with what `shown` adds.
async fn render<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, session: &SsoSession, user: &store::User, shown: Shown) -> Result<Response, OAuthError> {
    let locale = forms::locale(ctx, req, None);
    let listed = store::list_consents(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?;
    let consents: Vec<pages::AccountConsent<'_>> = listed
        .iter()
        .map(|c| pages::AccountConsent {
            client_id: &c.client_id,
            name: if c.client_name.is_empty() { &c.client_id } else { &c.client_name },
            scopes: c.scope.split_whitespace().map(|s| (s.to_string(), ctx.config.scope_description(s).to_string())).collect(),
            granted_at: c.granted_at,
        })
        .collect();
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
    let (password_action, everywhere) = (ctx.endpoint("app/password"), ctx.endpoint("app/sign-out-everywhere"));
    // Only a user with a password can change it (one who signs in through a provider has none here).
    let password = user.password_hash.is_some().then(|| pages::PasswordChange { action: &password_action, min_length: ctx.config.login.self_service.min_password_length.max(password::MIN_CHARS) as usize, error: shown.password_error });
    let name = display_name(user);
    let view = AccountView {
        passkeys,
        totp,
        name: &name,
        username: &user.username,
        consents: &consents,
        withdraw_action: &withdraw,
        logout_action: &logout,
        password,
        sign_out_everywhere_action: &everywhere,
        notice: shown.notice,
        interaction: &blob,
    };
    let mut page = pages::account(locale, Some(view));
    if let Some(status) = shown.status {
        page.status = status;
    }
    if enabled {
        page = pages::with_script(page, &ctx.endpoint("passkeys.js"));
    }
    Ok(forms::with_cookie(page, set_cookie))
}

/// POST /app/password: the current password (checked as a sign-in checks it, and counted against
/// the same lock), then the new one twice. A wrong or refused attempt shows the page again with
/// the error on its field and nothing changed; success stores the new hash, ends the user's other
/// sessions, and gives this browser a new session id (whoever held the old cookie is out).
pub async fn change_password<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let result = async {
        let params = req.form_params()?;
        let (user, _, session) = passkeys::account_user(ctx, req, &params).await?;
        if user.password_hash.is_none() {
            return Err(OAuthError::invalid_request("this account has no password to change"));
        }
        let locale = forms::locale(ctx, req, None);
        let t = |k| pages::text(locale, k);
        let (current, new, confirm) = (params.get("current_password").unwrap_or(""), params.get("new_password").unwrap_or(""), params.get("confirm_password").unwrap_or(""));
        let refuse = |field, message: String, status| Shown { password_error: Some((field, message)), status: Some(status), ..Shown::default() };
        // The new password's rules first (the one rule every password set here meets): a typo
        // there spends no guess on the current one.
        let email = user.claims.get("email").and_then(|v| v.as_str()).unwrap_or("");
        let problem = match password::check_new(new, &[&user.username, email], ctx.config.login.self_service.min_password_length) {
            Err(weak) => Some((pages::PasswordField::New, self_service::weak_text(locale, weak))),
            Ok(()) if new != confirm => Some((pages::PasswordField::Confirm, t("password_mismatch").to_string())),
            Ok(()) => None,
        };
        if let Some((field, message)) = problem {
            return render(ctx, req, &session, &user, refuse(field, message, 400)).await;
        }
        // The sign-in's lock and counters: a stolen session cannot guess the password faster
        // than the login form could, and a lock from either place holds in both.
        let mut guard = Guard::login(ctx, req, &user.username);
        if let Verdict::Locked { retry_after_secs } = guard.check(ctx, true).await? {
            return locked(ctx, req, &session, &user, retry_after_secs).await;
        }
        let verified = password::verify(ctx, &user.username, current).await?.is_some_and(|u| u.id == user.id);
        if !verified {
            if let Verdict::Locked { retry_after_secs } = guard.failed(ctx).await? {
                return locked(ctx, req, &session, &user, retry_after_secs).await;
            }
            return render(ctx, req, &session, &user, refuse(pages::PasswordField::Current, t("password_wrong").to_string(), 400)).await;
        }
        guard.succeeded(ctx).await?;
        let hash = crypto::hash_password(ctx.rt.entropy(), &ctx.config.login.password_hashing, new)?;
        // Every other session ends (the cut-off, with the new hash), this browser's goes on under a new id.
        if !store::sessions::change_password(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id, &hash, ctx.now, ctx.now_ms()).await? {
            return Err(OAuthError::login_required("your session has ended; sign in again"));
        }
        let (_, set_session) = session::rotate(ctx, req, &session).await?;
        Ok(forms::with_cookie(Response::redirect(&format!("{}?changed=password", ctx.endpoint("app"))), set_session))
    }
    .await;
    answer(ctx, req, result)
}

/// The account page again, 429 with `Retry-After`: the login name is locked.
async fn locked<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, session: &SsoSession, user: &store::User, retry_after_secs: i64) -> Result<Response, OAuthError> {
    let e = throttle::locked_error(retry_after_secs);
    let locale = forms::locale(ctx, req, None);
    let shown = Shown { password_error: Some((pages::PasswordField::Current, pages::text(locale, "too_many_attempts").to_string())), status: Some(e.status), ..Shown::default() };
    Ok(render(ctx, req, session, user, shown).await?.with_retry_after(&e).with_failure(&e))
}

/// POST /app/sign-out-everywhere: ends every session of the user, in every browser (the cut-off),
/// and revokes every grant (relying parties' refresh tokens fail with `invalid_grant`). This
/// browser's cookie is cleared and its session deleted at once.
pub async fn sign_out_everywhere<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let result = async {
        let params = req.form_params()?;
        let (user, _, _) = passkeys::account_user(ctx, req, &params).await?;
        store::sessions::end_all(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id, ctx.now_ms(), ctx.now).await?;
        let clear = session::end(ctx, req).await?;
        Ok(Response::redirect(&ctx.endpoint("app")).with_header("set-cookie", clear))
    }
    .await;
    answer(ctx, req, result)
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
        let session = session::current(ctx, req, session::Freshness::Latest).await?.filter(|s| Some(&s.sid) == i.sid.as_ref()).ok_or_else(|| OAuthError::login_required("your session has ended"))?;
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
        let session = session::current(ctx, req, session::Freshness::Latest).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(claims: serde_json::Value) -> store::User {
        store::User { id: "1".into(), username: "ada".into(), password_hash: None, claims: claims.as_object().cloned().unwrap_or_default(), disabled: false }
    }

    #[test]
    fn the_heading_names_the_user_by_name_then_given_and_family_names_then_username() {
        assert_eq!(display_name(&user(serde_json::json!({"name": "Ada Lovelace", "given_name": "A"}))), "Ada Lovelace");
        assert_eq!(display_name(&user(serde_json::json!({"name": " ", "given_name": "Ada", "family_name": "Lovelace"}))), "Ada Lovelace");
        assert_eq!(display_name(&user(serde_json::json!({"family_name": "Lovelace"}))), "Lovelace");
        assert_eq!(display_name(&user(serde_json::json!({"name": 7}))), "ada");
    }
}

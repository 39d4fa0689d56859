//! Self-service sign-up and forgotten passwords (`login.self_service`), from the sign-in page and
//! back into the authorization that sent the user there. Both prove an email address with a code
//! from `codes.rs` (6 digits, 5 minutes, 5 guesses, used once, stored hashed, one per 30 s), and
//! wrong codes count towards the name's sign-in lock as wrong passwords do.
//!
//! - Sign-up: the email address IS the username (lower-cased). A form that took a free username
//!   would have to say "taken"; with the address, every sign-up answers the same code page, and
//!   an address that already has an account (as username or as `email`) gets a stored code that
//!   is never sent and that no guess matches. The password is checked and Argon2-hashed at once;
//!   its hash waits in the code page's sealed state (encrypted, bound to this browser's CSRF
//!   cookie, 15 minutes), never stored. The right code creates the user (`email_verified`) and
//!   signs them in with the factor they proved: a code (`otp`, AAL1).
//! - Forgotten password: a username or email address; the same page whether an account exists or
//!   not, and a code only to an enabled user with a password and an address. The code and the new
//!   password come on one page; the right code replaces the password, revokes the user's grants
//!   (refresh tokens stop), clears the name's lock, and signs the user in with a code (`otp`).
//!   The user's other SSO sessions are not ended (sessions are not indexed by user).

use super::codes::{self, Checked, Purpose, Sent};
use super::{load_client, step_response, AuthRequest};
use crate::aal::Factors;
use crate::authn::password::{self, Weak};
use crate::authn::session::SignIn;
use crate::authn::throttle::{self, Guard, Verdict};
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Params, Request, Response};
use crate::runtime::Runtime;
use crate::store::{self, federation, User};
use crate::web::forms::{self, Interaction, Stage};
use crate::web::pages::{self, FieldError, Locale};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A sign-up's code page carries (sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignUpStep {
    ar: AuthRequest,
    email: String,
    /// The chosen password, Argon2id-hashed with the workspace's cost.
    password_hash: String,
    /// The code's id.
    sent: String,
    /// The subject the code must be of; none for an address that has an account (no code is).
    subject: Option<String>,
}

/// A forgotten password's page carries (sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResetStep {
    ar: AuthRequest,
    /// The name typed (its lock counts wrong codes, unless an account was found: then its username).
    name: String,
    /// The user a code was sent to; none when nothing was sent.
    user: Option<String>,
    sent: String,
}

/// An address as sign-up takes it: trimmed and lower-cased, one `@` with a local part (at most 64
/// bytes) and a dotted domain, no spaces, controls or characters that need quoting, at most 254
/// bytes in all (RFC 5321's limits).
pub fn email_address(typed: &str) -> Option<String> {
    let e = typed.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let plain = |c: char| !(c.is_whitespace() || c.is_control() || matches!(c, '@' | '<' | '>' | '"' | ',' | ';' | ':' | '(' | ')' | '[' | ']' | '\\'));
    let domain_ok = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains("..") && !domain.starts_with('-');
    let ok = e.len() <= 254 && !local.is_empty() && local.len() <= 64 && domain_ok && local.chars().all(plain) && domain.chars().all(plain);
    ok.then_some(e)
}

/// The words for a refused new password (sign-up, reset, the account page's change).
pub(crate) fn weak_text(locale: Locale, weak: Weak) -> String {
    match weak {
        Weak::TooShort(n) => pages::text(locale, "password_too_short").replace("{n}", &n.to_string()),
        Weak::TooLong => pages::text(locale, "password_too_long").to_string(),
        Weak::IsTheName => pages::text(locale, "password_is_name").to_string(),
    }
}

fn invalid_form() -> OAuthError {
    OAuthError::invalid_request("the form is invalid")
}

/// The form that was posted, counted like a sign-in form (a captured one stops working).
async fn counted<R: Runtime, A: serde::de::DeserializeOwned>(ctx: &Ctx<'_, R>, req: &Request, params: &Params, stage: Stage) -> Result<(Interaction<A>, A), OAuthError> {
    let mut i = forms::resume::<_, A>(ctx, req, params, stage)?;
    let a = i.ar.take().ok_or_else(invalid_form)?;
    if !throttle::login_form_post(ctx, &i.id, i.exp).await? {
        return Err(OAuthError::invalid_request("this page has expired (it was submitted too many times); start again from the application"));
    }
    Ok((i, a))
}

fn min_chars<R: Runtime>(ctx: &Ctx<'_, R>) -> u32 {
    ctx.config.login.self_service.min_password_length
}

/// A page with its status (a 4xx for the user's mistakes) and the fresh form's cookie.
fn with_status(mut page: Response, status: u16, set_cookie: Option<String>) -> Response {
    page.status = status;
    forms::with_cookie(page, set_cookie)
}

enum Guess {
    Right,
    /// Wrong, or the code is dead: the key of the page's text.
    Refused(&'static str),
    /// The name is locked: the 429 page.
    Locked(Response),
}

/// One guess at a self-service code, guessed like a password: a locked name is refused before the
/// code is looked at, a wrong code counts towards `name`'s sign-in lock, a right one clears it.
#[allow(clippy::too_many_arguments)]
async fn guess<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, locale: Locale, name: &str, sent: &str, code: &str, expected: Option<&str>, purpose: Purpose) -> Result<Guess, OAuthError> {
    let mut guard = Guard::login(ctx, req, name);
    if let Verdict::Locked { retry_after_secs } = guard.check(ctx, true).await? {
        return Ok(Guess::Locked(codes::locked_page(locale, retry_after_secs)));
    }
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(match codes::check_email_code(ctx, sent, &code, expected, purpose).await? {
        Checked::Right => {
            guard.succeeded(ctx).await?;
            Guess::Right
        }
        Checked::Wrong => match guard.failed(ctx).await? {
            Verdict::Locked { retry_after_secs } => Guess::Locked(codes::locked_page(locale, retry_after_secs)),
            Verdict::Allowed => Guess::Refused("code_wrong"),
        },
        Checked::Dead => Guess::Refused("code_dead"),
    })
}

// ---------------------------------------------------------------------------------------------
// Sign-up

/// POST signup: from the sign-in page (the interaction alone), the sign-up form; with `email`
/// and `password`, their checks, then the code page.
pub async fn sign_up<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, sign_up_inner(ctx, req).await)
}

fn sign_up_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, email: &str, error: Option<&FieldError<'_>>, status: u16) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Login, Some(ar), None, None);
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    with_status(pages::sign_up(locale, &ctx.endpoint("signup"), &blob, email, min_chars(ctx), error), status, set_cookie)
}

async fn sign_up_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    if params.get("email").is_none() {
        let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
        return Ok(sign_up_page(ctx, req, &i.ar.ok_or_else(invalid_form)?, "", None, 200));
    }
    let (_, ar) = counted::<_, AuthRequest>(ctx, req, &params, Stage::Login).await?;
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let typed = params.get("email").unwrap_or("");
    let Some(email) = email_address(typed) else {
        let e = FieldError { field: "email", message: pages::text(locale, "email_invalid") };
        let kept: String = typed.trim().chars().take(254).collect();
        return Ok(sign_up_page(ctx, req, &ar, &kept, Some(&e), 400));
    };
    let pw = params.get("password").unwrap_or("");
    if let Err(weak) = password::check_new(pw, &[&email], min_chars(ctx)) {
        let message = weak_text(locale, weak);
        return Ok(sign_up_page(ctx, req, &ar, &email, Some(&FieldError { field: "password", message: &message }), 400));
    }
    // Hashed before anything is looked up: an address with an account costs the same work.
    let password_hash = crypto::hash_password(ctx.rt.entropy(), &ctx.config.login.password_hashing, pw)?;
    let taken = store::get_user_by_username(ctx.db(), &ctx.tenant, &ctx.workspace, &email).await?.is_some()
        || !federation::users_matching(ctx.db(), &ctx.tenant, &ctx.workspace, "email", &Value::String(email.clone()), false).await?.is_empty();
    // One subject per address either way: the same row, the same 30-s limit, the same page.
    let subject = codes::subject(None, &email);
    let sent = match codes::send(ctx, &subject, (!taken).then_some(email.as_str()), Purpose::SignUp, locale).await? {
        Sent::Id(id) => id,
        Sent::TooSoon(secs) => return Ok(codes::too_soon(locale, secs)),
        Sent::Failed(e) => {
            let err = FieldError { field: "email", message: pages::text(locale, "code_not_sent") };
            return Ok(sign_up_page(ctx, req, &ar, &email, Some(&err), 200).with_failure(&e));
        }
    };
    let step = SignUpStep { ar, email, password_hash, sent, subject: (!taken).then_some(subject) };
    Ok(sign_up_code_page(ctx, req, &step, None, 200))
}

fn sign_up_code_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, step: &SignUpStep, error: Option<&str>, status: u16) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::SignUpCode, Some(step), None, None);
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    with_status(pages::code(locale, &ctx.endpoint("signup/verify"), &blob, true, error, None), status, set_cookie)
}

/// POST signup/verify: the code; the right one creates the account and signs it in.
pub async fn sign_up_verify<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, sign_up_verify_inner(ctx, req).await)
}

async fn sign_up_verify_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let (_, step) = counted::<_, SignUpStep>(ctx, req, &params, Stage::SignUpCode).await?;
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    match guess(ctx, req, locale, &step.email, &step.sent, params.get("code").unwrap_or(""), step.subject.as_deref(), Purpose::SignUp).await? {
        Guess::Right => {}
        Guess::Refused(key) => return Ok(sign_up_code_page(ctx, req, &step, Some(pages::text(locale, key)), 400)),
        Guess::Locked(page) => return Ok(page),
    }
    let client = load_client(ctx, &step.ar.client_id).await?;
    let mut claims = Map::new();
    claims.insert("email".into(), Value::String(step.email.clone()));
    claims.insert("email_verified".into(), Value::Bool(true));
    let user = User { id: crypto::random_id(ctx.rt.entropy()), username: step.email.clone(), password_hash: Some(step.password_hash.clone()), claims, disabled: false };
    // The address got an account between the form and the code: it stays its owner's, untouched.
    if !store::insert_user(ctx.db(), &ctx.tenant, &ctx.workspace, &user, ctx.now, federation::CREATED_BY_SIGN_UP, false).await? {
        return Ok(sign_up_code_page(ctx, req, &step, Some(pages::text(locale, "code_dead")), 400));
    }
    super::extensions::signed_in(ctx, req, &step.ar, &client, SignIn::local(ctx, &user.id, Factors::code()), Some(&user)).await
}

// ---------------------------------------------------------------------------------------------
// Forgotten password

/// POST password/forgot: from the sign-in page, the name form; with `username`, a code to the
/// account's address (when there is one to send to) and the page for the code and new password.
pub async fn forgot<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, forgot_inner(ctx, req).await)
}

fn forgot_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, name: &str, error: Option<&FieldError<'_>>, status: u16) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Login, Some(ar), None, None);
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    with_status(pages::forgot_password(locale, &ctx.endpoint("password/forgot"), &blob, name, error), status, set_cookie)
}

/// The account a name means: its username, else (exactly one) account with that email address.
async fn account_named<R: Runtime>(ctx: &Ctx<'_, R>, name: &str) -> Result<Option<User>, OAuthError> {
    if let Some(u) = store::get_user_by_username(ctx.db(), &ctx.tenant, &ctx.workspace, name).await? {
        return Ok(Some(u));
    }
    if !name.contains('@') {
        return Ok(None);
    }
    let mut found = federation::users_matching(ctx.db(), &ctx.tenant, &ctx.workspace, "email", &Value::String(name.to_string()), false).await?;
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// Who may reset a password here: an enabled user with a password (not a provider's user) and an
/// address to send the code to.
fn resettable(user: &User) -> bool {
    !user.disabled && user.password_hash.is_some() && codes::email_of(user).is_some()
}

async fn forgot_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    if params.get("username").is_none() {
        let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
        let ar = i.ar.ok_or_else(invalid_form)?;
        let hint = ar.login_hint.clone().unwrap_or_default();
        return Ok(forgot_page(ctx, req, &ar, &hint, None, 200));
    }
    let (_, ar) = counted::<_, AuthRequest>(ctx, req, &params, Stage::Login).await?;
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let name = params.get("username").unwrap_or("").trim();
    if name.is_empty() || name.len() > 256 {
        let e = FieldError { field: "username", message: pages::text(locale, "enter_name") };
        return Ok(forgot_page(ctx, req, &ar, "", Some(&e), 400));
    }
    let user = account_named(ctx, name).await?;
    let to = user.as_ref().filter(|u| resettable(u)).and_then(codes::email_of).map(str::to_string);
    let sent = match codes::send(ctx, &codes::subject(user.as_ref(), name), to.as_deref(), Purpose::PasswordReset, locale).await? {
        Sent::Id(id) => id,
        Sent::TooSoon(secs) => return Ok(codes::too_soon(locale, secs)),
        Sent::Failed(e) => {
            let err = FieldError { field: "username", message: pages::text(locale, "code_not_sent") };
            return Ok(forgot_page(ctx, req, &ar, name, Some(&err), 200).with_failure(&e));
        }
    };
    let step = ResetStep { ar, name: name.to_string(), user: user.filter(|_| to.is_some()).map(|u| u.id), sent };
    Ok(reset_page(ctx, req, &step, None, 200))
}

fn reset_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, step: &ResetStep, error: Option<&FieldError<'_>>, status: u16) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::ResetCode, Some(step), None, None);
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    with_status(pages::reset_password(locale, &ctx.endpoint("password/reset"), &blob, min_chars(ctx), error), status, set_cookie)
}

/// POST password/reset: the code and the new password.
pub async fn reset<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, reset_inner(ctx, req).await)
}

async fn reset_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let (_, step) = counted::<_, ResetStep>(ctx, req, &params, Stage::ResetCode).await?;
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    let user = match &step.user {
        Some(id) => store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, id).await?.filter(resettable),
        None => None,
    };
    // The new password's rules first: a weak one costs no guess at the code.
    let pw = params.get("password").unwrap_or("");
    let names: Vec<&str> = [Some(step.name.as_str()), user.as_ref().map(|u| u.username.as_str()), user.as_ref().and_then(codes::email_of)].into_iter().flatten().collect();
    if let Err(weak) = password::check_new(pw, &names, min_chars(ctx)) {
        let message = weak_text(locale, weak);
        return Ok(reset_page(ctx, req, &step, Some(&FieldError { field: "password", message: &message }), 400));
    }
    let wrong = |key| FieldError { field: "code", message: pages::text(locale, key) };
    // The lock of the account's username when one was found (the one its sign-ins count on).
    let name = user.as_ref().map_or(step.name.as_str(), |u| u.username.as_str());
    match guess(ctx, req, locale, name, &step.sent, params.get("code").unwrap_or(""), user.as_ref().map(|u| u.id.as_str()), Purpose::PasswordReset).await? {
        Guess::Right => {}
        Guess::Refused(key) => return Ok(reset_page(ctx, req, &step, Some(&wrong(key)), 400)),
        Guess::Locked(page) => return Ok(page),
    }
    let user = user.ok_or_else(|| OAuthError::server_error("a right reset code without its user"))?;
    let client = load_client(ctx, &step.ar.client_id).await?;
    let hash = crypto::hash_password(ctx.rt.entropy(), &ctx.config.login.password_hashing, pw)?;
    if !store::management::reset_user_password(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id, &hash, ctx.now).await? {
        return Ok(reset_page(ctx, req, &step, Some(&wrong("code_dead")), 400));
    }
    super::extensions::signed_in(ctx, req, &step.ar, &client, SignIn::local(ctx, &user.id, Factors::code()), Some(&user)).await
}

#[cfg(test)]
mod tests {
    use super::email_address;

    #[test]
    fn email_addresses_are_trimmed_lower_cased_and_plain() {
        assert_eq!(email_address("  Ann@Example.COM "), Some("ann@example.com".into()));
        assert_eq!(email_address("a.b+tag@mail.example.co"), Some("a.b+tag@mail.example.co".into()));
        for bad in ["", "ann", "@example.com", "ann@", "ann@example", "ann@.example.com", "ann@example.com.", "a@b@example.com", "ann @example.com", "ann@exa mple.com", "<ann@example.com>", "ann@example..com", "a\u{0}@example.com"] {
            assert_eq!(email_address(bad), None, "{bad:?}");
        }
        assert_eq!(email_address(&format!("{}@example.com", "a".repeat(65))), None);
        assert_eq!(email_address(&format!("{}@{}.com", "a".repeat(64), "b".repeat(185))), Some(format!("{}@{}.com", "a".repeat(64), "b".repeat(185))));
        assert_eq!(email_address(&format!("{}@{}.com", "a".repeat(64), "b".repeat(186))), None);
    }
}

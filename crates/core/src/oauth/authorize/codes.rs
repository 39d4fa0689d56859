//! One-time codes as a sign-in step (`authn::otp` holds the codes themselves), and the step-up
//! of a session below the assurance level an authorization requires (`aal`).
//!
//! - Step-up: `after_login` shows [`step_up`] instead of going on when the session's level is too
//!   low. The page offers what the user has that reaches the level: the authenticator app's code,
//!   a code by email (`codes/email` sends it, then the code page), a passkey (a new passkey
//!   sign-in). A right code starts a new session with both sign-ins' factors.
//! - First factor (`login.email_codes.first_factor`, `login.totp.first_factor`): the sign-in
//!   page's `login/code` takes a login name and answers the code page, the same page whether the
//!   name has an account or not (a code is stored either way; only a real user's is sent).
//!
//! - Self-service sign-up and forgotten passwords (`self_service.rs`) send and check the same
//!   codes ([`send`], [`check_email_code`]) under their own purposes.
//!
//! An emailed code: 6 digits, 5 minutes, 5 guesses, used once, stored as a hash bound to its
//! user and purpose; one per user and purpose every 30 s. It is delivered by the workspace's
//! webhook (a JWT signed by the workspace, `application/jwt`, through the guarded outbound path),
//! or by the deployment's email binding. An authenticator app's code: ±1 step, no step twice, and
//! wrong ones count towards the login name's lock like wrong passwords.

use super::{after_login, load_client, step_response, AuthRequest};
use crate::aal::{Aal, Factors};
use crate::authn::otp;
use crate::authn::session::{self, SignIn};
use crate::authn::throttle::{self, Guard, Verdict};
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::outbound;
use crate::runtime::{FetchLimits, Runtime, SsoSession};
use crate::store::{self, User};
use crate::tokens;
use crate::urls;
use crate::web::forms::{self, Stage};
use crate::web::pages::{self, Locale, PasskeyForm};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One code per user and purpose in this many seconds.
pub const RESEND_AFTER: i64 = 30;
const WEBHOOK_LIMITS: FetchLimits = FetchLimits { timeout_ms: 2000, max_bytes: 4096 };

/// What a code page carries (sealed in its form).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodeStep {
    ar: AuthRequest,
    /// The user the code must be of (a first factor for a name with no account: none).
    user: Option<String>,
    /// The login name typed (or the user's): wrong app codes count towards its lock.
    #[serde(default)]
    name: String,
    /// The emailed code's id, once one was sent; without, the code is the authenticator app's.
    sent: Option<String>,
    /// A step-up of the interaction's session (a stored one is read again; one that lives in this
    /// flow only, SSO being off, travels here).
    step_up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ephemeral: Option<SsoSession>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    SignIn,
    StepUp,
    /// A new account's email address (`self_service.rs`).
    SignUp,
    /// A forgotten password (`self_service.rs`).
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::StepUp => "step_up",
            Purpose::SignUp => "sign_up",
            Purpose::PasswordReset => "password_reset",
        }
    }

    /// The email's subject (the binding's; a webhook gets the purpose and words its own).
    fn email_subject(self) -> &'static str {
        match self {
            Purpose::SignIn | Purpose::StepUp => "code_email_subject",
            Purpose::SignUp => "code_email_subject_sign_up",
            Purpose::PasswordReset => "code_email_subject_reset",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Step-up

/// What a user can add to `have` that reaches `need`: the authenticator app, a code by email, a passkey.
struct Options {
    totp: bool,
    email: bool,
    passkey: bool,
}

async fn options<R: Runtime>(ctx: &Ctx<'_, R>, user: &User, have: Factors, need: Aal) -> Result<Options, OAuthError> {
    let login = &ctx.config.login;
    let code_reaches = have.with(Factors::code()).level().is_some_and(|l| l >= need);
    let totp = code_reaches && login.totp.enabled && store::otp::get_totp(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?.is_some();
    let email = code_reaches && login.email_codes.enabled && email_of(user).is_some();
    // A passkey sign-in is a sign-in of its own: a user-verified one reaches every level.
    let passkey = login.passkeys.enabled && !store::passkeys::for_user(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?.is_empty();
    Ok(Options { totp, email, passkey })
}

pub(crate) fn email_of(user: &User) -> Option<&str> {
    user.claims.get("email").and_then(Value::as_str).filter(|e| e.contains('@'))
}

/// The session is below `need`: the page that asks for what is missing (or, with `prompt=none`
/// or nothing the user could add, the error for the client).
pub async fn step_up<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, session: &SsoSession, need: Aal) -> Result<Response, OAuthError> {
    if ar.prompts("none") {
        return Err(OAuthError::interaction_required(format!("the sign-in must reach {}", need.as_str())));
    }
    let unmet = || OAuthError::unmet_authentication_requirements(format!("the user has no way to reach {} here", need.as_str()));
    // Only the identity pool's users have factors of ours to add.
    let local = session::context_of(session).is_none_or(|c| c.local_user);
    let user = if local { store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?.filter(|u| !u.disabled) } else { None };
    let Some(user) = user else { return Err(unmet()) };
    let have = Factors::from_amr(&session.amr);
    let o = options(ctx, &user, have, need).await?;
    if !(o.totp || o.email || o.passkey) {
        return Err(unmet());
    }
    let step = CodeStep { ar: ar.clone(), user: Some(user.id.clone()), name: user.username.clone(), sent: None, step_up: true, ephemeral: session.ephemeral.then(|| session.clone()) };
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Code, Some(&step), Some(&session.sid), None);
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let (options_url, action) = (ctx.endpoint("passkeys/assertion-options"), ctx.endpoint("passkeys/sign-in"));
    let login_blob = o.passkey.then(|| forms::begin(ctx, req, Stage::Login, Some(ar), None, None).0);
    let passkey = login_blob.as_deref().map(|b| (PasskeyForm { options: &options_url, action: &action }, b, user.username.as_str()));
    let page = pages::step_up(
        locale,
        need.as_str(),
        &blob,
        o.totp.then(|| ctx.endpoint("codes/verify")).as_deref(),
        o.email.then(|| ctx.endpoint("codes/email")).as_deref(),
        passkey.as_ref().map(|(f, b, u)| (f, *b, *u)),
    );
    let page = if o.passkey { pages::with_script(page, &ctx.endpoint("passkeys.js")) } else { page };
    Ok(forms::with_cookie(page, set_cookie))
}

/// POST codes/email: sends a code for the step-up of the form's session, then the code page.
pub async fn email<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, email_inner(ctx, req).await)
}

async fn email_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, CodeStep>(ctx, req, &params, Stage::Code)?;
    let mut step = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    if !step.step_up || !ctx.config.login.email_codes.enabled {
        return Err(OAuthError::invalid_request("codes by email are not offered here"));
    }
    let session = session_of(ctx, req, &step, i.sid.as_deref()).await?;
    let user = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?.filter(|u| !u.disabled).ok_or_else(ended)?;
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    match send(ctx, &subject(Some(&user), &user.username), email_of(&user), Purpose::StepUp, locale).await? {
        Sent::Id(id) => step.sent = Some(id),
        Sent::TooSoon(secs) => return Ok(too_soon(locale, secs)),
        Sent::Failed(e) => return Ok(code_page(ctx, req, &step, i.sid.as_deref(), Some(pages::text(locale, "code_not_sent")), 200).with_failure(&e)),
    }
    Ok(code_page(ctx, req, &step, i.sid.as_deref(), None, 200))
}

fn ended() -> OAuthError {
    OAuthError::login_required("your session has ended; sign in again")
}

/// The session a step-up form belongs to: the browser's live one it names (or the one it carries).
async fn session_of<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, step: &CodeStep, sid: Option<&str>) -> Result<SsoSession, OAuthError> {
    if let Some(s) = &step.ephemeral {
        return Ok(s.clone());
    }
    session::current(ctx, req, session::Freshness::Bounded).await?.filter(|s| Some(s.sid.as_str()) == sid).ok_or_else(ended)
}

/// The page of a code guessed while the name is locked: 429 with `Retry-After`, in the user's words.
pub(crate) fn locked_page(locale: Locale, retry_after_secs: i64) -> Response {
    OAuthError::temporarily_locked(retry_after_secs, pages::text(locale, "too_many_attempts")).into_page(locale)
}

pub(crate) fn too_soon(locale: Locale, secs: i64) -> Response {
    let e = OAuthError::temporarily_locked(secs, pages::text(locale, "code_too_soon"));
    e.into_page(locale)
}

fn code_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, step: &CodeStep, sid: Option<&str>, error: Option<&str>, status: u16) -> Response {
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Code, Some(step), sid, None);
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    // A step-up's emailed code can be sent again (within the resend limit) from its page.
    let resend = (step.step_up && step.sent.is_some()).then(|| ctx.endpoint("codes/email"));
    let mut page = pages::code(locale, &ctx.endpoint("codes/verify"), &blob, step.sent.is_some(), error, resend.as_deref());
    page.status = status;
    forms::with_cookie(page, set_cookie)
}

// ---------------------------------------------------------------------------------------------
// First factor

/// POST login/code: a code instead of a password. The page that asks for the code, alike for
/// every name; an emailed code is sent when email codes may sign in and the user has an address.
pub async fn start<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, start_inner(ctx, req).await)
}

async fn start_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    if !ctx.config.login.code_first_factor() {
        return Err(OAuthError::invalid_request("this workspace does not sign users in with a code alone"));
    }
    if !throttle::login_form_post(ctx, &i.id, i.exp).await? {
        return Err(OAuthError::invalid_request("this sign-in page has expired (it was submitted too many times); start again from the application"));
    }
    let name = params.get("username").unwrap_or("").trim();
    if name.is_empty() || name.len() > 256 {
        return Err(OAuthError::invalid_request("enter your username"));
    }
    let user = store::get_user_by_username(ctx.db(), &ctx.tenant, &ctx.workspace, name).await?.filter(|u| !u.disabled);
    let mut step = CodeStep { ar, user: user.as_ref().map(|u| u.id.clone()), name: name.to_string(), sent: None, step_up: false, ephemeral: None };
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    let email = &ctx.config.login.email_codes;
    if email.enabled && email.first_factor {
        match send(ctx, &subject(user.as_ref(), name), user.as_ref().and_then(email_of), Purpose::SignIn, locale).await? {
            Sent::Id(id) => step.sent = Some(id),
            Sent::TooSoon(secs) => return Ok(too_soon(locale, secs)),
            // Said alike for every name: an unknown one fails nothing (no delivery is tried).
            Sent::Failed(e) => return Ok(code_page(ctx, req, &step, None, Some(pages::text(locale, "code_not_sent")), 200).with_failure(&e)),
        }
    }
    Ok(code_page(ctx, req, &step, None, None, 200))
}

// ---------------------------------------------------------------------------------------------
// The code

/// POST codes/verify: an emailed code (when the page sent one) or the authenticator app's.
pub async fn verify<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, verify_inner(ctx, req).await)
}

async fn verify_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, CodeStep>(ctx, req, &params, Stage::Code)?;
    let step = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let sid = i.sid.as_deref();
    if !throttle::login_form_post(ctx, &i.id, i.exp).await? {
        return Err(OAuthError::invalid_request("this page has expired (it was submitted too many times); start again from the application"));
    }
    let session = if step.step_up { Some(session_of(ctx, req, &step, sid).await?) } else { None };
    let code: String = params.get("code").unwrap_or("").chars().filter(|c| !c.is_whitespace()).collect();
    let locale = forms::locale(ctx, req, step.ar.ui_locales.as_deref());
    let user = match &step.user {
        Some(id) => store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, id).await?.filter(|u| !u.disabled),
        None => None,
    };
    let purpose = if step.step_up { Purpose::StepUp } else { Purpose::SignIn };
    let totp_allowed = ctx.config.login.totp.enabled && (step.step_up || ctx.config.login.totp.first_factor);
    let emailed = match &step.sent {
        Some(id) => Some(check_email_code(ctx, id, &code, user.as_ref().map(|u| u.id.as_str()), purpose).await?),
        None => None,
    };
    // The page takes the emailed code, or the authenticator app's where that is accepted too.
    let verdict = match emailed {
        Some(Checked::Right) => Checked::Right,
        Some(v) if !totp_allowed => v,
        None if !totp_allowed => return Err(OAuthError::invalid_request("authenticator app codes are not accepted here")),
        emailed => {
            // Guessed like a password: wrong codes count towards the name's lock.
            let mut guard = Guard::login(ctx, req, &step.name);
            if let Verdict::Locked { retry_after_secs } = guard.check(ctx, true).await? {
                return Ok(locked_page(locale, retry_after_secs));
            }
            let ok = match &user {
                Some(u) => check_totp(ctx, &u.id, &code).await?,
                None => false,
            };
            if ok {
                guard.succeeded(ctx).await?;
                Checked::Right
            } else {
                if let Verdict::Locked { retry_after_secs } = guard.failed(ctx).await? {
                    return Ok(locked_page(locale, retry_after_secs));
                }
                emailed.unwrap_or(Checked::Wrong)
            }
        }
    };
    match verdict {
        Checked::Wrong => return Ok(code_page(ctx, req, &step, sid, Some(pages::text(locale, "code_wrong")), 400)),
        Checked::Dead => return Ok(code_page(ctx, req, &step, sid, Some(pages::text(locale, "code_dead")), 400)),
        Checked::Right => {}
    }
    let user = user.ok_or_else(|| OAuthError::server_error("a right code without its user"))?;
    let client = load_client(ctx, &step.ar.client_id).await?;
    match session {
        // The step-up: one session with both sign-ins' factors, signed in now.
        Some(old) => {
            let factors = Factors::from_amr(&old.amr).with(Factors::code());
            let sign_in = SignIn { context: session::context_of(&old), ..SignIn::local(ctx, &user.id, factors) };
            let (new, set_cookie) = session::start(ctx, req, sign_in).await?;
            Ok(forms::with_cookie(after_login(ctx, req, &step.ar, &client, &new).await, set_cookie))
        }
        None => super::extensions::signed_in(ctx, req, &step.ar, &client, SignIn::local(ctx, &user.id, Factors::code()), Some(&user)).await,
    }
}

pub(crate) enum Checked {
    Right,
    Wrong,
    /// The emailed code can take no more guesses: expired, used, or guessed at too often.
    Dead,
}

// ---------------------------------------------------------------------------------------------
// Emailed codes

pub(crate) enum Sent {
    Id(String),
    TooSoon(i64),
    /// Not delivered; the error (its cause for the log) goes with the page, which says so (a 200:
    /// the user's request was fine, and a 5xx is kept for failures of ours).
    Failed(OAuthError),
}

/// The subject a code is stored for: the user, or for a name with no account a hash of the name
/// (so an unknown name costs the same writes and is throttled the same).
pub(crate) fn subject(user: Option<&User>, name: &str) -> String {
    match user {
        Some(u) => u.id.clone(),
        None => format!("name:{}", crypto::sha256_b64url(throttle::login_name(name).as_bytes())),
    }
}

/// Stores a code for `subject` and sends it to `to`; with no address nothing is sent, and the
/// row, the limit and the answer are the same (a name with no account, or one that must not learn
/// of a code, looks like any other).
pub(crate) async fn send<R: Runtime>(ctx: &Ctx<'_, R>, subject: &str, to: Option<&str>, purpose: Purpose, locale: Locale) -> Result<Sent, OAuthError> {
    if let Some(last) = store::otp::last_code_sent(ctx.db(), &ctx.tenant, &ctx.workspace, subject, purpose.as_str()).await? {
        if ctx.now < last + RESEND_AFTER {
            return Ok(Sent::TooSoon(last + RESEND_AFTER - ctx.now));
        }
    }
    let code = otp::email_code(ctx.rt.entropy());
    if let Some(to) = to {
        if let Err(cause) = deliver(ctx, to, &code, purpose, locale).await {
            // The user waits for nothing: say so, and keep no code.
            return Ok(Sent::Failed(OAuthError::temporarily_unavailable("the code could not be sent").with_cause(format!("email code delivery: {cause}"))));
        }
    }
    let id = crypto::random_id(ctx.rt.entropy());
    let hash = otp::code_hash(purpose.as_str(), subject, &code);
    store::otp::insert_code(ctx.db(), &ctx.tenant, &ctx.workspace, &id, subject, purpose.as_str(), &hash, ctx.now + otp::EMAIL_CODE_TTL, ctx.now).await?;
    Ok(Sent::Id(id))
}

/// One guess at an emailed code: counted first (5 at most), then the code consumed if right.
/// `expected`: the subject the code must be of (none: no code can be right, every guess counts).
pub(crate) async fn check_email_code<R: Runtime>(ctx: &Ctx<'_, R>, id: &str, code: &str, expected: Option<&str>, purpose: Purpose) -> Result<Checked, OAuthError> {
    let Some((subject, stored_purpose)) = store::otp::attempt_code(ctx.db(), &ctx.tenant, &ctx.workspace, id, otp::EMAIL_CODE_ATTEMPTS, ctx.now).await? else {
        return Ok(Checked::Dead);
    };
    // A code is only ever its user's, for its purpose (the hash binds both too).
    if expected != Some(subject.as_str()) || stored_purpose != purpose.as_str() {
        return Ok(Checked::Wrong);
    }
    let hash = otp::code_hash(purpose.as_str(), &subject, code);
    Ok(if store::otp::consume_code(ctx.db(), &ctx.tenant, &ctx.workspace, id, &hash).await? { Checked::Right } else { Checked::Wrong })
}

/// Sends a code: to the workspace's webhook as a JWT it signs, else through the deployment's
/// email binding.
async fn deliver<R: Runtime>(ctx: &Ctx<'_, R>, to: &str, code: &str, purpose: Purpose, locale: Locale) -> Result<(), String> {
    let hook = &ctx.config.login.email_codes.webhook_url;
    if hook.is_empty() {
        let text = format!("{} {code}", pages::text(locale, "code_email_text"));
        return match ctx.rt.send_email(to, pages::text(locale, purpose.email_subject()), &text).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("no webhook_url, and the deployment has no email binding".into()),
            Err(e) => Err(e.to_string()),
        };
    }
    let url = urls::web_url(hook).map_err(|e| format!("webhook_url {e}"))?;
    if !urls::host_allowed(ctx.rt.extension_hosts(), &url) {
        return Err("webhook_url's host is not allowed by EXTENSION_HOSTS".into());
    }
    let claims = json!({
        "iss": ctx.issuer,
        "aud": hook,
        "iat": ctx.now,
        "exp": ctx.now + 60,
        "jti": crypto::random_id(ctx.rt.entropy()),
        "email": { "to": to, "code": code, "purpose": purpose.as_str(), "expires_in": otp::EMAIL_CODE_TTL, "locale": locale.tag() },
    });
    let jwt = tokens::sign(ctx, ctx.config.default_signing_alg, Some("JWT"), &claims).await.map_err(|e| e.description)?;
    let (status, _) = outbound::send_json_within(ctx.rt, "POST", hook, &[("content-type", "application/jwt")], Some(jwt.as_bytes()), WEBHOOK_LIMITS).await.map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("the webhook answered {status}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Authenticator apps

fn totp_seal_context<R: Runtime>(ctx: &Ctx<'_, R>, user_id: &str) -> String {
    format!("totp|{}/{}|{user_id}", ctx.tenant, ctx.workspace)
}

/// The user's authenticator app's code, at most once per step.
async fn check_totp<R: Runtime>(ctx: &Ctx<'_, R>, user_id: &str, code: &str) -> Result<bool, OAuthError> {
    let Some(t) = store::otp::get_totp(ctx.db(), &ctx.tenant, &ctx.workspace, user_id).await? else { return Ok(false) };
    let secret = crypto::open(ctx.rt.master_secret(), &totp_seal_context(ctx, user_id), &t.sealed_secret)?;
    let Some(step) = otp::verify_totp(&secret, code, ctx.now, Some(t.last_step)) else { return Ok(false) };
    Ok(store::otp::use_totp_step(ctx.db(), &ctx.tenant, &ctx.workspace, user_id, step).await?)
}

/// Enrols `secret` for the user if `code` is its current one (the app was set up right).
pub async fn enrol_totp<R: Runtime>(ctx: &Ctx<'_, R>, user_id: &str, secret: &[u8], code: &str) -> Result<bool, OAuthError> {
    let Some(step) = otp::verify_totp(secret, code.trim(), ctx.now, None) else { return Ok(false) };
    let sealed = crypto::seal(ctx.rt.master_secret(), &totp_seal_context(ctx, user_id), ctx.rt.entropy(), secret);
    store::otp::put_totp(ctx.db(), &ctx.tenant, &ctx.workspace, user_id, &sealed, step, ctx.now).await?;
    Ok(true)
}

/// Whether the workspace needs a step-up for this authorization, and the level.
pub fn needs_step_up<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession) -> Option<Aal> {
    crate::aal::required(ctx.config.login.aal_floor(), ar.aal).filter(|need| session::level(session) < *need)
}

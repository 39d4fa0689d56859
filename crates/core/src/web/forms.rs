//! The forms of the pages (login, consent, logout, the account page). Their state travels in the
//! page as a sealed (encrypted, authenticated, expiring) blob, so no storage write happens until
//! the user acts. CSRF: the blob carries a random value that must equal the browser's `ea_csrf`
//! cookie. What a step carries (an authorization request, say) is the step's own type `A`.

use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Params, Request, Response};
use crate::runtime::Runtime;
use crate::web::pages::Locale;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

pub const CSRF_COOKIE: &str = "ea_csrf";
/// How long a login or consent page stays usable.
const INTERACTION_TTL: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    Login,
    Consent,
    Logout,
    Account,
    /// The passkey offered right after a password sign-in (carries the authorization and the session).
    PasskeyOffer,
    /// A one-time code's page: the first factor, or a step-up of the session (`oauth::authorize::codes`).
    Code,
    /// An authenticator app being enrolled from the account page (carries its secret, sealed).
    TotpEnrol,
    /// A sign-up's code page (carries the address and the new password's Argon2 hash, sealed).
    SignUpCode,
    /// A forgotten password's page: the code and the new password.
    ResetCode,
}

/// A step's sealed state. `A` is what the step carries along (the authorization request of a login
/// or consent step); steps that carry nothing read it as [`IgnoredAny`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "A: Serialize", deserialize = "A: DeserializeOwned"))]
pub struct Interaction<A = IgnoredAny> {
    pub stage: Stage,
    pub csrf: String,
    pub exp: i64,
    /// A random id per form: a consent form may be posted once, a login form a bounded number of
    /// times (`authn::throttle::login_form_post`).
    #[serde(default)]
    pub id: String,
    #[serde(default = "none")]
    pub ar: Option<A>,
    /// The session the step belongs to (consent, logout, account actions).
    #[serde(default)]
    pub sid: Option<String>,
    /// Logout: where to go afterwards.
    #[serde(default)]
    pub redirect: Option<String>,
}

fn none<A>() -> Option<A> {
    None
}

fn seal_context<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    format!("interaction|{}/{}", ctx.tenant, ctx.workspace)
}

pub fn cookie<R: Runtime>(ctx: &Ctx<'_, R>, name: &str, value: &str, max_age: i64, same_site: &str) -> String {
    format!("{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; Secure; SameSite={same_site}", ctx.base_path())
}

/// The browser's CSRF value, or a fresh one with the cookie that sets it.
pub fn csrf_value<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> (String, Option<String>) {
    match req.cookie(CSRF_COOKIE).filter(|c| c.len() == 43) {
        Some(c) => (c, None),
        None => {
            let c = crypto::random_token(ctx.rt.entropy());
            let set = cookie(ctx, CSRF_COOKIE, &c, 86400, "Strict");
            (c, Some(set))
        }
    }
}

/// Seals a step's state for a form, returning the blob and a cookie to set (if the browser had none).
pub fn begin<R: Runtime, A: Serialize + Clone>(ctx: &Ctx<'_, R>, req: &Request, stage: Stage, ar: Option<&A>, sid: Option<&str>, redirect: Option<String>) -> (String, Option<String>) {
    let (csrf, set_cookie) = csrf_value(ctx, req);
    let i = Interaction { stage, csrf, exp: ctx.now + INTERACTION_TTL, id: crypto::random_id(ctx.rt.entropy()), ar: ar.cloned(), sid: sid.map(str::to_string), redirect };
    let json = serde_json::to_vec(&i).unwrap_or_default();
    (crypto::seal(ctx.rt.master_secret(), &seal_context(ctx), ctx.rt.entropy(), &json), set_cookie)
}

/// Opens the blob a form posted back and checks stage, expiry and CSRF.
pub fn resume<R: Runtime, A: DeserializeOwned>(ctx: &Ctx<'_, R>, req: &Request, params: &Params, stage: Stage) -> Result<Interaction<A>, OAuthError> {
    let blob = params.require("interaction")?;
    let raw = crypto::open(ctx.rt.master_secret(), &seal_context(ctx), blob).map_err(|_| OAuthError::invalid_request("the form is invalid; start again from the application"))?;
    let i: Interaction<A> = serde_json::from_slice(&raw).map_err(|_| OAuthError::invalid_request("the form is invalid; start again from the application"))?;
    if i.stage != stage {
        return Err(OAuthError::invalid_request("the form does not belong to this step"));
    }
    if i.exp <= ctx.now {
        return Err(OAuthError::invalid_request("the page has expired; start again from the application"));
    }
    let cookie = req.cookie(CSRF_COOKIE).unwrap_or_default();
    if !crypto::constant_time_eq(cookie.as_bytes(), i.csrf.as_bytes()) {
        return Err(OAuthError::access_denied("the form was not submitted from this browser (CSRF check failed)"));
    }
    Ok(i)
}

pub fn locale<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ui_locales: Option<&str>) -> Locale {
    Locale::negotiate(ui_locales, req.header("accept-language"), &ctx.config.default_locale)
}

pub fn with_cookie(resp: Response, set_cookie: Option<String>) -> Response {
    match set_cookie {
        Some(c) => resp.with_header("set-cookie", c),
        None => resp,
    }
}


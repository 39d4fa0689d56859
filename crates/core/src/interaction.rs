//! The login and consent steps of an authorization. Their state travels in the page as a sealed
//! (encrypted, authenticated, expiring) blob, so no storage write happens until the user acts.
//! CSRF: the blob carries a random value that must equal the browser's `ea_csrf` cookie.

use crate::authorize::{self, AuthRequest, SESSION_COOKIE};
use crate::clients::Client;
use crate::consents;
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{Params, Request, Response};
use crate::pages::{self, Locale};
use crate::runtime::{Runtime, SessionStore, SsoSession};
use crate::server::Ctx;
use crate::store;
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub stage: Stage,
    pub csrf: String,
    pub exp: i64,
    #[serde(default)]
    pub ar: Option<AuthRequest>,
    /// The session the step belongs to (consent, logout, account actions).
    #[serde(default)]
    pub sid: Option<String>,
    /// Logout: where to go afterwards.
    #[serde(default)]
    pub redirect: Option<String>,
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
pub fn begin<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, stage: Stage, ar: Option<&AuthRequest>, sid: Option<&str>, redirect: Option<String>) -> (String, Option<String>) {
    let (csrf, set_cookie) = csrf_value(ctx, req);
    let i = Interaction { stage, csrf, exp: ctx.now + INTERACTION_TTL, ar: ar.cloned(), sid: sid.map(str::to_string), redirect };
    let json = serde_json::to_vec(&i).unwrap_or_default();
    (crypto::seal(ctx.rt.master_secret(), &seal_context(ctx), ctx.rt.entropy(), &json), set_cookie)
}

/// Opens the blob a form posted back and checks stage, expiry and CSRF.
pub fn resume<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, params: &Params, stage: Stage) -> Result<Interaction, OAuthError> {
    let blob = params.require("interaction")?;
    let raw = crypto::open(ctx.rt.master_secret(), &seal_context(ctx), blob).map_err(|_| OAuthError::invalid_request("the form is invalid; start again from the application"))?;
    let i: Interaction = serde_json::from_slice(&raw).map_err(|_| OAuthError::invalid_request("the form is invalid; start again from the application"))?;
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

fn with_cookie(resp: Response, set_cookie: Option<String>) -> Response {
    match set_cookie {
        Some(c) => resp.with_header("set-cookie", c),
        None => resp,
    }
}

pub fn show_login<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, error: Option<&str>) -> Response {
    let (blob, set_cookie) = begin(ctx, req, Stage::Login, Some(ar), None, None);
    let locale = locale(ctx, req, ar.ui_locales.as_deref());
    with_cookie(pages::login(locale, &ctx.endpoint("login"), &blob, ar.login_hint.as_deref(), error), set_cookie)
}

fn interaction_error<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, e: OAuthError) -> Response {
    if e.status >= 500 {
        return e.into_response();
    }
    pages::error_page(locale(ctx, req, None), e.status, e.code, &e.description)
}

/// POST /login: checks the password, starts the SSO session, continues the authorization.
pub async fn login<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    match login_inner(ctx, req).await {
        Ok(r) => r,
        Err(e) => interaction_error(ctx, req, e),
    }
}

async fn login_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = resume(ctx, req, &params, Stage::Login)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let client = load_client(ctx, &ar.client_id).await?;
    let username = params.get("username").unwrap_or("").trim();
    let password = params.get("password").unwrap_or("");
    let user = if username.is_empty() || username.len() > 256 { None } else { store::get_user_by_username(ctx.db(), &ctx.tenant, &ctx.workspace, username).await? };
    let verified = match &user {
        Some(u) if !u.disabled && u.password_hash.is_some() => crypto::verify_password(password, u.password_hash.as_deref().unwrap_or("")),
        _ => {
            // Same work for unknown users, so timing does not tell which usernames exist.
            crypto::dummy_verify(&ctx.config.login.password_hashing, password);
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        let locale = locale(ctx, req, ar.ui_locales.as_deref());
        return Ok(show_login(ctx, req, &ar, Some(pages::text(locale, "invalid_credentials"))));
    };
    if let Some(old) = req.cookie(SESSION_COOKIE).filter(|s| s.len() >= 32 && s.len() <= 64) {
        ctx.rt.sessions().delete(&old).await?;
    }
    let session = SsoSession {
        sid: crypto::random_token(ctx.rt.entropy()),
        tenant: ctx.tenant.clone(),
        workspace: ctx.workspace.clone(),
        user_id: user.id.clone(),
        auth_time: ctx.now,
        amr: vec!["pwd".into()],
        acr: ctx.config.login_acr(),
        expires_at: ctx.now + ctx.config.session_ttl,
    };
    ctx.rt.sessions().create(&session).await?;
    let set = cookie(ctx, SESSION_COOKIE, &session.sid, ctx.config.session_ttl, "Lax");
    Ok(authorize::after_login(ctx, req, &ar, &client, &session).await.with_header("set-cookie", set))
}

async fn load_client<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str) -> Result<Client, OAuthError> {
    Ok(store::get_client(ctx.db(), &ctx.tenant, &ctx.workspace, client_id).await?.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?.client)
}

/// The consent page: the requested scopes, then (for an Open Finance consent) its `permissions`.
pub fn show_consent<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, session: &SsoSession, permissions: &[String]) -> Response {
    let (blob, set_cookie) = begin(ctx, req, Stage::Consent, Some(ar), Some(&session.sid), None);
    let locale = locale(ctx, req, ar.ui_locales.as_deref());
    let scopes: Vec<(String, String)> = ar
        .scope
        .split_whitespace()
        .map(|s| (s.to_string(), ctx.config.scopes.get(s).map(|c| c.description.clone()).unwrap_or_default()))
        .chain(permissions.iter().map(|p| (p.clone(), String::new())))
        .collect();
    let name = if client.client_name.is_empty() { &client.client_id } else { &client.client_name };
    with_cookie(pages::consent(locale, &ctx.endpoint("consent"), &blob, name, &scopes), set_cookie)
}

/// POST /consent: records the user's decision and completes the authorization.
pub async fn consent<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    match consent_inner(ctx, req).await {
        Ok(r) => r,
        Err(e) => interaction_error(ctx, req, e),
    }
}

async fn consent_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = resume(ctx, req, &params, Stage::Consent)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let session = authorize::current_session(ctx, req).await?;
    let Some(session) = session.filter(|s| Some(&s.sid) == i.sid.as_ref()) else {
        return Err(OAuthError::login_required("your session has ended; start again from the application"));
    };
    load_client(ctx, &ar.client_id).await?;
    let allow = match params.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(OAuthError::invalid_request("decision must be allow or deny")),
    };
    if let Some(id) = &ar.consent_id {
        // An Open Finance consent: AUTHORISED or REJECTED (CUSTOMER_MANUALLY_REJECTED), once.
        if !consents::decide(ctx, id, &session.user_id, allow).await? {
            return Ok(authorize::respond(ctx, &ar, Err(OAuthError::access_denied("the consent no longer awaits authorisation"))).await);
        }
    }
    if !allow {
        return Ok(authorize::respond(ctx, &ar, Err(OAuthError::access_denied("the user denied the request"))).await);
    }
    if ctx.config.consent.remember && ar.consent_id.is_none() {
        let previous = store::get_consent(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id, &ar.client_id).await?.unwrap_or_default();
        let mut scopes: Vec<&str> = previous.split_whitespace().collect();
        for s in ar.scope.split_whitespace() {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        scopes.sort_unstable();
        store::save_consent(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id, &ar.client_id, &scopes.join(" "), ctx.now).await?;
    }
    Ok(authorize::issue_code(ctx, &ar, &session).await)
}

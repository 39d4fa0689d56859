//! The extensions step of an authorization: between a sign-in (the password form, an identity
//! provider) and the session, the workspace's post-authentication extensions run in order
//! (`crate::extensions`); then the session starts and the authorization goes on to consent.
//!
//! A `redirect` extension sends the browser to the customer's application with a `state` JWT
//! (signed by the workspace, for the application's URL, 10 minutes); the sign-in so far travels
//! in the `ea_ext` cookie, sealed for this workspace (`SameSite=Lax`: the application sends the
//! browser back with a top-level navigation). The application returns it to
//! `/extensions/resume` with `result`, a JWT signed by a key the extension registered, naming the
//! state's `jti`; the state is consumed once. A result that is tampered, expired, replayed or
//! another sign-in's is refused with a page: no journey can be trusted to carry an error to a client.
//!
//! Nothing is stored before the chain ends: a sign-in that an extension denies leaves no session.

use super::{after_login, load_client, respond, AuthRequest};
use crate::authn::session::{self, SignIn};
use crate::config::client::Client;
use crate::config::extensions::{Extension, ExtensionType, OnFailure, REDIRECT_TTL};
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::extensions::{self, Failure, Pending, RequestFacts, ResultError};
use crate::http::{form_encode, Request, Response};
use crate::runtime::Runtime;
use crate::store::{self, User};
use crate::tokens;
use crate::web::forms;
use crate::web::pages;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const JOURNEY_COOKIE: &str = "ea_ext";
const JOURNEY_COOKIE_SET: &str = "ea_ext=";
/// Browsers keep cookies up to about 4 KB; a journey that would not fit is a failure of the extension.
const MAX_COOKIE_VALUE: usize = 3800;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journey {
    /// The `jti` of the state sent to the application.
    id: String,
    /// The `redirect` extension that awaits its result.
    ext: String,
    exp: i64,
    ar: AuthRequest,
    pending: Pending,
}

fn seal_context<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    format!("ext-journey|{}/{}", ctx.tenant, ctx.workspace)
}

/// After a sign-in: the extensions that apply to it, then the session and consent. `user` is the
/// signed-in user of a password sign-in when the caller has it (saves reading it again).
pub async fn signed_in<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, sign_in: SignIn, user: Option<&User>) -> Result<Response, OAuthError> {
    let idp = sign_in.context.as_ref().map_or(crate::authn::context::POOL, |c| c.idp()).to_string();
    if crate::config::extensions::chain(&ctx.config.extensions, &idp).is_empty() {
        return start_session(ctx, req, ar, client, sign_in).await;
    }
    let stored;
    let user = match (user, &sign_in.context) {
        (Some(u), _) => Some(u),
        (None, None) => {
            stored = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &sign_in.user_id).await?;
            stored.as_ref()
        }
        (None, Some(_)) => None,
    };
    let pending = Pending::new(sign_in, user, ctx.now);
    run(ctx, req, ar, client, pending, None).await
}

async fn start_session<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, sign_in: SignIn) -> Result<Response, OAuthError> {
    let password_only = sign_in.context.is_none() && sign_in.amr == ["pwd"];
    let (session, set_cookie) = session::start(ctx, req, sign_in).await?;
    // Right after a password sign-in, a user with no passkey is offered one (or goes on).
    if password_only {
        if let Some(page) = super::passkeys::offer(ctx, req, ar, &session).await? {
            return Ok(forms::with_cookie(page, set_cookie));
        }
    }
    Ok(forms::with_cookie(after_login(ctx, req, ar, client, &session).await, set_cookie))
}

fn facts<'a>(req: &'a Request, ar: &'a AuthRequest) -> RequestFacts<'a> {
    RequestFacts { client_id: &ar.client_id, scope: &ar.scope, ui_locales: ar.ui_locales.as_deref(), consent_id: ar.consent_id.as_deref(), user_agent: req.header("user-agent").filter(|u| u.len() <= 512) }
}

/// Runs the chain after extension `after` (from its start when `None`) and, at its end, starts
/// the session. A `redirect` leaves the loop with the browser.
async fn run<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, mut pending: Pending, after: Option<&str>) -> Result<Response, OAuthError> {
    let chain = crate::config::extensions::chain(&ctx.config.extensions, &pending.idp);
    let from = after.and_then(|id| chain.iter().position(|e| e.id == id)).map_or(0, |i| i + 1);
    let mut skipped = None;
    for ext in &chain[from..] {
        let before = pending.clone();
        let outcome = match ext.kind {
            ExtensionType::Transform => extensions::transform(ext, &mut pending, &ctx.config.authn_context),
            ExtensionType::Call => extensions::call(ctx, ext, &mut pending, &facts(req, ar)).await,
            ExtensionType::Redirect => match redirect_out(ctx, req, ar, ext, &pending).await {
                Ok(r) => return Ok(r),
                Err(f) => Err(f),
            },
        };
        if let Err(f) = outcome {
            if ext.on_failure == OnFailure::Deny || f.is_decision() {
                return Ok(denied(ctx, req, ar, ext, &f).await);
            }
            // `continue`: the sign-in goes on without this extension's changes; logged.
            skipped.get_or_insert_with(|| skipped_error(ext, &f));
            pending = before;
        }
    }
    let resp = start_session(ctx, req, ar, client, pending.into_sign_in()).await?;
    Ok(match skipped {
        Some(e) if resp.failure.is_none() => resp.with_failure(&e),
        _ => resp,
    })
}

/// The log line of an extension skipped under `continue` (the request itself goes on).
fn skipped_error(ext: &Extension, f: &Failure) -> OAuthError {
    OAuthError { code: "extension_skipped", ..OAuthError::access_denied("an extension failed and was skipped") }.with_cause(format!("extension {}: {f}", ext.id))
}

/// A denied sign-in: the user sees why (the customer's own reason, or a plain sentence for a
/// failure, whose cause only the log gets) with the way back to the application, which gets
/// `access_denied`. A form-post response is sent as it is (it carries the error itself).
async fn denied<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, ext: &Extension, f: &Failure) -> Response {
    let e = OAuthError::access_denied("the sign-in was refused by a post-authentication extension").with_cause(format!("extension {}: {f}", ext.id));
    let to_client = respond(ctx, ar, Err(e.clone())).await;
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let reason = match f {
        Failure::Denied(why) => why.clone(),
        _ => pages::text(locale, "extension_failed").to_string(),
    };
    match to_client.header("location").map(str::to_string) {
        Some(location) => pages::extension_denied(locale, &reason, &location).with_failure(&e),
        None => to_client.with_failure(&e),
    }
}

/// Sends the browser to a `redirect` extension's application.
async fn redirect_out<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, ext: &Extension, pending: &Pending) -> Result<Response, Failure> {
    let url = crate::urls::web_url(&ext.url).map_err(|e| Failure::Transport(format!("the URL {e}")))?;
    if !crate::urls::host_allowed(ctx.rt.extension_hosts(), &url) {
        return Err(Failure::HostNotAllowed);
    }
    let id = crypto::random_id(ctx.rt.entropy());
    let claims = extensions::token_claims(ctx, ext, pending, &facts(req, ar), &id, REDIRECT_TTL);
    let state = tokens::sign(ctx, ctx.config.default_signing_alg, Some("JWT"), &claims).await.map_err(|e| Failure::Ours(e.description))?;
    let journey = Journey { id, ext: ext.id.clone(), exp: ctx.now + REDIRECT_TTL, ar: ar.clone(), pending: pending.clone() };
    let sealed = crypto::seal(ctx.rt.master_secret(), &seal_context(ctx), ctx.rt.entropy(), &serde_json::to_vec(&journey).unwrap_or_default());
    if sealed.len() > MAX_COOKIE_VALUE {
        return Err(Failure::Ours(format!("the sign-in is too large to travel in a cookie ({} bytes)", sealed.len())));
    }
    let sep = if ext.url.contains('?') { '&' } else { '?' };
    let resume = ctx.endpoint("extensions/resume");
    let location = format!("{}{sep}{}", ext.url, form_encode([("state", state.as_str()), ("resume_uri", resume.as_str())]));
    let cookie = forms::cookie(ctx, JOURNEY_COOKIE, &sealed, REDIRECT_TTL, "Lax");
    Ok(Response::redirect(&location).with_header("set-cookie", cookie))
}

/// GET or POST /extensions/resume: the application's result. The journey's cookie is cleared
/// once the journey is over (the sign-in goes on, or is denied); a refused result leaves it, so
/// the application's genuine result still completes the sign-in.
pub async fn resume<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    match resume_inner(ctx, req).await {
        // A later `redirect` in the chain sets the cookie anew: then it stays.
        Ok(r) if r.headers.iter().any(|(k, v)| k == "set-cookie" && v.starts_with(JOURNEY_COOKIE_SET)) => r,
        Ok(r) => r.with_header("set-cookie", forms::cookie(ctx, JOURNEY_COOKIE, "", 0, "Lax")),
        Err(e) if e.code == "server_error" => e.into_response(),
        Err(e) => e.into_page(forms::locale(ctx, req, None)),
    }
}

async fn resume_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = if req.method == "POST" { req.form_params()? } else { req.query_params()? };
    let invalid = |why: &str| OAuthError::invalid_request(format!("{why}; start again from the application"));
    let sealed = req.cookie(JOURNEY_COOKIE).filter(|c| !c.is_empty()).ok_or_else(|| OAuthError::access_denied("this sign-in was not started in this browser, or it is over"))?;
    let raw = crypto::open(ctx.rt.master_secret(), &seal_context(ctx), &sealed).map_err(|_| invalid("this sign-in cannot be completed"))?;
    let j: Journey = serde_json::from_slice(&raw).map_err(|_| invalid("this sign-in cannot be completed"))?;
    if j.exp <= ctx.now {
        return Err(invalid("this sign-in took too long"));
    }
    let ext = ctx.config.extensions.iter().find(|e| e.id == j.ext && e.kind == ExtensionType::Redirect && e.enabled).ok_or_else(|| invalid("the step this sign-in was in no longer exists"))?;
    let result = params.get("result").filter(|r| !r.is_empty()).ok_or_else(|| invalid("the application sent no result"))?;
    let claims = extensions::verify_result(ctx, ext, result, &j.id).await.map_err(|e| {
        let why = match e {
            ResultError::Signature(_) => "the application's answer is not valid",
            ResultError::Audience => "the application's answer was meant for another server",
            ResultError::Expired => "the application's answer has expired",
            ResultError::OtherFlow => "the application's answer belongs to another sign-in",
        };
        invalid(why).with_cause(format!("extension {}: {e}", ext.id))
    })?;
    if !store::use_jti(ctx.db(), &ctx.tenant, &ctx.workspace, &format!("extension:{}", ext.id), &format!("ext-state:{}", j.id), j.exp).await? {
        return Err(invalid("this answer was already used"));
    }
    let client = load_client(ctx, &j.ar.client_id).await?;
    let mut pending = j.pending.clone();
    if let Err(f) = pending.merge(&Value::Object(claims), &ctx.config.authn_context) {
        if ext.on_failure == OnFailure::Deny || f.is_decision() {
            return Ok(denied(ctx, req, &j.ar, ext, &f).await);
        }
        let resp = run(ctx, req, &j.ar, &client, j.pending, Some(&ext.id)).await?;
        return Ok(if resp.failure.is_some() { resp } else { resp.with_failure(&skipped_error(ext, &f)) });
    }
    run(ctx, req, &j.ar, &client, pending, Some(&ext.id)).await
}

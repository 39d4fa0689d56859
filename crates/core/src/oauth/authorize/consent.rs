//! The consent step: the page that shows what the client asks for (and, for an Open Finance
//! consent, its permissions), and its form post, which records the decision and issues the code.

use super::{respond, response, step_response, AuthRequest};
use crate::authn::session;
use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::oauth::authorization_details::Shown;
use crate::open_finance::consents;
use crate::runtime::{Runtime, SsoSession};
use crate::store;
use crate::web::forms::{self, Stage};
use crate::web::pages;
use serde::{Deserialize, Serialize};

/// What the consent form carries: the authorization request and, with `sso_enabled: false`, the
/// authentication itself, as there is no stored session to find it in. (Sealed: only this server
/// can read or make one, for this workspace, for 15 minutes, and only with the browser's CSRF cookie.)
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ConsentStep {
    #[serde(flatten)]
    ar: AuthRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authenticated: Option<SsoSession>,
}

/// The consent page: the requested scopes, then (for an Open Finance consent) its `permissions`,
/// then each authorization detail (a summary line, and its JSON in a disclosure).
pub fn show<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, session: &SsoSession, permissions: &[String], details: &[Shown]) -> Response {
    let step = ConsentStep { ar: ar.clone(), authenticated: (!ctx.config.sso_enabled || session.ephemeral).then(|| session.clone()) };
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::Consent, Some(&step), Some(&session.sid), None);
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let scopes: Vec<(String, String)> = ar
        .scope
        .split_whitespace()
        .map(|s| (s.to_string(), ctx.config.scope_description(s).to_string()))
        .chain(permissions.iter().map(|p| (p.clone(), String::new())))
        // Claims asked for by name beyond what the scopes release: shown, so the user consents to them too.
        .chain(super::request::claims_beyond_scopes(&ctx.config, ar).into_iter().map(|c| (c.to_string(), String::new())))
        .collect();
    let details: Vec<pages::DetailView> = details.iter().map(|d| pages::DetailView { title: &d.title, summary: &d.summary, json: &d.json }).collect();
    forms::with_cookie(pages::consent(locale, &ctx.endpoint("consent"), &blob, &pages::AppView::of(client), &scopes, &details), set_cookie)
}

/// POST /consent: records the user's decision and completes the authorization.
pub async fn post<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, post_inner(ctx, req).await)
}

async fn post_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, ConsentStep>(ctx, req, &params, Stage::Consent)?;
    let step = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let ar = step.ar;
    let session = match step.authenticated {
        // No stored session: the authentication of this flow, sealed into its consent form.
        Some(s) if (!ctx.config.sso_enabled || s.ephemeral) && s.tenant == ctx.tenant && s.workspace == ctx.workspace => Some(s),
        _ => session::current(ctx, req, session::Freshness::Bounded).await?,
    };
    let Some(session) = session.filter(|s| Some(&s.sid) == i.sid.as_ref()) else {
        return Err(OAuthError::login_required("your session has ended; start again from the application"));
    };
    super::load_client(ctx, &ar.client_id).await?;
    let allow = match params.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(OAuthError::invalid_request("decision must be allow or deny")),
    };
    // One decision per form: a second post of the same form (a double click, a replay) issues nothing.
    let once = format!("consent-form:{}", i.id);
    if i.id.is_empty() || !store::use_jti(ctx.db(), &ctx.tenant, &ctx.workspace, &ar.client_id, &once, i.exp).await? {
        return Err(OAuthError::invalid_request("this form was already submitted; start again from the application"));
    }
    if let Some(id) = &ar.consent_id {
        // An Open Finance consent: AUTHORISED or REJECTED (CUSTOMER_MANUALLY_REJECTED), once.
        if !consents::decide(ctx, id, &session.user_id, allow).await? {
            return Ok(respond(ctx, &ar, Err(OAuthError::access_denied("the consent no longer awaits authorisation"))).await);
        }
    }
    if !allow {
        return Ok(respond(ctx, &ar, Err(OAuthError::access_denied("the user denied the request"))).await);
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
    Ok(response::issue_code(ctx, &ar, &session).await)
}

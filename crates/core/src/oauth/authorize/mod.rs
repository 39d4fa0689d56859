//! The authorization endpoint (response_type `code`, and `code id_token` for the OIDC hybrid flow).
//! The request is checked in order: client and redirect_uri first (failures are shown, never
//! redirected), then the pipeline of `request.rs` (failures go back to the client in the
//! authorization response, in the response mode it asked for, JARM included), then SSO session,
//! login (`login.rs`, or an identity provider: `upstream.rs`), the post-authentication extensions
//! (`extensions.rs`), consent (`consent.rs`), and issuing (`response.rs`).

pub mod codes;
pub mod consent;
pub mod extensions;
pub mod login;
pub mod passkeys;
pub mod request;
pub mod response;
pub mod self_service;
pub mod upstream;

pub use request::{check_redirect_uri_registered, validate, AuthRequest, Endpoint};
pub use response::{issue_code, respond, Issued};

use crate::authn::session;
use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Params, Request, Response};
use crate::oauth::{authorization_details, request_object};
use crate::oauth::response_mode::ResponseMode;
use crate::open_finance::consents;
use crate::runtime::{Runtime, SsoSession};
use crate::store;
use crate::tokens;
use crate::web::pages::Locale;

/// An error shown on a page because it cannot safely be sent to a redirect URI.
fn error_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ui_locales: Option<&str>, e: OAuthError) -> Response {
    let locale = Locale::negotiate(ui_locales, req.header("accept-language"), &ctx.config.default_locale);
    e.into_page(locale)
}

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let params = if req.method == "POST" { req.form_params() } else { req.query_params() };
    let params = match params {
        Ok(p) => p,
        Err(e) => return error_page(ctx, req, None, e),
    };
    let ui_locales = params.get("ui_locales");
    let client = match known_client(ctx, &params).await {
        Ok(c) => c,
        Err(e) => return error_page(ctx, req, ui_locales, e),
    };
    let ar = if let Some(uri) = params.get("request_uri") {
        // Pushed earlier (and checked then): failures are shown, as the redirect_uri is inside.
        match pushed_request(ctx, &client, &params, uri).await {
            Ok(ar) => ar,
            Err(e) => return error_page(ctx, req, ui_locales, e),
        }
    } else {
        let params = match request_object::resolve(ctx, &client, &params).await {
            Ok(p) => p,
            Err(e) => return error_page(ctx, req, ui_locales, e),
        };
        let (params, signed) = params;
        if let Err(e) = check_redirect_uri_registered(&client, &params) {
            return error_page(ctx, req, ui_locales, e);
        }
        let redirect_uri = params.get("redirect_uri").unwrap_or_default().to_string();
        let state = params.get("state").map(str::to_string);
        let mode = ResponseMode::for_error(params.get("response_type"), params.get("response_mode"));
        let rar = match authorization_details::types_for(ctx, &params).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        match validate(&ctx.config, &client, &params, Endpoint::Authorize, signed, rar.as_deref()) {
            Ok(ar) => ar,
            Err(e) => return response::authorization_response(ctx, &client.client_id, &redirect_uri, mode, state.as_deref(), Err(e)).await,
        }
    };
    if let Err(e) = check_consent_awaiting(ctx, &client, &ar).await {
        return respond(ctx, &ar, Err(e)).await;
    }
    let session = match session::current(ctx, req, session::Freshness::Bounded).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let needs_login = match &session {
        None => true,
        // max_age=0 always re-authenticates (auth_time has one-second resolution, so `>` alone would
        // let a login from this same second through).
        Some(s) => ar.prompts("login") || ar.max_age.is_some_and(|m| m == 0 || ctx.now - s.auth_time > m),
    };
    if needs_login {
        if ar.prompts("none") {
            return respond(ctx, &ar, Err(OAuthError::login_required("the user is not signed in"))).await;
        }
        let providers = match ctx.identity_providers().await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        if let Some(idp) = upstream::direct(&providers.enabled(), &ar, ctx.config.login.password_enabled) {
            return upstream::start(ctx, &ar, idp).await;
        }
        return login::show(ctx, req, &ar, None).await;
    }
    let session = session.expect("checked above");
    after_login(ctx, req, &ar, &client, &session).await
}

/// The client named by `client_id` must exist.
async fn known_client<R: Runtime>(ctx: &Ctx<'_, R>, params: &Params) -> Result<Client, OAuthError> {
    let client_id = params.get("client_id").ok_or_else(|| OAuthError::invalid_request("client_id is missing"))?;
    if let Some(c) = upstream::workspace_client(ctx, client_id).await? {
        return Ok(c);
    }
    let client = ctx.client(client_id).await?.ok_or_else(|| OAuthError::invalid_client("unknown client").with_status(400))?;
    Ok(client.client.clone())
}

/// The prefix of every `request_uri` the PAR endpoint hands out (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Consumes a pushed request (single use, this client's, not expired) and returns it.
async fn pushed_request<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, params: &Params, uri: &str) -> Result<AuthRequest, OAuthError> {
    if params.get("request").is_some() {
        return Err(OAuthError::invalid_request("send request or request_uri, not both"));
    }
    let invalid = || OAuthError { code: "invalid_request_uri", ..OAuthError::invalid_request("request_uri is invalid, expired, already used, or was pushed by another client") };
    let Some(id) = uri.strip_prefix(REQUEST_URI_PREFIX).filter(|id| !id.is_empty() && id.len() <= 128) else {
        return Err(OAuthError { code: "invalid_request_uri", ..OAuthError::invalid_request("only request_uri values from this server's PAR endpoint are accepted") });
    };
    let stored = store::par::consume(ctx.db(), &ctx.tenant, &ctx.workspace, &client.client_id, &tokens::hash_secret_token(id), ctx.now).await?.ok_or_else(invalid)?;
    serde_json::from_str(&stored).map_err(|e| OAuthError::server_error(e.to_string()))
}

/// A consent-bound request (`consent:{id}`) needs that consent to exist, to belong to the client,
/// and still to await authorisation (60 minutes after its creation it is REJECTED). Runs at PAR,
/// and again at the authorization endpoint (time passes between the two).
pub async fn check_consent_awaiting<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, ar: &AuthRequest) -> Result<(), OAuthError> {
    let Some(id) = &ar.consent_id else { return Ok(()) };
    match consents::current(ctx, id).await? {
        Some(c) if c.client_id == client.client_id && c.status == consents::AWAITING => Ok(()),
        Some(c) if c.client_id == client.client_id => Err(OAuthError::invalid_request(format!("the consent is {}, not awaiting authorisation", c.status))),
        _ => Err(OAuthError::invalid_request("the consent does not exist")),
    }
}

/// After the user is known: the user-context policies of the requested details, then consent if
/// needed, else the code.
pub async fn after_login<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, session: &SsoSession) -> Response {
    // Below the assurance level this authorization requires: stepped up, not refused.
    if let Some(need) = codes::needs_step_up(ctx, ar, session) {
        return match codes::step_up(ctx, req, ar, session, need).await {
            Ok(r) => r,
            Err(e) if e.code == "server_error" => e.into_response(),
            Err(e) => respond(ctx, ar, Err(e)).await,
        };
    }
    let shown = match &ar.authorization_details {
        None => Vec::new(),
        Some(details) => match user_policies(ctx, ar, client, session, details).await {
            Ok(s) => s,
            Err(e) => return respond(ctx, ar, Err(e)).await,
        },
    };
    if let Some(id) = &ar.consent_id {
        return match open_finance_consent_page(ctx, req, ar, client, session, id, &shown).await {
            Ok(r) => r,
            Err(e) => respond(ctx, ar, Err(e)).await,
        };
    }
    let needs_consent = || async {
        if ar.prompts("none") {
            respond(ctx, ar, Err(OAuthError::consent_required("the user has not consented to this request"))).await
        } else {
            consent::show(ctx, req, ar, client, session, &[], &shown)
        }
    };
    match consent_check(ctx, ar, client) {
        ConsentCheck::NotNeeded => issue_code(ctx, ar, session).await,
        ConsentCheck::Needed => needs_consent().await,
        // The remembered consent is checked by the batch that writes the grant and code.
        ConsentCheck::Remembered => match response::issue(ctx, ar, session, true).await {
            Some(response) => response,
            None => needs_consent().await,
        },
    }
}

/// The user-context policies of each requested detail's type (AUT-9611), with the sign-in's
/// authentication context; then what the consent page shows of the details.
async fn user_policies<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, client: &Client, session: &SsoSession, details: &[serde_json::Value]) -> Result<Vec<authorization_details::Shown>, OAuthError> {
    let rar = ctx.rich_authorization().await?;
    if !rar.enabled {
        return Err(OAuthError::invalid_request("rich authorization requests are not enabled"));
    }
    let has_policy = details.iter().any(|d| d.get("type").and_then(|t| t.as_str()).and_then(|t| rar.types.get(t)).is_some_and(|t| t.policies.user.is_some()));
    if has_policy {
        let context = session::context_of(session);
        // A pool user's attributes are its stored ones (read only when a policy needs them).
        let user = match &context {
            Some(c) if !c.local_user => None,
            _ => store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?,
        };
        let authn = authorization_details::authn_value(&session.user_id, &session.acr, &session.amr, session.auth_time, context.as_ref(), user.as_ref().map(|u| &u.claims));
        let request = serde_json::json!({ "client_id": ar.client_id, "scope": ar.scope, "redirect_uri": ar.redirect_uri, "response_type": ar.response_type.as_str() });
        authorization_details::check_policies(&rar, details, crate::policy::PolicyContext::User, client, &request, &authn)?;
    }
    Ok(authorization_details::shown(Some(&rar), details))
}

/// A consent-bound authorization always asks the user (no remembered consent, no skip) and shows
/// the consent's permissions; only the user the consent names (`loggedUser`, by CPF) may decide it.
async fn open_finance_consent_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, session: &SsoSession, id: &str, shown: &[authorization_details::Shown]) -> Result<Response, OAuthError> {
    let c = consents::current(ctx, id).await?.filter(|c| c.status == consents::AWAITING).ok_or_else(|| OAuthError::access_denied("the consent no longer awaits authorisation"))?;
    let user = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?;
    let cpf = user.as_ref().and_then(|u| u.claims.get("cpf")).and_then(|v| v.as_str());
    if cpf.is_none() || cpf != consents::logged_user_cpf(&c) {
        return Err(OAuthError::access_denied("the signed-in user is not the customer this consent was created for"));
    }
    if ar.prompts("none") {
        return Err(OAuthError::consent_required("the user must authorise the consent"));
    }
    Ok(consent::show(ctx, req, ar, client, session, &consents::permissions(&c), shown))
}

enum ConsentCheck {
    NotNeeded,
    Needed,
    /// Needed unless the user's remembered consent covers every requested scope.
    Remembered,
}

fn consent_check<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, client: &Client) -> ConsentCheck {
    if !ctx.config.consent.required || client.skip_consent {
        ConsentCheck::NotNeeded
    } else if ar.prompts("consent") || !ctx.config.consent.remember || !request::claims_beyond_scopes(&ctx.config, ar).is_empty() || ar.authorization_details.is_some() {
        // Authorization details describe this one transaction: a remembered consent to scopes never covers them.
        ConsentCheck::Needed
    } else {
        ConsentCheck::Remembered
    }
}

/// A step's answer: its response, or its error as a page (a failure of ours as the bare 500).
fn step_response<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, result: Result<Response, OAuthError>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) if e.code == "server_error" => e.into_response(),
        Err(e) => e.into_page(crate::web::forms::locale(ctx, req, None)),
    }
}

async fn load_client<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str) -> Result<Client, OAuthError> {
    if let Some(c) = upstream::workspace_client(ctx, client_id).await? {
        return Ok(c);
    }
    Ok(store::get_client(ctx.db(), &ctx.tenant, &ctx.workspace, client_id).await?.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?.client)
}

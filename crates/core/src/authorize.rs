//! The authorization endpoint (response_type `code`, and `code id_token` for the OIDC hybrid flow).
//! The request is checked in order: client and redirect_uri first (failures are shown, never
//! redirected), then everything else (failures go back to the client in the authorization
//! response, in the response mode it asked for, JARM included), then SSO session, login and consent.

use crate::clients::Client;
use crate::config::GRANT_AUTHORIZATION_CODE;
use crate::consents;
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{form_encode, Params, Request, Response};
use crate::interaction;
use crate::pages::{self, Locale};
use crate::request_object::{self, invalid_request_object};
use crate::response_mode::{self, Delivery, ResponseMode, ResponseType};
use crate::runtime::{Runtime, SessionStore, SsoSession};
use crate::server::Ctx;
use crate::store::{self, Grant, NewCode};
use crate::token::valid_pkce_value;
use crate::tokens::{self, Authentication};
use serde::{Deserialize, Serialize};

pub const SESSION_COOKIE: &str = "ea_session";

/// A validated authorization request, carried through login and consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    #[serde(default)]
    pub response_type: ResponseType,
    /// Where the response goes (query, fragment, form_post) and whether as a JARM JWT.
    #[serde(default)]
    pub response_mode: ResponseMode,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// The Open Finance consent this authorization decides (`consent:{id}` in `scope`).
    #[serde(default)]
    pub consent_id: Option<String>,
    /// Claims the `claims` parameter asked for in the ID token (OIDC Core 5.5), e.g. `cpf`, `cnpj`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_claims: Vec<String>,
}

impl AuthRequest {
    pub fn prompts(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }
}

/// What the token endpoint needs from the authorization request, stored with the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRequest {
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_claims: Vec<String>,
}

/// An error shown on a page because it cannot safely be sent to a redirect URI.
fn error_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ui_locales: Option<&str>, e: OAuthError) -> Response {
    let locale = Locale::negotiate(ui_locales, req.header("accept-language"), &ctx.config.default_locale);
    pages::error_page(locale, e.status, e.code, &e.description)
}

/// Which endpoint is checking an authorization request: the authorization endpoint itself, or
/// PAR (RFC 9126), which runs the same checks before the browser ever arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Par,
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
        match validate(ctx, &client, &params, Endpoint::Authorize, signed) {
            Ok(ar) => ar,
            Err(e) => return authorization_response(ctx, &client.client_id, &redirect_uri, mode, state.as_deref(), Err(e)).await,
        }
    };
    if let Err(e) = check_consent_awaiting(ctx, &client, &ar).await {
        return respond(ctx, &ar, Err(e)).await;
    }
    let session = match current_session(ctx, req).await {
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
        return interaction::show_login(ctx, req, &ar, None);
    }
    let session = session.expect("checked above");
    after_login(ctx, req, &ar, &client, &session).await
}

/// The client named by `client_id` must exist.
async fn known_client<R: Runtime>(ctx: &Ctx<'_, R>, params: &Params) -> Result<Client, OAuthError> {
    let client_id = params.get("client_id").ok_or_else(|| OAuthError::invalid_request("client_id is missing"))?;
    let client = ctx.client(client_id).await?.ok_or_else(|| OAuthError::invalid_client("unknown client").with_status(400))?;
    Ok(client.client.clone())
}

/// `redirect_uri` must exactly match one the client registered.
pub fn check_redirect_uri_registered(client: &Client, params: &Params) -> Result<(), OAuthError> {
    let uri = params.get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    if !client.redirect_uris.iter().any(|r| r == uri) {
        return Err(OAuthError::invalid_request("redirect_uri is not registered for this client"));
    }
    Ok(())
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

/// Every check of an authorization request, in order. Both endpoints run all of them except where
/// the row says otherwise:
///
/// | check                                  | authorize | PAR |
/// |----------------------------------------|-----------|-----|
/// | check_request_uri_not_nested           |           |  x  |
/// | check_par_used                         |     x     |     |
/// | check_request_object_used              |     x     |  x  |
/// | check_response_type                    |     x     |  x  |
/// | check_response_mode                    |     x     |  x  |
/// | check_code_flow_allowed                |     x     |  x  |
/// | check_scope                            |     x     |  x  |
/// | check_id_token_response                |     x     |  x  |
/// | check_pkce                             |     x     |  x  |
/// | check_prompt, check_max_age            |     x     |  x  |
/// | check_id_token_hint_allowed            |     x     |  x  |
/// | check_claims_parameter                 |     x     |  x  |
///
/// Client authentication (PAR) and `check_redirect_uri_registered` run before, as their failures
/// are never sent to a redirect URI. `signed` says whether `p` came from a verified request object.
pub fn validate<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, p: &Params, endpoint: Endpoint, signed: bool) -> Result<AuthRequest, OAuthError> {
    if endpoint == Endpoint::Par {
        check_request_uri_not_nested(p)?;
    } else {
        check_par_used(ctx, client)?;
    }
    check_request_object_used(ctx, client, signed)?;
    let response_type = check_response_type(ctx, client, p)?;
    let response_mode = check_response_mode(p, response_type)?;
    check_code_flow_allowed(ctx, client)?;
    let scope = check_scope(ctx, client, p)?;
    check_id_token_response(p, response_type, &scope)?;
    let code_challenge = check_pkce(ctx, client, p)?;
    let prompt = check_prompt(p)?;
    let max_age = check_max_age(p)?;
    check_id_token_hint_allowed(ctx, p)?;
    let id_token_claims = check_claims_parameter(ctx, p)?;
    let short = |name: &str| -> Result<Option<String>, OAuthError> {
        match p.get(name) {
            Some(v) if v.len() > 512 => Err(OAuthError::invalid_request(format!("{name} is too long"))),
            v => Ok(v.map(str::to_string)),
        }
    };
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: p.get("redirect_uri").unwrap_or_default().to_string(),
        state: short("state")?,
        nonce: short("nonce")?,
        code_challenge,
        response_type,
        response_mode,
        prompt,
        max_age,
        login_hint: short("login_hint")?,
        ui_locales: short("ui_locales")?,
        consent_id: consents::consent_id_in(&scope).map(str::to_string),
        scope,
        id_token_claims,
    })
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

/// RFC 9126 §2.1: a pushed request cannot itself point at another `request_uri`.
fn check_request_uri_not_nested(p: &Params) -> Result<(), OAuthError> {
    if p.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request("request_uri is not allowed at the PAR endpoint"));
    }
    Ok(())
}

/// RFC 9126 §5-6: the workspace (or the profile) or the client may require PAR. Requests that come
/// through PAR never reach this check (they arrive as a `request_uri`).
fn check_par_used<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client) -> Result<(), OAuthError> {
    if ctx.config.par_required() || client.require_pushed_authorization_requests {
        return Err(OAuthError::invalid_request("pushed authorization requests (PAR) are required: push the request to the PAR endpoint and send its request_uri"));
    }
    Ok(())
}

/// RFC 9101 §10.5 / FAPI: the workspace (or the profile) or the client may require a signed request object.
fn check_request_object_used<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, signed: bool) -> Result<(), OAuthError> {
    if !signed && (ctx.config.request_object_required() || client.require_signed_request_object) {
        return Err(invalid_request_object("a signed request object (the request parameter) is required"));
    }
    Ok(())
}

/// `code`, or `code id_token` (OIDC Core 3.3) where the workspace offers it (under `fapi_br` only
/// when switched on) and the client registered it in `response_types`.
fn check_response_type<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, p: &Params) -> Result<ResponseType, OAuthError> {
    let value = p.get("response_type").ok_or_else(|| OAuthError::invalid_request("response_type is missing"))?;
    let unsupported = || OAuthError::unsupported_response_type(format!("response_type '{}' is not supported", value.chars().take(64).collect::<String>()));
    let rt = ResponseType::parse(value).ok_or_else(unsupported)?;
    if rt == ResponseType::CodeIdToken {
        if !ctx.config.code_id_token_enabled() {
            return Err(unsupported());
        }
        if !client.allows_response_type(rt.as_str()) {
            return Err(OAuthError::unauthorized_client("this client has not registered the response type 'code id_token'"));
        }
    }
    Ok(rt)
}

/// query, fragment, form_post, and their JARM forms; never the query for an ID token.
fn check_response_mode(p: &Params, rt: ResponseType) -> Result<ResponseMode, OAuthError> {
    ResponseMode::resolve(p.get("response_mode"), rt)
}

/// An ID token in the authorization response needs the `openid` scope, and a `nonce` to bind it to
/// the client's session (OIDC Core 3.3.2.11: nonce is required for the hybrid flow).
fn check_id_token_response(p: &Params, rt: ResponseType, scope: &str) -> Result<(), OAuthError> {
    if !rt.has_id_token() {
        return Ok(());
    }
    if !scope.split_whitespace().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("response_type 'code id_token' needs the openid scope"));
    }
    if p.get("nonce").is_none_or(str::is_empty) {
        return Err(OAuthError::invalid_request("nonce is required with response_type 'code id_token'"));
    }
    Ok(())
}

fn check_code_flow_allowed<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client) -> Result<(), OAuthError> {
    if !client.allows_grant(GRANT_AUTHORIZATION_CODE) || !ctx.config.grant_enabled(GRANT_AUTHORIZATION_CODE) {
        return Err(OAuthError::unauthorized_client("this client may not use the authorization code flow"));
    }
    Ok(())
}

/// Every scope must be defined by the workspace and allowed for the client; returns them de-duplicated.
fn check_scope<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, p: &Params) -> Result<String, OAuthError> {
    let scope = p.get("scope").ok_or_else(|| OAuthError::invalid_scope("scope is missing"))?;
    let allowed: Vec<&str> = client.allowed_scopes().collect();
    let mut scopes: Vec<&str> = Vec::new();
    for s in scope.split_whitespace() {
        if let Some(id) = s.strip_prefix(consents::SCOPE_PREFIX) {
            // The consent-bound scope of the Brazil profile: for clients allowed the consents or the
            // payments API; whether the consent exists and awaits authorisation is checked next
            // (check_consent_awaiting).
            let api_client = allowed.contains(&consents::CONSENTS_SCOPE) || allowed.contains(&consents::PAYMENTS_SCOPE);
            if !ctx.config.fapi_br() || !api_client || !consents::plausible_id(id) {
                return Err(OAuthError::invalid_scope(format!("scope '{s}' is not allowed for this client")));
            }
            if scopes.iter().any(|x| x.starts_with(consents::SCOPE_PREFIX) && *x != s) {
                return Err(OAuthError::invalid_scope("one consent per authorization request"));
            }
        } else if !allowed.contains(&s) || !ctx.config.scopes.contains_key(s) {
            return Err(OAuthError::invalid_scope(format!("scope '{s}' is not allowed for this client")));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    Ok(scopes.join(" "))
}

/// PKCE with S256 only; required of public clients, and of every client under the Brazil profile
/// (FAPI 1 Advanced 5.2.2-18 with PAR).
fn check_pkce<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, p: &Params) -> Result<Option<String>, OAuthError> {
    let code_challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (Some(c), Some("S256")) if valid_pkce_value(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => return Err(OAuthError::invalid_request("code_challenge is malformed")),
        (Some(_), None) | (Some(_), Some("plain")) => return Err(OAuthError::invalid_request("code_challenge_method must be S256 (plain is not allowed)")),
        (_, Some(m)) if m != "S256" => return Err(OAuthError::invalid_request(format!("code_challenge_method '{m}' is not supported"))),
        (None, Some(_)) => return Err(OAuthError::invalid_request("code_challenge_method without code_challenge")),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("code_challenge is malformed")),
    };
    if code_challenge.is_none() && client.is_public() {
        return Err(OAuthError::invalid_request("PKCE (code_challenge with S256) is required for public clients"));
    }
    if code_challenge.is_none() && ctx.config.fapi_br() {
        return Err(OAuthError::invalid_request("PKCE (code_challenge with S256) is required under the fapi_br profile"));
    }
    Ok(code_challenge)
}

fn check_prompt(p: &Params) -> Result<Vec<String>, OAuthError> {
    let prompt: Vec<String> = p.get("prompt").unwrap_or("").split_whitespace().map(str::to_string).collect();
    for x in &prompt {
        if !matches!(x.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(OAuthError::invalid_request(format!("prompt '{x}' is not supported")));
        }
    }
    if prompt.len() > 1 && prompt.iter().any(|x| x == "none") {
        return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
    }
    Ok(prompt)
}

fn check_max_age(p: &Params) -> Result<Option<i64>, OAuthError> {
    match p.get("max_age") {
        None => Ok(None),
        Some(m) => Ok(Some(m.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer"))?)),
    }
}

/// The Brazil profile refuses `id_token_hint`: the ID token is signed, not encrypted, and would
/// carry personal data through the browser.
fn check_id_token_hint_allowed<R: Runtime>(ctx: &Ctx<'_, R>, p: &Params) -> Result<(), OAuthError> {
    if ctx.config.fapi_br() && p.get("id_token_hint").is_some() {
        return Err(OAuthError::invalid_request("id_token_hint is not accepted under the fapi_br profile"));
    }
    Ok(())
}

/// Claims a client may ask for by name with the `claims` parameter: those a scope of the
/// workspace releases, and the Brazilian `cpf` and `cnpj`.
fn requestable_claim<R: Runtime>(ctx: &Ctx<'_, R>, name: &str) -> bool {
    matches!(name, "cpf" | "cnpj") || ctx.config.scopes.values().any(|s| s.claims.iter().any(|c| c == name))
}

/// OIDC Core 5.5: `claims` is a JSON object with `id_token` and/or `userinfo` members. Returns the
/// names asked for in the ID token that this server can release (others are ignored, as 5.5 says;
/// `userinfo` requests are accepted, and userinfo answers by scope).
fn check_claims_parameter<R: Runtime>(ctx: &Ctx<'_, R>, p: &Params) -> Result<Vec<String>, OAuthError> {
    let Some(raw) = p.get("claims") else { return Ok(Vec::new()) };
    let bad = || OAuthError::invalid_request("claims must be a JSON object with id_token and/or userinfo objects (OIDC Core 5.5)");
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad())?;
    let obj = v.as_object().ok_or_else(bad)?;
    let mut names = Vec::new();
    for (member, requested) in obj {
        let Some(requested) = requested.as_object() else {
            if requested.is_null() {
                continue;
            }
            return Err(bad());
        };
        for (name, spec) in requested {
            if !(spec.is_null() || spec.is_object()) {
                return Err(bad());
            }
            if member == "id_token" && requestable_claim(ctx, name) && !names.contains(name) && names.len() < 32 {
                names.push(name.clone());
            }
        }
    }
    Ok(names)
}

/// The browser's SSO session for this workspace, if it has a live one.
pub async fn current_session<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Option<SsoSession>, OAuthError> {
    if !ctx.config.sso_enabled {
        return Ok(None);
    }
    let Some(sid) = req.cookie(SESSION_COOKIE).filter(|s| s.len() >= 32 && s.len() <= 64) else { return Ok(None) };
    let s = ctx.rt.sessions().get(&sid).await?;
    Ok(s.filter(|s| s.tenant == ctx.tenant && s.workspace == ctx.workspace && s.expires_at > ctx.now))
}

/// After the user is known: consent if needed, else the code.
pub async fn after_login<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, session: &SsoSession) -> Response {
    if let Some(id) = &ar.consent_id {
        return match open_finance_consent_page(ctx, req, ar, client, session, id).await {
            Ok(r) => r,
            Err(e) => respond(ctx, ar, Err(e)).await,
        };
    }
    let needs_consent = || async {
        if ar.prompts("none") {
            respond(ctx, ar, Err(OAuthError::consent_required("the user has not consented to this request"))).await
        } else {
            interaction::show_consent(ctx, req, ar, client, session, &[])
        }
    };
    match consent_check(ctx, ar, client) {
        ConsentCheck::NotNeeded => issue_code(ctx, ar, session).await,
        ConsentCheck::Needed => needs_consent().await,
        // The remembered consent is checked by the batch that writes the grant and code.
        ConsentCheck::Remembered => match issue(ctx, ar, session, true).await {
            Some(response) => response,
            None => needs_consent().await,
        },
    }
}

/// A consent-bound authorization always asks the user (no remembered consent, no skip) and shows
/// the consent's permissions; only the user the consent names (`loggedUser`, by CPF) may decide it.
async fn open_finance_consent_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, client: &Client, session: &SsoSession, id: &str) -> Result<Response, OAuthError> {
    let c = consents::current(ctx, id).await?.filter(|c| c.status == consents::AWAITING).ok_or_else(|| OAuthError::access_denied("the consent no longer awaits authorisation"))?;
    let user = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?;
    let cpf = user.as_ref().and_then(|u| u.claims.get("cpf")).and_then(|v| v.as_str());
    if cpf.is_none() || cpf != consents::logged_user_cpf(&c) {
        return Err(OAuthError::access_denied("the signed-in user is not the customer this consent was created for"));
    }
    if ar.prompts("none") {
        return Err(OAuthError::consent_required("the user must authorise the consent"));
    }
    Ok(interaction::show_consent(ctx, req, ar, client, session, &consents::permissions(&c)))
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
    } else if ar.prompts("consent") || !ctx.config.consent.remember {
        ConsentCheck::Needed
    } else {
        ConsentCheck::Remembered
    }
}

/// Creates the grant and its one-time code, and sends the code (and, for `code id_token`, the
/// front-channel ID token) to the client.
pub async fn issue_code<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession) -> Response {
    match issue(ctx, ar, session, false).await {
        Some(response) => response,
        None => OAuthError::server_error("the code was not stored").into_response(),
    }
}

/// [`issue_code`]; with `if_consented`, only when the user's remembered consent covers every
/// requested scope, checked in the same round trip as the writes: `None`, and nothing written
/// (nothing sent), when it does not.
async fn issue<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession, if_consented: bool) -> Option<Response> {
    let code = crypto::random_token(ctx.rt.entropy());
    // Signed before anything is stored, so a signing failure leaves no code behind.
    let id_token = if ar.response_type.has_id_token() {
        match front_channel_id_token(ctx, ar, session, &code).await {
            Ok(t) => Some(t),
            Err(e) => return Some(respond(ctx, ar, Err(e)).await),
        }
    } else {
        None
    };
    let grant = Grant {
        id: crypto::random_id(ctx.rt.entropy()),
        client_id: ar.client_id.clone(),
        user_id: session.user_id.clone(),
        scope: ar.scope.clone(),
        sid: Some(session.sid.clone()),
        auth_time: session.auth_time,
        acr: session.acr.clone(),
        amr: session.amr.clone(),
        expires_at: ctx.now + ctx.config.refresh_token_ttl,
        revoked_at: None,
    };
    let request = CodeRequest { redirect_uri: ar.redirect_uri.clone(), code_challenge: ar.code_challenge.clone(), nonce: ar.nonce.clone(), id_token_claims: ar.id_token_claims.clone() };
    let code_hash = tokens::hash_secret_token(&code);
    let new = NewCode {
        code_hash: &code_hash,
        grant: &grant,
        request: serde_json::to_string(&request).unwrap_or_default(),
        now: ctx.now,
        expires_at: ctx.now + ctx.config.authorization_code_ttl,
        consent_id: ar.consent_id.as_deref(),
    };
    let stored = if if_consented {
        let scopes: Vec<&str> = ar.scope.split_whitespace().collect();
        store::insert_grant_and_code_if_consented(ctx.db(), &ctx.tenant, &ctx.workspace, new, &scopes).await
    } else {
        store::insert_grant_and_code(ctx.db(), &ctx.tenant, &ctx.workspace, new).await.map(|()| true)
    };
    match stored {
        Ok(true) => Some(respond(ctx, ar, Ok(Issued { code, id_token })).await),
        Ok(false) => None,
        Err(e) => Some(OAuthError::from(e).into_response()),
    }
}

/// The ID token of a `code id_token` response, signed like the token endpoint's ID tokens.
async fn front_channel_id_token<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession, code: &str) -> Result<String, OAuthError> {
    let client = ctx.client(&ar.client_id).await?.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?;
    let nonce = ar.nonce.as_deref().ok_or_else(|| OAuthError::invalid_request("nonce is required with response_type 'code id_token'"))?;
    let auth = Authentication { auth_time: session.auth_time, acr: session.acr.clone(), amr: session.amr.clone(), sid: Some(session.sid.clone()) };
    let claims = tokens::front_channel_id_token_claims(&ctx.config, &ctx.issuer, ctx.now, &ar.client_id, &session.user_id, &auth, nonce, code, ar.state.as_deref());
    tokens::sign(ctx, tokens::id_token_alg(&ctx.config, &client.client), Some("JWT"), &claims).await
}

/// What a successful authorization sends: the code, and the ID token for `code id_token`.
#[derive(Debug, Clone)]
pub struct Issued {
    pub code: String,
    pub id_token: Option<String>,
}

/// The authorization response for a validated request.
pub async fn respond<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, result: Result<Issued, OAuthError>) -> Response {
    authorization_response(ctx, &ar.client_id, &ar.redirect_uri, ar.response_mode, ar.state.as_deref(), result).await
}

/// Sends a code (with its ID token) or an error to the redirect URI, with `state`, in the response
/// mode: as parameters with `iss` (RFC 9207) in the query, the fragment or a form post; or (JARM)
/// as one `response` JWT signed for the client, whose `iss` claim takes the parameter's place.
async fn authorization_response<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str, redirect_uri: &str, mode: ResponseMode, state: Option<&str>, result: Result<Issued, OAuthError>) -> Response {
    let mut fields: Vec<(&str, String)> = Vec::new();
    match result {
        Ok(issued) => {
            fields.push(("code", issued.code));
            if let Some(t) = issued.id_token {
                fields.push(("id_token", t));
            }
        }
        Err(e) => {
            if e.status >= 500 {
                return e.into_response();
            }
            fields.push(("error", e.code.to_string()));
            fields.push(("error_description", e.description));
        }
    }
    if let Some(s) = state {
        fields.push(("state", s.to_string()));
    }
    if mode.jwt {
        match jarm_response(ctx, client_id, &fields).await {
            Ok(jwt) => fields = vec![("response", jwt)],
            Err(e) => return e.into_response(),
        }
    } else {
        fields.push(("iss", ctx.issuer.clone()));
    }
    let encoded = || form_encode(fields.iter().map(|(k, v)| (*k, v.as_str())));
    match mode.delivery {
        Delivery::FormPost => pages::form_post(redirect_uri, &fields),
        Delivery::Fragment => Response::redirect(&format!("{redirect_uri}#{}", encoded())),
        Delivery::Query => {
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            Response::redirect(&format!("{redirect_uri}{sep}{}", encoded()))
        }
    }
}

/// JARM: the response parameters as a JWT signed with the client's `authorization_signed_response_alg`
/// (PS256 under `fapi_br`, else the workspace default when the client names none).
async fn jarm_response<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str, fields: &[(&str, String)]) -> Result<String, OAuthError> {
    let client = ctx.client(client_id).await?.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?;
    let alg = tokens::authorization_response_alg(&ctx.config, &client.client);
    tokens::sign(ctx, alg, Some("JWT"), &response_mode::jarm_claims(&ctx.issuer, client_id, ctx.now, fields)).await
}

//! The authorization endpoint (response_type=code). The request is checked in order: client and
//! redirect_uri first (failures are shown, never redirected), then everything else (failures go
//! back to the client in the authorization response), then SSO session, login and consent.

use crate::clients::Client;
use crate::config::GRANT_AUTHORIZATION_CODE;
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{form_encode, Params, Request, Response};
use crate::interaction;
use crate::pages::{self, Locale};
use crate::runtime::{Runtime, SessionStore, SsoSession};
use crate::server::Ctx;
use crate::store::{self, Grant, NewCode};
use crate::token::valid_pkce_value;
use crate::tokens;
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
    pub form_post: bool,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
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
}

/// An error shown on a page because it cannot safely be sent to a redirect URI.
fn error_page<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ui_locales: Option<&str>, e: OAuthError) -> Response {
    let locale = Locale::negotiate(ui_locales, req.header("accept-language"), &ctx.config.default_locale);
    pages::error_page(locale, e.status, e.code, &e.description)
}

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let params = if req.method == "POST" { req.form_params() } else { req.query_params() };
    let params = match params {
        Ok(p) => p,
        Err(e) => return error_page(ctx, req, None, e),
    };
    let ui_locales = params.get("ui_locales");
    let client = match checked_client(ctx, &params).await {
        Ok(c) => c,
        Err(e) => return error_page(ctx, req, ui_locales, e),
    };
    let redirect_uri = params.get("redirect_uri").unwrap_or_default().to_string();
    let state = params.get("state").map(str::to_string);
    let form_post = params.get("response_mode") == Some("form_post");
    let ar = match validate(ctx, &client, &params, redirect_uri.clone()) {
        Ok(ar) => ar,
        Err(e) => return authorization_response(ctx, &redirect_uri, form_post, state.as_deref(), Err(e)),
    };
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
            return respond(ctx, &ar, Err(OAuthError::login_required("the user is not signed in")));
        }
        return interaction::show_login(ctx, req, &ar, None);
    }
    let session = session.expect("checked above");
    after_login(ctx, req, &ar, &client, &session).await
}

/// The client must exist and `redirect_uri` must exactly match one it registered.
async fn checked_client<R: Runtime>(ctx: &Ctx<'_, R>, params: &Params) -> Result<Client, OAuthError> {
    let client_id = params.get("client_id").ok_or_else(|| OAuthError::invalid_request("client_id is missing"))?;
    let client = store::get_client(ctx.db(), &ctx.tenant, &ctx.workspace, client_id).await?.ok_or_else(|| OAuthError::invalid_client("unknown client").with_status(400))?;
    let client = client.client;
    let uri = params.get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    if !client.redirect_uris.iter().any(|r| r == uri) {
        return Err(OAuthError::invalid_request("redirect_uri is not registered for this client"));
    }
    Ok(client)
}

fn validate<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, p: &Params, redirect_uri: String) -> Result<AuthRequest, OAuthError> {
    if p.get("request").is_some() {
        return Err(OAuthError { code: "request_not_supported", ..OAuthError::invalid_request("request objects are not supported") });
    }
    if p.get("request_uri").is_some() {
        return Err(OAuthError { code: "request_uri_not_supported", ..OAuthError::invalid_request("request_uri is not supported") });
    }
    match p.get("response_type") {
        Some("code") => {}
        None => return Err(OAuthError::invalid_request("response_type is missing")),
        Some(other) => return Err(OAuthError::unsupported_response_type(format!("response_type '{other}' is not supported"))),
    }
    match p.get("response_mode") {
        None | Some("query") | Some("form_post") => {}
        Some(other) => return Err(OAuthError::invalid_request(format!("response_mode '{other}' is not supported"))),
    }
    if !client.allows_grant(GRANT_AUTHORIZATION_CODE) || !ctx.config.grant_enabled(GRANT_AUTHORIZATION_CODE) {
        return Err(OAuthError::unauthorized_client("this client may not use the authorization code flow"));
    }
    let scope = p.get("scope").ok_or_else(|| OAuthError::invalid_scope("scope is missing"))?;
    let allowed: Vec<&str> = client.allowed_scopes().collect();
    let mut scopes: Vec<&str> = Vec::new();
    for s in scope.split_whitespace() {
        if !allowed.contains(&s) || !ctx.config.scopes.contains_key(s) {
            return Err(OAuthError::invalid_scope(format!("scope '{s}' is not allowed for this client")));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
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
    let prompt: Vec<String> = p.get("prompt").unwrap_or("").split_whitespace().map(str::to_string).collect();
    for x in &prompt {
        if !matches!(x.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(OAuthError::invalid_request(format!("prompt '{x}' is not supported")));
        }
    }
    if prompt.len() > 1 && prompt.iter().any(|x| x == "none") {
        return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
    }
    let max_age = match p.get("max_age") {
        None => None,
        Some(m) => Some(m.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer"))?),
    };
    let short = |name: &str| -> Result<Option<String>, OAuthError> {
        match p.get(name) {
            Some(v) if v.len() > 512 => Err(OAuthError::invalid_request(format!("{name} is too long"))),
            v => Ok(v.map(str::to_string)),
        }
    };
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope: scopes.join(" "),
        state: short("state")?,
        nonce: short("nonce")?,
        code_challenge,
        form_post: p.get("response_mode") == Some("form_post"),
        prompt,
        max_age,
        login_hint: short("login_hint")?,
        ui_locales: short("ui_locales")?,
    })
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
    match consent_needed(ctx, ar, client, &session.user_id).await {
        Err(e) => e.into_response(),
        Ok(false) => issue_code(ctx, ar, session).await,
        Ok(true) if ar.prompts("none") => respond(ctx, ar, Err(OAuthError::consent_required("the user has not consented to this request"))),
        Ok(true) => interaction::show_consent(ctx, req, ar, client, session),
    }
}

async fn consent_needed<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, client: &Client, user_id: &str) -> Result<bool, OAuthError> {
    if !ctx.config.consent.required || client.skip_consent {
        return Ok(false);
    }
    if ar.prompts("consent") || !ctx.config.consent.remember {
        return Ok(true);
    }
    let granted = store::get_consent(ctx.db(), &ctx.tenant, &ctx.workspace, user_id, &client.client_id).await?.unwrap_or_default();
    let granted: Vec<&str> = granted.split_whitespace().collect();
    Ok(!ar.scope.split_whitespace().all(|s| granted.contains(&s)))
}

/// Creates the grant and its one-time code, and sends the code to the client.
pub async fn issue_code<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession) -> Response {
    let code = crypto::random_token(ctx.rt.entropy());
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
    let request = CodeRequest { redirect_uri: ar.redirect_uri.clone(), code_challenge: ar.code_challenge.clone(), nonce: ar.nonce.clone() };
    let stored = store::insert_grant_and_code(
        ctx.db(),
        &ctx.tenant,
        &ctx.workspace,
        NewCode {
            code_hash: &tokens::hash_secret_token(&code),
            grant: &grant,
            request: serde_json::to_string(&request).unwrap_or_default(),
            now: ctx.now,
            expires_at: ctx.now + ctx.config.authorization_code_ttl,
        },
    )
    .await;
    match stored {
        Ok(()) => respond(ctx, ar, Ok(code)),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// The authorization response for a validated request.
pub fn respond<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, result: Result<String, OAuthError>) -> Response {
    authorization_response(ctx, &ar.redirect_uri, ar.form_post, ar.state.as_deref(), result)
}

/// Sends a code or an error to the redirect URI, with `iss` (RFC 9207) and `state`.
fn authorization_response<R: Runtime>(ctx: &Ctx<'_, R>, redirect_uri: &str, form_post: bool, state: Option<&str>, result: Result<String, OAuthError>) -> Response {
    let mut fields: Vec<(&str, String)> = Vec::new();
    match &result {
        Ok(code) => fields.push(("code", code.clone())),
        Err(e) => {
            if e.status >= 500 {
                return e.clone().into_response();
            }
            fields.push(("error", e.code.to_string()));
            fields.push(("error_description", e.description.clone()));
        }
    }
    if let Some(s) = state {
        fields.push(("state", s.to_string()));
    }
    fields.push(("iss", ctx.issuer.clone()));
    if form_post {
        return pages::form_post(redirect_uri, &fields);
    }
    let query = form_encode(fields.iter().map(|(k, v)| (*k, v.as_str())));
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Response::redirect(&format!("{redirect_uri}{sep}{query}"))
}

//! The checks of an authorization request, as data: [`PIPELINE`] lists them in order with the
//! endpoints that run each (the authorization endpoint, and PAR, which runs the same checks before
//! the browser ever arrives). Each check is a function of the workspace configuration, the
//! client and the parameters ([`Input`]), recording what it established in [`Checked`], with a
//! unit test beside it. Client authentication (PAR) and [`check_redirect_uri_registered`] run
//! before the pipeline, as their failures are never sent to a redirect URI.

use crate::aal::{self, Aal};
use crate::config::authorization_details::RichAuthorization;
use crate::config::client::Client;
use crate::config::{WorkspaceConfig, GRANT_AUTHORIZATION_CODE};
use crate::error::OAuthError;
use crate::http::Params;
use crate::oauth::{authorization_details, pkce};
use crate::oauth::request_object::invalid_request_object;
use crate::oauth::response_mode::{ResponseMode, ResponseType};
use crate::open_finance::consents;
use serde::{Deserialize, Serialize};

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
    /// The identity provider to sign in with (its id): no selection page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// The Open Finance consent this authorization decides (`consent:{id}` in `scope`).
    #[serde(default)]
    pub consent_id: Option<String>,
    /// Claims the `claims` parameter asked for in the ID token (OIDC Core 5.5), e.g. `cpf`, `cnpj`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_claims: Vec<String>,
    /// RFC 9396: the checked `authorization_details`, shown at consent and kept with the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<serde_json::Value>>,
    /// The assurance level the request asked for (`acr_values`, else the client's
    /// `default_acr_values`); the workspace's floor is added where the session is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aal: Option<Aal>,
}

impl AuthRequest {
    pub fn prompts(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }
}

/// Which endpoint is checking an authorization request: the authorization endpoint itself, or
/// PAR (RFC 9126), which runs the same checks before the browser ever arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Par,
}

/// What every check reads. `signed`: the parameters came from a verified request object. `rar`:
/// the workspace's authorization details types, read only when the request carries them.
pub struct Input<'a> {
    pub config: &'a WorkspaceConfig,
    pub client: &'a Client,
    pub params: &'a Params,
    pub signed: bool,
    pub rar: Option<&'a RichAuthorization>,
}

/// What the checks established so far; the last check's output becomes the [`AuthRequest`].
#[derive(Debug, Default)]
pub struct Checked {
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub id_token_claims: Vec<String>,
    pub authorization_details: Option<Vec<serde_json::Value>>,
    pub aal: Option<Aal>,
}

type CheckFn = fn(&Input, &mut Checked) -> Result<(), OAuthError>;

/// One row of the pipeline: a check and the endpoints that run it.
pub struct Check {
    pub name: &'static str,
    pub authorize: bool,
    pub par: bool,
    pub run: CheckFn,
}

const fn both(name: &'static str, run: CheckFn) -> Check {
    Check { name, authorize: true, par: true, run }
}

/// Every check of an authorization request, in order. A check may read what an earlier row
/// recorded (the response mode needs the response type; the ID-token check needs the scope).
pub const PIPELINE: &[Check] = &[
    Check { name: "request_uri_not_nested", authorize: false, par: true, run: check_request_uri_not_nested },
    Check { name: "par_used", authorize: true, par: false, run: check_par_used },
    both("request_object_used", check_request_object_used),
    both("response_type", check_response_type),
    both("response_mode", check_response_mode),
    both("code_flow_allowed", check_code_flow_allowed),
    both("scope", check_scope),
    both("authorization_details", check_authorization_details),
    both("id_token_response", check_id_token_response),
    both("pkce", check_pkce),
    both("prompt", check_prompt),
    both("max_age", check_max_age),
    both("acr_values", check_acr_values),
    both("id_token_hint_allowed", check_id_token_hint_allowed),
    both("claims_parameter", check_claims_parameter),
    both("lengths", check_lengths),
];

/// Runs the pipeline of `endpoint` and returns the validated request.
pub fn validate(config: &WorkspaceConfig, client: &Client, p: &Params, endpoint: Endpoint, signed: bool, rar: Option<&RichAuthorization>) -> Result<AuthRequest, OAuthError> {
    let input = Input { config, client, params: p, signed, rar };
    let mut c = Checked::default();
    for check in PIPELINE.iter().filter(|c| if endpoint == Endpoint::Par { c.par } else { c.authorize }) {
        (check.run)(&input, &mut c)?;
    }
    let text = |name: &str| p.get(name).map(str::to_string);
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: p.get("redirect_uri").unwrap_or_default().to_string(),
        state: text("state"),
        nonce: text("nonce"),
        code_challenge: c.code_challenge,
        response_type: c.response_type,
        response_mode: c.response_mode,
        prompt: c.prompt,
        max_age: c.max_age,
        login_hint: text("login_hint"),
        idp_hint: text("idp_hint"),
        ui_locales: text("ui_locales"),
        consent_id: consents::consent_id_in(&c.scope).map(str::to_string),
        scope: c.scope,
        id_token_claims: c.id_token_claims,
        authorization_details: c.authorization_details,
        aal: c.aal,
    })
}

/// `redirect_uri` must exactly match one the client registered.
pub fn check_redirect_uri_registered(client: &Client, params: &Params) -> Result<(), OAuthError> {
    let uri = params.get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    if !client.redirect_uris.iter().any(|r| r == uri) {
        return Err(OAuthError::invalid_request("redirect_uri is not registered for this client"));
    }
    Ok(())
}

/// RFC 9126 §2.1: a pushed request cannot itself point at another `request_uri`.
fn check_request_uri_not_nested(i: &Input, _: &mut Checked) -> Result<(), OAuthError> {
    if i.params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request("request_uri is not allowed at the PAR endpoint"));
    }
    Ok(())
}

/// RFC 9126 §5-6: the workspace (or the profile) or the client may require PAR. Requests that come
/// through PAR never reach this check (they arrive as a `request_uri`).
fn check_par_used(i: &Input, _: &mut Checked) -> Result<(), OAuthError> {
    if i.config.par_required() || i.client.require_pushed_authorization_requests {
        return Err(OAuthError::invalid_request("pushed authorization requests (PAR) are required: push the request to the PAR endpoint and send its request_uri"));
    }
    Ok(())
}

/// RFC 9101 §10.5 / FAPI: the workspace (or the profile) or the client may require a signed request object.
fn check_request_object_used(i: &Input, _: &mut Checked) -> Result<(), OAuthError> {
    if !i.signed && (i.config.request_object_required() || i.client.require_signed_request_object) {
        return Err(invalid_request_object("a signed request object (the request parameter) is required"));
    }
    Ok(())
}

/// `code`, or `code id_token` (OIDC Core 3.3) where the workspace offers it (under `fapi_br` only
/// when switched on) and the client registered it in `response_types`.
fn check_response_type(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    let value = i.params.get("response_type").ok_or_else(|| OAuthError::invalid_request("response_type is missing"))?;
    let unsupported = || OAuthError::unsupported_response_type(format!("response_type '{}' is not supported", value.chars().take(64).collect::<String>()));
    let rt = ResponseType::parse(value).ok_or_else(unsupported)?;
    if rt == ResponseType::CodeIdToken {
        if !i.config.code_id_token_enabled() {
            return Err(unsupported());
        }
        if !i.client.allows_response_type(rt.as_str()) {
            return Err(OAuthError::unauthorized_client("this client has not registered the response type 'code id_token'"));
        }
    }
    c.response_type = rt;
    Ok(())
}

/// query, fragment, form_post, and their JARM forms; never the query for an ID token.
fn check_response_mode(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    c.response_mode = ResponseMode::resolve(i.params.get("response_mode"), c.response_type)?;
    Ok(())
}

fn check_code_flow_allowed(i: &Input, _: &mut Checked) -> Result<(), OAuthError> {
    if !i.client.allows_grant(GRANT_AUTHORIZATION_CODE) || !i.config.grant_enabled(GRANT_AUTHORIZATION_CODE) {
        return Err(OAuthError::unauthorized_client("this client may not use the authorization code flow"));
    }
    Ok(())
}

/// Every scope must be defined by the workspace and allowed for the client; records them
/// de-duplicated. With `authorization_details` the scope may be empty or absent (AUT-9668), and
/// nothing is added to it.
fn check_scope(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    let scope = match i.params.get("scope") {
        Some(s) => s,
        None if i.params.get(authorization_details::PARAMETER).is_some() => "",
        None => return Err(OAuthError::invalid_scope("scope is missing")),
    };
    let allowed: Vec<&str> = i.client.allowed_scopes().collect();
    let mut scopes: Vec<&str> = Vec::new();
    for s in scope.split_whitespace() {
        if let Some(id) = s.strip_prefix(consents::SCOPE_PREFIX) {
            // The consent-bound scope of the Brazil profile: for clients allowed the consents or the
            // payments API; whether the consent exists and awaits authorisation is checked next
            // (check_consent_awaiting).
            let api_client = allowed.contains(&consents::CONSENTS_SCOPE) || allowed.contains(&consents::PAYMENTS_SCOPE);
            if !i.config.open_finance_enabled() || !api_client || !consents::plausible_id(id) {
                return Err(OAuthError::invalid_scope(format!("scope '{s}' is not allowed for this client")));
            }
            if scopes.iter().any(|x| x.starts_with(consents::SCOPE_PREFIX) && *x != s) {
                return Err(OAuthError::invalid_scope("one consent per authorization request"));
            }
        } else if !allowed.contains(&s) || !i.config.scopes.contains_key(s) {
            return Err(OAuthError::invalid_scope(format!("scope '{s}' is not allowed for this client")));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    c.scope = scopes.join(" ");
    Ok(())
}

/// RFC 9396: each entry of a known type the client subscribed to, valid against its schema;
/// refused with `invalid_request` where the feature is off.
fn check_authorization_details(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    c.authorization_details = authorization_details::from_params(i.params.get(authorization_details::PARAMETER), i.rar, i.client)?;
    Ok(())
}

/// An ID token in the authorization response needs the `openid` scope, and a `nonce` to bind it to
/// the client's session (OIDC Core 3.3.2.11: nonce is required for the hybrid flow).
fn check_id_token_response(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    if !c.response_type.has_id_token() {
        return Ok(());
    }
    if !c.scope.split_whitespace().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("response_type 'code id_token' needs the openid scope"));
    }
    if i.params.get("nonce").is_none_or(str::is_empty) {
        return Err(OAuthError::invalid_request("nonce is required with response_type 'code id_token'"));
    }
    Ok(())
}

/// PKCE's challenge (see `oauth::pkce` for both legs).
fn check_pkce(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    c.code_challenge = pkce::challenge(i.params, i.client.is_public(), i.config.pkce_required())?;
    Ok(())
}

fn check_prompt(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    let prompt: Vec<String> = i.params.get("prompt").unwrap_or("").split_whitespace().map(str::to_string).collect();
    for x in &prompt {
        if !matches!(x.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(OAuthError::invalid_request(format!("prompt '{x}' is not supported")));
        }
    }
    if prompt.len() > 1 && prompt.iter().any(|x| x == "none") {
        return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
    }
    c.prompt = prompt;
    Ok(())
}

fn check_max_age(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    c.max_age = match i.params.get("max_age") {
        None => None,
        Some(m) => Some(m.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer"))?),
    };
    Ok(())
}

/// `acr_values` (OIDC Core 3.1.2.1): voluntary, except that a NIST level among them (or among the
/// client's `default_acr_values` when the request names none) is required of the sign-in.
fn check_acr_values(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    let values = i.params.get("acr_values");
    if values.is_some_and(|v| v.len() > 512) {
        return Err(OAuthError::invalid_request("acr_values is too long"));
    }
    c.aal = aal::requested(values, &i.client.default_acr_values);
    Ok(())
}

/// Whether the workspace accepts `id_token_hint` (the Brazil profile does not).
fn check_id_token_hint_allowed(i: &Input, _: &mut Checked) -> Result<(), OAuthError> {
    if i.params.get("id_token_hint").is_some() {
        i.config.check_id_token_hint_accepted()?;
    }
    Ok(())
}

/// Claims a client may ask for by name with the `claims` parameter: those a scope the client may
/// have releases, and where Open Finance is on, the Brazilian `cpf` and `cnpj`. Anything else is
/// ignored (OIDC Core 5.5), so `claims` never reaches past what the client was registered for.
fn requestable_claim(config: &WorkspaceConfig, client: &Client, name: &str) -> bool {
    (config.open_finance_enabled() && matches!(name, "cpf" | "cnpj")) || client.allowed_scopes().filter_map(|s| config.scopes.get(s)).any(|s| s.claims.iter().any(|c| c == name))
}

/// The claims an authorization request asks for by name that its scopes do not release: the user
/// must see them on the consent page (a remembered consent covers scopes, not these).
pub fn claims_beyond_scopes<'a>(config: &WorkspaceConfig, ar: &'a AuthRequest) -> Vec<&'a str> {
    let released = |name: &str| ar.scope.split_whitespace().filter_map(|s| config.scopes.get(s)).any(|s| s.claims.iter().any(|c| c == name));
    ar.id_token_claims.iter().map(String::as_str).filter(|c| !released(c)).collect()
}

/// OIDC Core 5.5: `claims` is a JSON object with `id_token` and/or `userinfo` members. Records the
/// names asked for in the ID token that this server can release (others are ignored, as 5.5 says;
/// `userinfo` requests are accepted, and userinfo answers by scope).
fn check_claims_parameter(i: &Input, c: &mut Checked) -> Result<(), OAuthError> {
    let Some(raw) = i.params.get("claims") else { return Ok(()) };
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
            if member == "id_token" && requestable_claim(i.config, i.client, name) && !names.contains(name) && names.len() < 32 {
                names.push(name.clone());
            }
        }
    }
    c.id_token_claims = names;
    Ok(())
}

/// The values carried back to the client or shown to the user are short.
fn check_lengths(i: &Input, _: &mut Checked) -> Result<(), OAuthError> {
    for name in ["state", "nonce", "login_hint", "idp_hint", "ui_locales"] {
        if i.params.get(name).is_some_and(|v| v.len() > 512) {
            return Err(OAuthError::invalid_request(format!("{name} is too long")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::oauth::response_mode::Delivery;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client { client_id: "rp".into(), redirect_uris: vec!["https://rp.example/cb".into()], ..Client::default() }
    }

    fn fapi() -> WorkspaceConfig {
        WorkspaceConfig { profile: Profile::FapiBr, ..WorkspaceConfig::default() }
    }

    /// Runs one check on `query` and returns what it recorded, or its error.
    fn run(check: CheckFn, config: &WorkspaceConfig, client: &Client, query: &str, signed: bool) -> Result<Checked, OAuthError> {
        let params = Params::parse(query).unwrap();
        let mut c = Checked::default();
        check(&Input { config, client, params: &params, signed, rar: None }, &mut c)?;
        Ok(c)
    }

    fn code(r: Result<Checked, OAuthError>) -> &'static str {
        r.err().map_or("ok", |e| e.code)
    }

    #[test]
    fn the_pipeline_runs_each_check_once_in_order() {
        let names: Vec<&str> = PIPELINE.iter().map(|c| c.name).collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique);
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        // Rows that read what an earlier row recorded.
        assert!(at("response_type") < at("response_mode"));
        assert!(at("response_type") < at("id_token_response") && at("scope") < at("id_token_response"));
        let par_only: Vec<&str> = PIPELINE.iter().filter(|c| !c.authorize).map(|c| c.name).collect();
        let authorize_only: Vec<&str> = PIPELINE.iter().filter(|c| !c.par).map(|c| c.name).collect();
        assert_eq!((par_only, authorize_only), (vec!["request_uri_not_nested"], vec!["par_used"]));
    }

    #[test]
    fn validate_builds_the_request() {
        let q = format!("response_type=code&scope=openid+openid+email&redirect_uri=https%3A%2F%2Frp.example%2Fcb&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256&prompt=login&max_age=60");
        let ar = validate(&WorkspaceConfig::default(), &client(), &Params::parse(&q).unwrap(), Endpoint::Authorize, false, None).unwrap();
        assert_eq!((ar.scope.as_str(), ar.state.as_deref(), ar.code_challenge.as_deref(), ar.max_age), ("openid email", Some("s"), Some(CHALLENGE), Some(60)));
        assert!(ar.prompts("login") && ar.consent_id.is_none());
        // PAR refuses a nested request_uri; the authorization endpoint does not run that row.
        let nested = format!("{q}&request_uri=urn:x");
        assert!(validate(&WorkspaceConfig::default(), &client(), &Params::parse(&nested).unwrap(), Endpoint::Par, false, None).is_err());
    }

    #[test]
    fn request_uri_is_not_nested() {
        assert_eq!(code(run(check_request_uri_not_nested, &WorkspaceConfig::default(), &client(), "request_uri=urn:x", false)), "invalid_request");
        assert_eq!(code(run(check_request_uri_not_nested, &WorkspaceConfig::default(), &client(), "", false)), "ok");
    }

    #[test]
    fn par_is_required_by_the_workspace_the_profile_or_the_client() {
        let plain = WorkspaceConfig::default();
        assert_eq!(code(run(check_par_used, &plain, &client(), "", false)), "ok");
        assert_eq!(code(run(check_par_used, &fapi(), &client(), "", false)), "invalid_request");
        let wants = Client { require_pushed_authorization_requests: true, ..client() };
        assert_eq!(code(run(check_par_used, &plain, &wants, "", false)), "invalid_request");
    }

    #[test]
    fn request_object_is_required_by_the_profile_or_the_client() {
        assert_eq!(code(run(check_request_object_used, &fapi(), &client(), "", false)), "invalid_request_object");
        assert_eq!(code(run(check_request_object_used, &fapi(), &client(), "", true)), "ok");
        let wants = Client { require_signed_request_object: true, ..client() };
        assert_eq!(code(run(check_request_object_used, &WorkspaceConfig::default(), &wants, "", false)), "invalid_request_object");
    }

    #[test]
    fn response_type_is_code_or_registered_hybrid() {
        let plain = WorkspaceConfig::default();
        assert_eq!(run(check_response_type, &plain, &client(), "response_type=code", false).unwrap().response_type, ResponseType::Code);
        assert_eq!(code(run(check_response_type, &plain, &client(), "", false)), "invalid_request");
        assert_eq!(code(run(check_response_type, &plain, &client(), "response_type=token", false)), "unsupported_response_type");
        assert_eq!(code(run(check_response_type, &plain, &client(), "response_type=code+id_token", false)), "unauthorized_client");
        let hybrid = Client { response_types: vec!["code".into(), "code id_token".into()], ..client() };
        assert_eq!(run(check_response_type, &plain, &hybrid, "response_type=code+id_token", false).unwrap().response_type, ResponseType::CodeIdToken);
        assert_eq!(code(run(check_response_type, &fapi(), &hybrid, "response_type=code+id_token", false)), "unsupported_response_type");
    }

    #[test]
    fn response_mode_follows_the_response_type() {
        let c = run(check_response_mode, &WorkspaceConfig::default(), &client(), "response_mode=form_post.jwt", false).unwrap();
        assert!(c.response_mode.jwt && c.response_mode.delivery == Delivery::FormPost);
        let params = Params::parse("response_mode=query").unwrap();
        let mut hybrid = Checked { response_type: ResponseType::CodeIdToken, ..Checked::default() };
        let input = Input { config: &WorkspaceConfig::default(), client: &client(), params: &params, signed: false, rar: None };
        assert_eq!(check_response_mode(&input, &mut hybrid).unwrap_err().code, "invalid_request");
    }

    #[test]
    fn code_flow_needs_the_grant_at_client_and_workspace() {
        assert_eq!(code(run(check_code_flow_allowed, &WorkspaceConfig::default(), &client(), "", false)), "ok");
        let machine = Client { grant_types: vec!["client_credentials".into()], ..client() };
        assert_eq!(code(run(check_code_flow_allowed, &WorkspaceConfig::default(), &machine, "", false)), "unauthorized_client");
        let off = WorkspaceConfig { grant_types: vec!["client_credentials".into()], ..WorkspaceConfig::default() };
        assert_eq!(code(run(check_code_flow_allowed, &off, &client(), "", false)), "unauthorized_client");
    }

    #[test]
    fn scope_is_the_clients_and_the_workspaces() {
        let plain = WorkspaceConfig::default();
        assert_eq!(run(check_scope, &plain, &client(), "scope=openid+email+openid", false).unwrap().scope, "openid email");
        assert_eq!(code(run(check_scope, &plain, &client(), "", false)), "invalid_scope");
        assert_eq!(code(run(check_scope, &plain, &client(), "scope=openid+admin", false)), "invalid_scope");
        let id = "urn:bank:7d4f8a2e-1c3b-4a5d-9e6f-0a1b2c3d4e5f";
        let api = Client { scope: "openid consents".into(), ..client() };
        // The consent-bound scope: only where Open Finance is on, for API clients, one per request.
        assert_eq!(code(run(check_scope, &plain, &api, &format!("scope=openid+consent:{id}"), false)), "invalid_scope");
        let mut fapi = fapi();
        fapi.scopes.insert("consents".into(), crate::config::ScopeConfig { description: String::new(), claims: Vec::new() });
        assert_eq!(run(check_scope, &fapi, &api, &format!("scope=openid+consent:{id}"), false).unwrap().scope, format!("openid consent:{id}"));
        assert_eq!(code(run(check_scope, &fapi, &client(), &format!("scope=openid+consent:{id}"), false)), "invalid_scope");
        assert_eq!(code(run(check_scope, &fapi, &api, &format!("scope=consent:{id}+consent:{id}x"), false)), "invalid_scope");
    }

    #[test]
    fn scope_may_be_absent_with_authorization_details_and_nothing_is_added() {
        let plain = WorkspaceConfig::default();
        assert_eq!(run(check_scope, &plain, &client(), "authorization_details=%5B%5D", false).unwrap().scope, "");
        assert_eq!(code(run(check_scope, &plain, &client(), "", false)), "invalid_scope");
        // Off (no types read, or the feature switched off): invalid_request.
        assert_eq!(code(run(check_authorization_details, &plain, &client(), "authorization_details=%5B%5D", false)), "invalid_request");
        assert!(run(check_authorization_details, &plain, &client(), "", false).unwrap().authorization_details.is_none());
    }

    #[test]
    fn id_token_response_needs_openid_and_nonce() {
        let params = |q: &str| Params::parse(q).unwrap();
        let cfg = WorkspaceConfig::default();
        let check = |q: &str, scope: &str| {
            let p = params(q);
            let mut c = Checked { response_type: ResponseType::CodeIdToken, scope: scope.into(), ..Checked::default() };
            check_id_token_response(&Input { config: &cfg, client: &client(), params: &p, signed: false, rar: None }, &mut c).err().map_or("ok", |e| e.code)
        };
        assert_eq!(check("nonce=n", "openid"), "ok");
        assert_eq!(check("nonce=n", "email"), "invalid_scope");
        assert_eq!(check("nonce=", "openid"), "invalid_request");
        assert_eq!(code(run(check_id_token_response, &cfg, &client(), "", false)), "ok");
    }

    #[test]
    fn pkce_challenge_is_recorded_and_required_by_the_profile() {
        let q = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert_eq!(run(check_pkce, &WorkspaceConfig::default(), &client(), &q, false).unwrap().code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(code(run(check_pkce, &WorkspaceConfig::default(), &client(), "", false)), "ok");
        assert_eq!(code(run(check_pkce, &fapi(), &client(), "", false)), "invalid_request");
        let public = Client { token_endpoint_auth_method: "none".into(), ..client() };
        assert_eq!(code(run(check_pkce, &WorkspaceConfig::default(), &public, "", false)), "invalid_request");
    }

    #[test]
    fn prompt_values_are_known_and_none_stands_alone() {
        let cfg = WorkspaceConfig::default();
        assert_eq!(run(check_prompt, &cfg, &client(), "prompt=login+consent", false).unwrap().prompt, vec!["login", "consent"]);
        assert_eq!(code(run(check_prompt, &cfg, &client(), "prompt=none+login", false)), "invalid_request");
        assert_eq!(code(run(check_prompt, &cfg, &client(), "prompt=create", false)), "invalid_request");
    }

    #[test]
    fn max_age_is_a_non_negative_integer() {
        let cfg = WorkspaceConfig::default();
        assert_eq!(run(check_max_age, &cfg, &client(), "max_age=0", false).unwrap().max_age, Some(0));
        assert_eq!(run(check_max_age, &cfg, &client(), "", false).unwrap().max_age, None);
        for bad in ["max_age=-1", "max_age=1.5", "max_age=x"] {
            assert_eq!(code(run(check_max_age, &cfg, &client(), bad, false)), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn id_token_hint_is_refused_under_the_profile() {
        assert_eq!(code(run(check_id_token_hint_allowed, &WorkspaceConfig::default(), &client(), "id_token_hint=x", false)), "ok");
        assert_eq!(code(run(check_id_token_hint_allowed, &fapi(), &client(), "id_token_hint=x", false)), "invalid_request");
        assert_eq!(code(run(check_id_token_hint_allowed, &fapi(), &client(), "", false)), "ok");
    }

    #[test]
    fn claims_parameter_keeps_releasable_id_token_claims() {
        let cfg = WorkspaceConfig::default();
        let q = "claims=%7B%22id_token%22%3A%7B%22cpf%22%3Anull%2C%22email%22%3A%7B%22essential%22%3Atrue%7D%2C%22secret%22%3Anull%7D%2C%22userinfo%22%3A%7B%22name%22%3Anull%7D%7D";
        assert_eq!(run(check_claims_parameter, &cfg, &client(), q, false).unwrap().id_token_claims, vec!["email"]);
        // cpf only where Open Finance is on; nothing the client's scopes do not release.
        assert_eq!(run(check_claims_parameter, &fapi(), &client(), q, false).unwrap().id_token_claims, vec!["cpf", "email"]);
        let openid_only = Client { scope: "openid".into(), ..client() };
        assert!(run(check_claims_parameter, &cfg, &openid_only, q, false).unwrap().id_token_claims.is_empty());
        for bad in ["claims=nope", "claims=%5B%5D", "claims=%7B%22id_token%22%3A1%7D", "claims=%7B%22id_token%22%3A%7B%22email%22%3A1%7D%7D"] {
            assert_eq!(code(run(check_claims_parameter, &cfg, &client(), bad, false)), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn carried_values_are_short() {
        let long = "x".repeat(513);
        assert_eq!(code(run(check_lengths, &WorkspaceConfig::default(), &client(), &format!("state={}", "x".repeat(512)), false)), "ok");
        for name in ["state", "nonce", "login_hint", "ui_locales"] {
            assert_eq!(code(run(check_lengths, &WorkspaceConfig::default(), &client(), &format!("{name}={long}"), false)), "invalid_request");
        }
    }

    #[test]
    fn redirect_uri_must_be_registered_exactly() {
        let p = |q: &str| Params::parse(q).unwrap();
        assert!(check_redirect_uri_registered(&client(), &p("redirect_uri=https%3A%2F%2Frp.example%2Fcb")).is_ok());
        assert!(check_redirect_uri_registered(&client(), &p("redirect_uri=https%3A%2F%2Frp.example%2Fcb%2F")).is_err());
        assert!(check_redirect_uri_registered(&client(), &p("")).is_err());
    }
}

//! Dynamic client registration (RFC 7591, RFC 7592): the workspace's settings (`dcr` in its
//! configuration), the metadata a client may send, and [`registered_client`], the one function
//! that turns what a client sent into the client we store, with every rule a registered client
//! must meet on top of every client's ([`Client::validate`]).

use super::client::{Client, APPLICATION_NATIVE, APPLICATION_WEB, AUTH_SECRET_BASIC};
use super::{check, scope_token, WorkspaceConfig, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN};
use crate::error::OAuthError;
use crate::runtime::Alg;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A workspace's registration settings. Off by default; when on, registration needs an initial
/// access token (minted through the management API) unless `initial_access_token_required` is
/// switched off (open registration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcrConfig {
    /// `/fdx/dcr/register` is served (and advertised as `registration_endpoint`).
    pub enabled: bool,
    /// A registration must carry a live initial access token (`Authorization: Bearer`).
    pub initial_access_token_required: bool,
    /// A registration must carry a software statement from a trusted issuer.
    pub software_statement_required: bool,
    /// Who may sign software statements, with their keys.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The scopes a registered client may hold; empty: the workspace's own scopes. A registration
    /// without `scope` gets all of them.
    pub allowed_scopes: Vec<String>,
}

impl Default for DcrConfig {
    fn default() -> Self {
        DcrConfig { enabled: false, initial_access_token_required: true, software_statement_required: false, trusted_issuers: Vec::new(), allowed_scopes: Vec::new() }
    }
}

/// A software statement issuer: its `iss`, and its public keys inline or at a URL (fetched
/// through the guarded outbound path and cached like a client's `jwks_uri`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
}

impl DcrConfig {
    pub fn is_default(&self) -> bool {
        *self == DcrConfig::default()
    }

    pub fn validate(&self) -> Result<(), OAuthError> {
        for (i, t) in self.trusted_issuers.iter().enumerate() {
            check(!t.issuer.is_empty() && t.issuer.len() <= 512, "dcr.trusted_issuers.issuer", "must be 1-512 characters")?;
            check(self.trusted_issuers[..i].iter().all(|o| o.issuer != t.issuer), "dcr.trusted_issuers.issuer", "names an issuer twice")?;
            check(t.jwks.is_some() != t.jwks_uri.is_some(), "dcr.trusted_issuers", "needs exactly one of jwks and jwks_uri")?;
            if let Some(jwks) = &t.jwks {
                check(jwks.get("keys").is_some_and(Value::is_array), "dcr.trusted_issuers.jwks", "must be a JWK Set ({\"keys\": [...]})")?;
            }
            if let Some(uri) = &t.jwks_uri {
                check(crate::urls::web_url(uri).is_ok(), "dcr.trusted_issuers.jwks_uri", "must be an https URL (plain http only to loopback) without userinfo or fragment")?;
            }
        }
        for s in &self.allowed_scopes {
            check(scope_token(s), "dcr.allowed_scopes", "has a name that is not a valid scope token")?;
        }
        Ok(())
    }

    pub fn trusted_issuer(&self, iss: &str) -> Option<&TrustedIssuer> {
        self.trusted_issuers.iter().find(|t| t.issuer == iss)
    }
}

/// The client metadata a registration (or an RFC 7592 update) may set. Members we do not know
/// are ignored (RFC 7591 §2), and so are the ones only an administrator may set (`skip_consent`,
/// `resource_server`, `managed_tenant`, ...): they are not fields here.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientMetadataRequest {
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub token_endpoint_auth_signing_alg: Option<String>,
    pub application_type: Option<String>,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub scope: Option<String>,
    pub client_name: Option<String>,
    pub software_id: Option<String>,
    pub id_token_signed_response_alg: Option<Alg>,
    pub request_object_signing_alg: Option<Alg>,
    pub authorization_signed_response_alg: Option<Alg>,
    pub require_pushed_authorization_requests: Option<bool>,
    pub require_signed_request_object: Option<bool>,
    pub tls_client_auth_subject_dn: Option<String>,
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    pub authorization_details_types: Option<Vec<String>>,
    /// OIDC Dynamic Client Registration §2: a NIST level among them is required of the sign-in
    /// (a floor the client sets for itself; the workspace's own level stays under it).
    pub default_acr_values: Option<Vec<String>>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
}

/// Registration is served (and advertised) in this workspace: switched on, and never in the
/// system workspace, whose clients administer the whole server.
pub fn registration_served(cfg: &WorkspaceConfig, tenant: &str, workspace: &str) -> bool {
    cfg.dcr.enabled && (tenant, workspace) != (super::SYSTEM_TENANT, super::SYSTEM_WORKSPACE)
}

fn invalid(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(why)
}

/// Reads a registration body (already merged with a verified software statement's claims).
pub fn parse_request(doc: Value) -> Result<ClientMetadataRequest, OAuthError> {
    if !doc.is_object() {
        return Err(invalid("the client metadata must be a JSON object"));
    }
    serde_json::from_value(doc).map_err(|e| invalid(format!("the client metadata cannot be read: {e}")))
}

/// The client a registration describes, with the RFC 7591 §2 defaults filled in, or why it cannot
/// be registered in this workspace: its profile's rules, the grant types it offers, the scopes
/// registered clients may hold, grant and response types that agree, and every rule of
/// [`Client::validate`]. Takes data only: the metadata, the new client's id, the configuration.
pub fn registered_client(req: ClientMetadataRequest, client_id: &str, cfg: &WorkspaceConfig) -> Result<Client, OAuthError> {
    let grant_types = req.grant_types.unwrap_or_else(|| vec![GRANT_AUTHORIZATION_CODE.into()]);
    let code_flow = grant_types.iter().any(|g| g == GRANT_AUTHORIZATION_CODE);
    // RFC 7591 §2.1: response types and grant types must agree. An absent `response_types`
    // means `code`, which only makes sense with the code grant.
    let response_types = req.response_types.unwrap_or_else(|| if code_flow { vec!["code".into()] } else { Vec::new() });
    if code_flow && response_types.is_empty() {
        return Err(invalid("the authorization_code grant needs a response type ('code')"));
    }
    if !code_flow && !response_types.is_empty() {
        return Err(invalid("response_types need the authorization_code grant"));
    }
    if grant_types.iter().any(|g| g == GRANT_REFRESH_TOKEN) && !code_flow {
        return Err(invalid("the refresh_token grant needs the authorization_code grant"));
    }
    if let Some(g) = grant_types.iter().find(|g| !cfg.grant_enabled(g)) {
        return Err(invalid(format!("grant type '{g}' is not offered by this server")));
    }
    let method = req.token_endpoint_auth_method.unwrap_or_else(|| AUTH_SECRET_BASIC.into());
    if !cfg.client_auth_methods().contains(&method.as_str()) {
        return Err(invalid(format!("token_endpoint_auth_method '{method}' is not allowed here (allowed: {})", cfg.client_auth_methods().join(", "))));
    }
    let allowed: Vec<&str> = if cfg.dcr.allowed_scopes.is_empty() { cfg.scopes.keys().map(String::as_str).collect() } else { cfg.dcr.allowed_scopes.iter().map(String::as_str).collect() };
    let scope = match req.scope {
        None => allowed.join(" "),
        Some(s) => {
            if let Some(bad) = s.split_whitespace().find(|x| !allowed.contains(x)) {
                return Err(invalid(format!("scope '{bad}' may not be registered here")));
            }
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    // The profile's one algorithm: a registered one must be it; an absent one becomes it.
    let only = cfg.only_alg();
    let alg = |name: &str, a: Option<Alg>| match (only, a) {
        (Some(o), Some(a)) if a != o => Err(invalid(format!("{name} must be {} here", o.as_str()))),
        (Some(o), _) => Ok(Some(o)),
        (None, a) => Ok(a),
    };
    if let (Some(o), Some(a)) = (only, &req.token_endpoint_auth_signing_alg) {
        if a != o.as_str() {
            return Err(invalid(format!("token_endpoint_auth_signing_alg must be {} here", o.as_str())));
        }
    }
    // What the workspace requires of every client, the registration may not turn off.
    let required = |name: &str, asked: Option<bool>, required: bool| match (asked, required) {
        (Some(false), true) => Err(invalid(format!("{name} cannot be false here: this server requires it"))),
        (asked, required) => Ok(required || asked.unwrap_or(false)),
    };
    let client = Client {
        client_id: client_id.to_string(),
        client_name: req.client_name.unwrap_or_default(),
        redirect_uris: req.redirect_uris.unwrap_or_default(),
        post_logout_redirect_uris: req.post_logout_redirect_uris.unwrap_or_default(),
        grant_types,
        response_types,
        token_endpoint_auth_method: method,
        application_type: Some(req.application_type.unwrap_or_else(|| APPLICATION_WEB.into())),
        jwks: req.jwks,
        jwks_uri: req.jwks_uri,
        scope,
        id_token_signed_response_alg: alg("id_token_signed_response_alg", req.id_token_signed_response_alg)?,
        request_object_signing_alg: alg("request_object_signing_alg", req.request_object_signing_alg)?,
        authorization_signed_response_alg: alg("authorization_signed_response_alg", req.authorization_signed_response_alg)?,
        require_pushed_authorization_requests: required("require_pushed_authorization_requests", req.require_pushed_authorization_requests, cfg.par_required())?,
        require_signed_request_object: required("require_signed_request_object", req.require_signed_request_object, cfg.request_object_required())?,
        tls_client_auth_subject_dn: req.tls_client_auth_subject_dn,
        tls_client_certificate_bound_access_tokens: required("tls_client_certificate_bound_access_tokens", req.tls_client_certificate_bound_access_tokens, cfg.certificate_bound_tokens_required())?,
        authorization_details_types: req.authorization_details_types.unwrap_or_default(),
        default_acr_values: req.default_acr_values.unwrap_or_default(),
        software_id: req.software_id,
        logo_uri: req.logo_uri,
        client_uri: req.client_uri,
        policy_uri: req.policy_uri,
        tos_uri: req.tos_uri,
        ..Client::default()
    };
    if client.client_name.chars().count() > 256 || client.software_id.as_ref().is_some_and(|s| s.is_empty() || s.len() > 256) {
        return Err(invalid("client_name and software_id are at most 256 characters"));
    }
    if !matches!(client.application_type.as_deref(), Some(APPLICATION_WEB | APPLICATION_NATIVE)) {
        return Err(invalid("application_type must be 'web' or 'native'"));
    }
    client.validate()?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_workspace_config, Profile};
    use serde_json::json;

    fn req(v: Value) -> ClientMetadataRequest {
        parse_request(v).unwrap()
    }

    fn code(cfg: &WorkspaceConfig, v: Value) -> &'static str {
        registered_client(req(v), "c1", cfg).map(|_| "ok").unwrap_or_else(|e| e.code)
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let cfg = WorkspaceConfig::default();
        let c = registered_client(req(json!({"redirect_uris": ["https://rp.example/cb"], "privileged": 1, "skip_consent": true})), "c1", &cfg).unwrap();
        assert_eq!(c.grant_types, vec!["authorization_code"]);
        assert_eq!(c.response_types, vec!["code"]);
        assert_eq!(c.token_endpoint_auth_method, "client_secret_basic");
        assert_eq!(c.scope, "email offline_access openid phone profile", "all the workspace's scopes");
        assert!(!c.skip_consent, "administrators' fields are ignored");
        let m = registered_client(req(json!({"grant_types": ["client_credentials"], "scope": "openid  profile"})), "c2", &cfg).unwrap();
        assert!(m.response_types.is_empty());
        assert_eq!(m.scope, "openid profile");
    }

    #[test]
    fn every_bad_metadata_case_is_named() {
        let cfg = WorkspaceConfig::default();
        let web = |extra: Value| {
            let mut v = json!({"redirect_uris": ["https://rp.example/cb"]});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            v
        };
        assert_eq!(code(&cfg, json!({"redirect_uris": ["https://rp.example/cb#frag"]})), "invalid_redirect_uri");
        assert_eq!(code(&cfg, json!({"redirect_uris": ["http://rp.example/cb"]})), "invalid_redirect_uri");
        assert_eq!(code(&cfg, json!({"redirect_uris": ["http://127.0.0.1:9/cb"]})), "invalid_redirect_uri", "web clients: https only");
        assert_eq!(code(&cfg, json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "application_type": "native"})), "ok");
        assert_eq!(code(&cfg, json!({})), "invalid_redirect_uri");
        assert_eq!(code(&cfg, web(json!({"response_types": []}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, json!({"grant_types": ["client_credentials"], "response_types": ["code"]})), "invalid_client_metadata");
        assert_eq!(code(&cfg, json!({"grant_types": ["client_credentials", "refresh_token"]})), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"grant_types": ["implicit"]}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"response_types": ["token"]}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}, "jwks_uri": "https://rp.example/jwks"}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"token_endpoint_auth_method": "private_key_jwt"}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"token_endpoint_auth_method": "client_secret_jwt"}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"scope": "openid admin"}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"application_type": "desktop"}))), "invalid_client_metadata");
        assert_eq!(code(&cfg, web(json!({"client_name": "x".repeat(300)}))), "invalid_client_metadata");
        assert!(parse_request(json!({"redirect_uris": "https://rp.example/cb"})).is_err());
        assert!(parse_request(json!({"id_token_signed_response_alg": "none"})).is_err());
        assert!(parse_request(json!([])).is_err());
        let cc_off = WorkspaceConfig { grant_types: vec!["authorization_code".into()], ..WorkspaceConfig::default() };
        assert_eq!(code(&cc_off, json!({"grant_types": ["client_credentials"]})), "invalid_client_metadata");
        let narrow = WorkspaceConfig { dcr: DcrConfig { allowed_scopes: vec!["openid".into()], ..DcrConfig::default() }, ..WorkspaceConfig::default() };
        assert_eq!(code(&narrow, web(json!({"scope": "openid profile"}))), "invalid_client_metadata");
        assert_eq!(registered_client(req(web(json!({}))), "c", &narrow).unwrap().scope, "openid");
    }

    #[test]
    fn the_brazil_profile_allows_its_methods_ps256_and_par_only() {
        let cfg = WorkspaceConfig { profile: Profile::FapiBr, default_signing_alg: Alg::PS256, access_token_ttl: 300, ..WorkspaceConfig::default() };
        let jwks = json!({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]});
        let ok = json!({"redirect_uris": ["https://tpp.example/cb"], "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks});
        let c = registered_client(req(ok.clone()), "tpp", &cfg).unwrap();
        assert!(c.require_pushed_authorization_requests && c.require_signed_request_object && c.tls_client_certificate_bound_access_tokens);
        assert_eq!(c.id_token_signed_response_alg, Some(Alg::PS256));
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            o
        };
        assert_eq!(code(&cfg, with("token_endpoint_auth_method", json!("client_secret_basic"))), "invalid_client_metadata");
        assert_eq!(code(&cfg, with("id_token_signed_response_alg", json!("ES256"))), "invalid_client_metadata");
        assert_eq!(code(&cfg, with("token_endpoint_auth_signing_alg", json!("RS256"))), "invalid_client_metadata");
        assert_eq!(code(&cfg, with("require_pushed_authorization_requests", json!(false))), "invalid_client_metadata");
        assert_eq!(code(&cfg, with("token_endpoint_auth_method", json!("tls_client_auth"))), "invalid_client_metadata", "tls_client_auth needs its subject DN");
    }

    #[test]
    fn settings_are_validated_and_stay_out_of_plain_documents() {
        assert!(serde_json::to_value(WorkspaceConfig::default()).unwrap().get("dcr").is_none());
        let ok = parse_workspace_config(br#"{"dcr": {"enabled": true, "trusted_issuers": [{"issuer": "https://directory.example", "jwks_uri": "https://directory.example/jwks"}]}}"#).unwrap();
        assert!(ok.dcr.enabled && ok.dcr.initial_access_token_required);
        for (doc, field) in [
            (r#"{"dcr": {"trusted_issuers": [{"issuer": "a"}]}}"#, "dcr.trusted_issuers"),
            (r#"{"dcr": {"trusted_issuers": [{"issuer": "a", "jwks": {"keys": []}, "jwks_uri": "https://a.example/j"}]}}"#, "dcr.trusted_issuers"),
            (r#"{"dcr": {"trusted_issuers": [{"issuer": "a", "jwks": {}}]}}"#, "dcr.trusted_issuers.jwks"),
            (r#"{"dcr": {"trusted_issuers": [{"issuer": "a", "jwks_uri": "http://evil.example/j"}]}}"#, "dcr.trusted_issuers.jwks_uri"),
            (r#"{"dcr": {"trusted_issuers": [{"issuer": "", "jwks": {"keys": []}}]}}"#, "dcr.trusted_issuers.issuer"),
            (r#"{"dcr": {"trusted_issuers": [{"issuer": "a", "jwks": {"keys": []}}, {"issuer": "a", "jwks": {"keys": []}}]}}"#, "dcr.trusted_issuers.issuer"),
            (r#"{"dcr": {"allowed_scopes": ["a b"]}}"#, "dcr.allowed_scopes"),
        ] {
            assert_eq!(parse_workspace_config(doc.as_bytes()).unwrap_err().field(), Some(field), "{doc}");
        }
    }
}

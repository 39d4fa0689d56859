//! Client metadata (RFC 7591 names) as stored per workspace, and its validation.

use crate::config::{KNOWN_GRANT_TYPES, GRANT_AUTHORIZATION_CODE};
use crate::error::OAuthError;
use crate::runtime::Alg;
use serde::{Deserialize, Serialize};

pub const AUTH_NONE: &str = "none";
pub const AUTH_SECRET_BASIC: &str = "client_secret_basic";
pub const AUTH_SECRET_POST: &str = "client_secret_post";
pub const AUTH_PRIVATE_KEY_JWT: &str = "private_key_jwt";
pub const AUTH_METHODS: [&str; 4] = [AUTH_SECRET_BASIC, AUTH_SECRET_POST, AUTH_PRIVATE_KEY_JWT, AUTH_NONE];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// The client's public keys for `private_key_jwt` (a JWK Set), or a URL to fetch them from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Space-separated scopes the client may request.
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<Alg>,
    /// Issue a new refresh token on every use and detect reuse (on by default).
    pub refresh_token_rotation: bool,
    /// First-party clients may skip the consent page.
    pub skip_consent: bool,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            client_id: String::new(),
            client_name: String::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GRANT_AUTHORIZATION_CODE.into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: AUTH_SECRET_BASIC.into(),
            jwks: None,
            jwks_uri: None,
            scope: "openid profile email offline_access".into(),
            id_token_signed_response_alg: None,
            refresh_token_rotation: true,
            skip_consent: false,
        }
    }
}

fn invalid(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(why)
}

/// A redirect URI must be absolute, without a fragment; plain http only for loopback (RFC 8252).
fn valid_redirect_uri(uri: &str) -> bool {
    if uri.contains('#') || uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if let Some(rest) = uri.strip_prefix("https://") {
        return !rest.is_empty() && !rest.starts_with('/');
    }
    if let Some(rest) = uri.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        return matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    }
    // Private-use URI schemes for native apps (RFC 8252 §7.1): reverse domain name with a dot.
    match uri.split_once(':') {
        Some((scheme, rest)) => scheme.contains('.') && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) && !rest.is_empty(),
        None => false,
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AUTH_NONE
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn allowed_scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }

    pub fn uses_secret(&self) -> bool {
        matches!(self.token_endpoint_auth_method.as_str(), AUTH_SECRET_BASIC | AUTH_SECRET_POST)
    }

    pub fn validate(&self) -> Result<(), OAuthError> {
        if self.client_id.is_empty() || self.client_id.len() > 128 || !self.client_id.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(invalid("client_id must be 1-128 printable characters without ':'"));
        }
        if !AUTH_METHODS.contains(&self.token_endpoint_auth_method.as_str()) {
            return Err(invalid("token_endpoint_auth_method is not supported"));
        }
        for g in &self.grant_types {
            if !KNOWN_GRANT_TYPES.contains(&g.as_str()) {
                return Err(invalid(format!("grant type '{g}' is not supported")));
            }
        }
        if self.response_types.iter().any(|r| r != "code") {
            return Err(invalid("only the 'code' response type is supported"));
        }
        if self.is_public() && self.allows_grant("client_credentials") {
            return Err(invalid("a public client cannot use client_credentials"));
        }
        if self.allows_grant(GRANT_AUTHORIZATION_CODE) && self.redirect_uris.is_empty() {
            return Err(OAuthError::invalid_redirect_uri("redirect_uris is required for the authorization_code grant"));
        }
        for uri in self.redirect_uris.iter().chain(&self.post_logout_redirect_uris) {
            if !valid_redirect_uri(uri) {
                return Err(OAuthError::invalid_redirect_uri(format!("'{uri}' is not an acceptable redirect URI")));
            }
        }
        if self.token_endpoint_auth_method == AUTH_PRIVATE_KEY_JWT {
            match (&self.jwks, &self.jwks_uri) {
                (Some(_), Some(_)) => return Err(invalid("give jwks or jwks_uri, not both")),
                (None, None) => return Err(invalid("private_key_jwt needs jwks or jwks_uri")),
                _ => {}
            }
        }
        if let Some(jwks) = &self.jwks {
            if !jwks.get("keys").map(|k| k.is_array()).unwrap_or(false) {
                return Err(invalid("jwks must be a JWK Set ({\"keys\": [...]})"));
            }
        }
        if let Some(uri) = &self.jwks_uri {
            if !(uri.starts_with("https://") || uri.starts_with("http://127.0.0.1") || uri.starts_with("http://localhost")) {
                return Err(invalid("jwks_uri must be an https URL"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        assert!(valid_redirect_uri("https://app.example/cb"));
        assert!(valid_redirect_uri("http://127.0.0.1:8080/cb"));
        assert!(valid_redirect_uri("http://localhost/cb"));
        assert!(valid_redirect_uri("com.example.app:/callback"));
        assert!(!valid_redirect_uri("http://app.example/cb"));
        assert!(!valid_redirect_uri("https://app.example/cb#x"));
        assert!(!valid_redirect_uri("javascript:alert(1)"));
        assert!(!valid_redirect_uri("https://"));
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let c = Client { client_id: "spa".into(), token_endpoint_auth_method: "none".into(), grant_types: vec!["client_credentials".into()], ..Default::default() };
        assert_eq!(c.validate().unwrap_err().code, "invalid_client_metadata");
    }
}

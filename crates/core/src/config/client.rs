//! Client metadata (RFC 7591 names) as stored per workspace, and its validation.

use crate::config::{KNOWN_GRANT_TYPES, GRANT_AUTHORIZATION_CODE};
use crate::error::OAuthError;
use crate::runtime::Alg;
use crate::urls;
use serde::{Deserialize, Serialize};

pub const AUTH_NONE: &str = "none";
pub const AUTH_SECRET_BASIC: &str = "client_secret_basic";
pub const AUTH_SECRET_POST: &str = "client_secret_post";
pub const AUTH_PRIVATE_KEY_JWT: &str = "private_key_jwt";
pub const AUTH_TLS: &str = "tls_client_auth";
pub const AUTH_SELF_SIGNED_TLS: &str = "self_signed_tls_client_auth";
pub const AUTH_METHODS: [&str; 6] = [AUTH_SECRET_BASIC, AUTH_SECRET_POST, AUTH_PRIVATE_KEY_JWT, AUTH_TLS, AUTH_SELF_SIGNED_TLS, AUTH_NONE];
/// The hybrid response type a client may register besides `code` (OIDC Core 3.3).
pub const RESPONSE_CODE_ID_TOKEN: &str = "code id_token";
/// OIDC Registration's `application_type`: a web client's redirect URIs are https; a native
/// one's may be loopback http or a private-use scheme.
pub const APPLICATION_WEB: &str = "web";
pub const APPLICATION_NATIVE: &str = "native";

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
    /// `web` or `native` (see [`APPLICATION_WEB`]); absent, redirect URIs follow only the URL rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
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
    /// A resource server: where the workspace restricts introspection, it may still introspect
    /// any token of the workspace.
    #[serde(default, skip_serializing_if = "is_false")]
    pub resource_server: bool,
    /// Clients of the system workspace only: the tenant this client administers through the
    /// management API. Absent, a system client administers the whole server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_tenant: Option<String>,
    /// This client's authorization requests must come through PAR (RFC 9126 §6).
    #[serde(skip_serializing_if = "is_false")]
    pub require_pushed_authorization_requests: bool,
    /// This client's authorization requests must be signed request objects (RFC 9101 §10.5).
    #[serde(skip_serializing_if = "is_false")]
    pub require_signed_request_object: bool,
    /// The one algorithm this client signs request objects with (any supported one when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<Alg>,
    /// `tls_client_auth` (RFC 8705 §2.1.2): the subject DN the client's certificate must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): the base64url SHA-256 of the registered certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_x5t_s256: Option<String>,
    /// A PEM certificate upload: the subject DN (`tls_client_auth`) or the thumbprint
    /// (`self_signed_tls_client_auth`) above is derived from it when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate: Option<String>,
    /// Access tokens carry `cnf.x5t#S256` of the certificate presented at the token endpoint (RFC 8705 §3).
    #[serde(skip_serializing_if = "is_false")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// JARM (`response_mode=jwt`): the algorithm of signed authorization responses (the workspace default when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_signed_response_alg: Option<Alg>,
    /// The authorization details types (RFC 9396 §10) this client may request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types: Vec<String>,
    /// OIDC Registration's `default_acr_values`: what this client's authorizations ask for when
    /// they carry no `acr_values` (a NIST level among them is a requirement, `aal`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_acr_values: Vec<String>,
    /// RFC 7591 §2: the software this client is an instance of, as registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// RFC 7591 §2: what the sign-in and consent pages show of the application (https URLs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// RFC 7591 §2.3: the software statement (a JWT) the client was registered with, verified then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
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
            application_type: None,
            jwks: None,
            jwks_uri: None,
            scope: "openid profile email offline_access".into(),
            id_token_signed_response_alg: None,
            refresh_token_rotation: true,
            skip_consent: false,
            resource_server: false,
            managed_tenant: None,
            require_pushed_authorization_requests: false,
            require_signed_request_object: false,
            request_object_signing_alg: None,
            tls_client_auth_subject_dn: None,
            tls_client_certificate_x5t_s256: None,
            tls_client_certificate: None,
            tls_client_certificate_bound_access_tokens: false,
            authorization_signed_response_alg: None,
            authorization_details_types: Vec::new(),
            default_acr_values: Vec::new(),
            logo_uri: None,
            client_uri: None,
            policy_uri: None,
            tos_uri: None,
            software_id: None,
            software_statement: None,
        }
    }
}

fn invalid(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(why)
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

    pub fn uses_mtls_auth(&self) -> bool {
        matches!(self.token_endpoint_auth_method.as_str(), AUTH_TLS | AUTH_SELF_SIGNED_TLS)
    }

    pub fn allows_response_type(&self, rt: &str) -> bool {
        self.response_types.iter().any(|r| r == rt)
    }

    /// Derives what a PEM upload implies (RFC 8705 settings), then validates. Use on every write.
    pub fn prepare(&mut self) -> Result<(), OAuthError> {
        if let Some(pem) = &self.tls_client_certificate {
            let cert = crate::crypto::certificate::parse_pem(pem).ok_or_else(|| invalid("tls_client_certificate is not a PEM X.509 certificate"))?;
            match self.token_endpoint_auth_method.as_str() {
                AUTH_TLS if self.tls_client_auth_subject_dn.is_none() => self.tls_client_auth_subject_dn = Some(cert.subject_dn),
                AUTH_SELF_SIGNED_TLS if self.tls_client_certificate_x5t_s256.is_none() => self.tls_client_certificate_x5t_s256 = Some(cert.x5t_s256),
                _ => {}
            }
        }
        self.validate()
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
        if self.response_types.iter().any(|r| r != "code" && r != RESPONSE_CODE_ID_TOKEN) {
            return Err(invalid("only the 'code' and 'code id_token' response types are supported"));
        }
        match self.token_endpoint_auth_method.as_str() {
            AUTH_TLS => match &self.tls_client_auth_subject_dn {
                Some(dn) if crate::crypto::certificate::valid_dn(dn) => {}
                Some(_) => return Err(invalid("tls_client_auth_subject_dn is not an RFC 4514 distinguished name")),
                None => return Err(invalid("tls_client_auth needs tls_client_auth_subject_dn (or a tls_client_certificate to derive it from)")),
            },
            AUTH_SELF_SIGNED_TLS => match &self.tls_client_certificate_x5t_s256 {
                Some(t) if crate::crypto::b64url_decode(t).is_some_and(|b| b.len() == 32) => {}
                Some(_) => return Err(invalid("tls_client_certificate_x5t_s256 must be the base64url SHA-256 of the certificate")),
                None => return Err(invalid("self_signed_tls_client_auth needs a tls_client_certificate")),
            },
            _ => {}
        }
        if self.is_public() && self.allows_grant("client_credentials") {
            return Err(invalid("a public client cannot use client_credentials"));
        }
        if self.allows_grant(GRANT_AUTHORIZATION_CODE) && self.redirect_uris.is_empty() {
            return Err(OAuthError::invalid_redirect_uri("redirect_uris is required for the authorization_code grant"));
        }
        match self.application_type.as_deref() {
            None | Some(APPLICATION_WEB | APPLICATION_NATIVE) => {}
            Some(_) => return Err(invalid("application_type must be 'web' or 'native'")),
        }
        for uri in self.redirect_uris.iter().chain(&self.post_logout_redirect_uris) {
            match urls::redirect_uri(uri) {
                Err(why) => return Err(OAuthError::invalid_redirect_uri(format!("'{uri}' is not an acceptable redirect URI: it {why}"))),
                // Loopback http and private-use schemes are for apps on the user's device.
                Ok(u) if self.application_type.as_deref() == Some(APPLICATION_WEB) && u.scheme() != "https" => {
                    return Err(OAuthError::invalid_redirect_uri(format!("'{uri}' is not an https URL, as a web client's redirect URIs must be")));
                }
                Ok(_) => {}
            }
        }
        // RFC 7591 §2: never both, whatever the method (which set would be the client's?).
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(invalid("give jwks or jwks_uri, not both"));
        }
        if self.token_endpoint_auth_method == AUTH_PRIVATE_KEY_JWT && self.jwks.is_none() && self.jwks_uri.is_none() {
            return Err(invalid("private_key_jwt needs jwks or jwks_uri"));
        }
        if let Some(jwks) = &self.jwks {
            if !jwks.get("keys").map(|k| k.is_array()).unwrap_or(false) {
                return Err(invalid("jwks must be a JWK Set ({\"keys\": [...]})"));
            }
        }
        if let Some(uri) = &self.jwks_uri {
            if let Err(why) = urls::web_url(uri) {
                return Err(invalid(format!("jwks_uri {why}")));
            }
        }
        if self.authorization_details_types.iter().any(|t| t.is_empty() || t.len() > 256) {
            return Err(invalid("authorization_details_types holds an empty or over-long type"));
        }
        if self.default_acr_values.len() > 8 || self.default_acr_values.iter().any(|v| v.is_empty() || v.len() > 128 || v.contains(char::is_whitespace)) {
            return Err(invalid("default_acr_values holds at most 8 values, each 1-128 characters without spaces"));
        }
        // Shown on the pages: https (plain http only to loopback), never a script or data URL.
        for (name, uri) in [("logo_uri", &self.logo_uri), ("client_uri", &self.client_uri), ("policy_uri", &self.policy_uri), ("tos_uri", &self.tos_uri)] {
            if let Some(uri) = uri {
                if uri.len() > 2000 || urls::web_url(uri).is_err() {
                    return Err(invalid(format!("{name} must be an https URL (plain http only to loopback) without userinfo or fragment, at most 2000 characters")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_urls_follow_the_url_rules() {
        let c = Client { client_id: "rp".into(), redirect_uris: vec!["https://rp.example/cb".into()], ..Client::default() };
        assert!(c.validate().is_ok());
        let e = Client { redirect_uris: vec!["http://127.0.0.1:80@evil.example/cb".into()], ..c.clone() }.validate().unwrap_err();
        assert_eq!(e.code, "invalid_redirect_uri");
        let e = Client { post_logout_redirect_uris: vec!["http://localhost:1@evil.example/".into()], ..c.clone() }.validate().unwrap_err();
        assert_eq!(e.code, "invalid_redirect_uri");
        let e = Client { token_endpoint_auth_method: AUTH_PRIVATE_KEY_JWT.into(), jwks_uri: Some("http://127.0.0.1.nip.io/jwks".into()), ..c.clone() }.validate().unwrap_err();
        assert_eq!(e.code, "invalid_client_metadata");
    }

    #[test]
    fn a_pem_upload_derives_the_mtls_settings() {
        let pem = crate::crypto::certificate::tests::TEST_PEM.to_string();
        let mut c = Client { client_id: "tpp".into(), redirect_uris: vec!["https://tpp.example/cb".into()], token_endpoint_auth_method: AUTH_TLS.into(), tls_client_certificate: Some(pem.clone()), ..Default::default() };
        c.prepare().unwrap();
        assert_eq!(c.tls_client_auth_subject_dn.as_deref(), Some("2.5.4.97=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR"));
        let mut s = Client { token_endpoint_auth_method: AUTH_SELF_SIGNED_TLS.into(), tls_client_auth_subject_dn: None, ..c.clone() };
        s.prepare().unwrap();
        assert_eq!(s.tls_client_certificate_x5t_s256, crate::crypto::certificate::parse_pem(&pem).map(|p| p.x5t_s256));
        let mut bad = Client { tls_client_certificate: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----".into()), ..c.clone() };
        assert_eq!(bad.prepare().unwrap_err().code, "invalid_client_metadata");
        let mut none = Client { tls_client_certificate: None, tls_client_auth_subject_dn: None, ..c.clone() };
        assert_eq!(none.prepare().unwrap_err().code, "invalid_client_metadata");
        let mut hybrid = Client { response_types: vec!["code".into(), "code id_token".into()], ..c.clone() };
        hybrid.prepare().unwrap();
        let mut token = Client { response_types: vec!["token".into()], ..c };
        assert!(token.prepare().is_err());
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let c = Client { client_id: "spa".into(), token_endpoint_auth_method: "none".into(), grant_types: vec!["client_credentials".into()], ..Default::default() };
        assert_eq!(c.validate().unwrap_err().code, "invalid_client_metadata");
    }
}

//! One error type for the whole engine. It renders as an RFC 6749 §5.2 / RFC 6750 §3 error
//! document (or, for the authorization endpoint, is carried back in the redirect), and storage
//! failures render as a bare 500/503 with no detail.

use crate::http::Response;
use crate::runtime::StoreError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub status: u16,
    /// The `error` code: `invalid_request`, `invalid_grant`, ... (or `server_error`).
    pub code: &'static str,
    pub description: String,
    /// RFC 6750: resource endpoints answer 401 with a `WWW-Authenticate: Bearer` challenge.
    pub bearer_challenge: bool,
}

macro_rules! constructors {
    ($($name:ident => ($status:expr, $code:expr)),* $(,)?) => {
        $(pub fn $name(description: impl Into<String>) -> OAuthError {
            OAuthError { status: $status, code: $code, description: description.into(), bearer_challenge: false }
        })*
    };
}

impl OAuthError {
    constructors! {
        invalid_request => (400, "invalid_request"),
        invalid_client => (401, "invalid_client"),
        invalid_grant => (400, "invalid_grant"),
        unauthorized_client => (400, "unauthorized_client"),
        unsupported_grant_type => (400, "unsupported_grant_type"),
        invalid_scope => (400, "invalid_scope"),
        unsupported_response_type => (400, "unsupported_response_type"),
        access_denied => (403, "access_denied"),
        login_required => (400, "login_required"),
        consent_required => (400, "consent_required"),
        interaction_required => (400, "interaction_required"),
        unsupported_token_type => (400, "unsupported_token_type"),
        invalid_token => (401, "invalid_token"),
        insufficient_scope => (403, "insufficient_scope"),
        not_found => (404, "not_found"),
        method_not_allowed => (405, "method_not_allowed"),
        invalid_redirect_uri => (400, "invalid_redirect_uri"),
        invalid_client_metadata => (400, "invalid_client_metadata"),
        unauthorized => (401, "unauthorized"),
        conflict => (409, "conflict"),
    }

    pub fn payload_too_large() -> OAuthError {
        OAuthError { status: 413, code: "invalid_request", description: "the request body is larger than 64 KB".into(), bearer_challenge: false }
    }

    /// A failure of ours, not the caller's: the detail is logged by the adapter, never shown.
    pub fn server_error(_detail: impl Into<String>) -> OAuthError {
        OAuthError { status: 500, code: "server_error", description: "the server could not complete the request".into(), bearer_challenge: false }
    }

    pub fn with_bearer_challenge(mut self) -> OAuthError {
        self.bearer_challenge = true;
        self
    }

    pub fn with_status(mut self, status: u16) -> OAuthError {
        self.status = status;
        self
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({ "error": self.code, "error_description": self.description })
    }

    pub fn into_response(self) -> Response {
        let mut resp = Response::json_no_store(self.status, &self.to_json());
        if self.bearer_challenge && self.status == 401 && self.code == "invalid_request" {
            // No credentials at all: RFC 6750 section 3.1 says the challenge carries no error code.
            resp = resp.with_header("www-authenticate", "Bearer");
        } else if self.bearer_challenge {
            let challenge = format!("Bearer error=\"{}\", error_description=\"{}\"", self.code, self.description.replace('"', "'"));
            resp = resp.with_header("www-authenticate", challenge);
        } else if self.status == 401 && self.code == "invalid_client" {
            resp = resp.with_header("www-authenticate", "Basic realm=\"token\"");
        }
        resp
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::server_error(e.0)
    }
}

pub type Result<T, E = OAuthError> = std::result::Result<T, E>;

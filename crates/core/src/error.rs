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

/// An RFC 9457 problem document, the error format of the management API (`/api/...`).
///
/// `type` is a URN per kind of problem (`urn:edgeauth:problem:forbidden`, ...) so a caller can
/// branch on it; `title` is fixed per type; `detail` says what was wrong with this request.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    /// The last part of the type URN: `unauthorized`, `forbidden`, `not-found`, `invalid-request`,
    /// `conflict`, `invalid-json-patch`, `invalid-configuration`, `method-not-allowed`, `server-error`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members (RFC 9457 section 3.2), e.g. the failing operation of a JSON Patch.
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

pub const PROBLEM_TYPE_PREFIX: &str = "urn:edgeauth:problem:";

impl Problem {
    pub fn new(status: u16, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem { status, kind, title, detail: detail.into(), extensions: serde_json::Map::new() }
    }

    /// 401: no token, or one that is malformed, expired, revoked or not from the system workspace.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(401, "unauthorized", "Unauthorized", detail)
    }

    /// 403: a valid token that lacks the scope, the tenant or the role for this call.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(403, "forbidden", "Forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(404, "not-found", "Not Found", detail)
    }

    pub fn invalid_request(detail: impl Into<String>) -> Problem {
        Problem::new(400, "invalid-request", "Invalid request", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(409, "conflict", "Conflict", detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Problem {
        Problem::new(405, "method-not-allowed", "Method Not Allowed", detail)
    }

    pub fn with(mut self, name: &str, value: serde_json::Value) -> Problem {
        self.extensions.insert(name.into(), value);
        self
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        doc.insert("type".into(), json!(format!("{PROBLEM_TYPE_PREFIX}{}", self.kind)));
        doc.insert("title".into(), json!(self.title));
        doc.insert("status".into(), json!(self.status));
        doc.insert("detail".into(), json!(self.detail));
        for (k, v) in &self.extensions {
            doc.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(doc)
    }

    pub fn into_response(self) -> Response {
        let mut resp = Response::new(self.status)
            .with_header("content-type", "application/problem+json")
            .with_header("cache-control", "no-store")
            .with_body(self.to_json().to_string().into_bytes());
        if self.status == 401 {
            let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{}\"", self.detail.replace(['"', '\\'], "'"));
            resp = resp.with_header("www-authenticate", challenge);
        }
        resp
    }
}

/// The engine's validation errors (configuration, client metadata) reused by the management API.
impl From<OAuthError> for Problem {
    fn from(e: OAuthError) -> Problem {
        match (e.status, e.code) {
            (500.., _) => Problem::new(e.status, "server-error", "Server Error", e.description),
            (400, "invalid_request") if e.description.starts_with("invalid configuration") => {
                // `invalid configuration: 'field' why`: name the field for programs too.
                let field = e.description.split('\'').nth(1).filter(|_| e.description.contains(": '")).map(str::to_string);
                let p = Problem::new(400, "invalid-configuration", "Invalid configuration", e.description);
                match field {
                    Some(f) => p.with("field", json!(f)),
                    None => p,
                }
            }
            (400, "invalid_client_metadata" | "invalid_redirect_uri") => Problem::new(400, "invalid-client-metadata", "Invalid client metadata", e.description).with("error", json!(e.code)),
            (401, _) => Problem::unauthorized(e.description),
            (403, _) => Problem::forbidden(e.description),
            (404, _) => Problem::not_found(e.description),
            (405, _) => Problem::method_not_allowed(e.description),
            (409, _) => Problem::conflict(e.description),
            (413, _) => Problem::new(413, "payload-too-large", "Payload Too Large", e.description),
            _ => Problem::invalid_request(e.description),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        OAuthError::from(e).into()
    }
}

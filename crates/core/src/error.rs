//! One error type for the whole engine, [`Error`]. Every failure a handler reports is one; it
//! knows how to render itself three ways (see `http.rs` for the JSON renderings and `web/pages.rs`
//! for the HTML page):
//! - an RFC 6749 §5.2 / RFC 6750 §3 error document for the protocol endpoints (or, at the
//!   authorization endpoint, the parameters of the redirect);
//! - an RFC 9457 problem document for the management API (`/api/...`);
//! - an HTML error page for the browser-facing steps.
//!
//! A failure of ours (storage, a platform call, a bug) carries its [`Cause`]: the adapter writes it
//! to the log (one JSON line per failed request, [`crate::http::Failure`]), and no rendering ever
//! shows it. `OAuthError` and `Problem` are the names the protocol and management code use for it.

use crate::runtime::StoreError;
use serde_json::json;

/// Why a request failed on our side: for the log only.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something the engine itself could not do (a value it stored that no longer parses, ...).
    #[error("{0}")]
    Internal(String),
}

/// The management API's kind of problem: the last part of its type URN
/// (`urn:edgeauth:problem:{kind}`) and its fixed title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub kind: &'static str,
    pub title: &'static str,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {description}")]
pub struct Error {
    pub status: u16,
    /// The OAuth `error` code: `invalid_request`, `invalid_grant`, ... (or `server_error`).
    pub code: &'static str,
    /// What was wrong with the request, in words the client may see (`error_description`, the
    /// problem's `detail`, the page's text).
    pub description: String,
    /// RFC 6750: resource endpoints answer 401 with a `WWW-Authenticate: Bearer` challenge.
    pub bearer_challenge: bool,
    /// What only some errors carry, boxed: an error travels in every `Result` of the engine.
    pub details: Option<Box<Details>>,
    /// Our own failure's cause: logged, never rendered.
    #[source]
    pub cause: Option<Cause>,
}

/// The parts of an [`Error`] that only the management API's rendering reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// The problem type; derived from the status and code when not set (see [`Error::problem_type`]).
    pub problem: Option<ProblemType>,
    /// The configuration or metadata field a validation error is about.
    pub field: Option<String>,
    /// Extension members of the problem document (RFC 9457 §3.2), e.g. the failing JSON Patch operation.
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Seconds until a lock ends: every rendering sends it as `Retry-After` (RFC 9110 §10.2.3).
    pub retry_after: Option<i64>,
}

/// The protocol endpoints' name for [`Error`].
pub type OAuthError = Error;
/// The management API's name for [`Error`].
pub type Problem = Error;

macro_rules! constructors {
    ($($name:ident => ($status:expr, $code:expr)),* $(,)?) => {
        $(pub fn $name(description: impl Into<String>) -> Error {
            Error::new_oauth($status, $code, description)
        })*
    };
}

impl Error {
    fn new_oauth(status: u16, code: &'static str, description: impl Into<String>) -> Error {
        Error { status, code, description: description.into(), bearer_challenge: false, details: None, cause: None }
    }

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
        // OpenID Connect Core (errata set 2) §3.1.2.6: the required authentication (a NIST level
        // here) cannot be met for this user.
        unmet_authentication_requirements => (400, "unmet_authentication_requirements"),
        unsupported_token_type => (400, "unsupported_token_type"),
        invalid_token => (401, "invalid_token"),
        insufficient_scope => (403, "insufficient_scope"),
        not_found => (404, "not_found"),
        method_not_allowed => (405, "method_not_allowed"),
        invalid_redirect_uri => (400, "invalid_redirect_uri"),
        invalid_client_metadata => (400, "invalid_client_metadata"),
        invalid_software_statement => (400, "invalid_software_statement"),
        // RFC 9396 §5: an authorization details entry is unknown, not allowed, or malformed.
        invalid_authorization_details => (400, "invalid_authorization_details"),
        unauthorized => (401, "unauthorized"),
        conflict => (409, "conflict"),
        forbidden => (403, "forbidden"),
        misdirected_request => (421, "invalid_request"),
        // RFC 6749 §4.1.2.1: the server (here, an identity provider behind it) cannot answer now.
        temporarily_unavailable => (503, "temporarily_unavailable"),
    }

    pub fn payload_too_large() -> Error {
        Error::new_oauth(413, "invalid_request", "the request body is larger than 64 KB")
    }

    /// Too many failed attempts (`authn::throttle`): 429 with `Retry-After`. The OAuth code is
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1's "try again later"), not `invalid_client` or
    /// `invalid_grant`: the credentials were not checked, and a client must not conclude that they
    /// are wrong (and, say, rotate a good secret) when it only has to wait.
    pub fn temporarily_locked(retry_after_secs: i64, description: impl Into<String>) -> Error {
        Error::new_oauth(429, "temporarily_unavailable", description).detailed(|d| d.retry_after = Some(retry_after_secs.max(1)))
    }

    /// Seconds until the lock this error reports ends (see [`Error::temporarily_locked`]).
    pub fn retry_after(&self) -> Option<i64> {
        self.details.as_ref()?.retry_after
    }

    /// A failure of ours, not the caller's: `cause` goes to the log, never to the client.
    pub fn server_error(cause: impl Into<Cause>) -> Error {
        Error { cause: Some(cause.into()), ..Error::new_oauth(500, "server_error", "the server could not complete the request") }
    }

    /// A configuration or client-metadata document broke a rule: `field` names what.
    pub fn invalid_configuration(field: &str, why: &str) -> Error {
        Error::invalid_request(format!("invalid configuration: '{field}' {why}")).detailed(|d| d.field = Some(field.to_string()))
    }

    /// A configuration document that cannot be read at all (not JSON, unknown fields, wrong types).
    pub fn invalid_configuration_document(why: impl std::fmt::Display) -> Error {
        Error::invalid_request(format!("invalid configuration: {why}")).detailed(|d| d.problem = Some(ProblemType { kind: "invalid-configuration", title: "Invalid configuration" }))
    }

    /// A management API problem of its own type (`urn:edgeauth:problem:{kind}`).
    pub fn new(status: u16, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Error {
        let code = match status {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            500.. => "server_error",
            _ => "invalid_request",
        };
        Error::new_oauth(status, code, detail).detailed(|d| d.problem = Some(ProblemType { kind, title }))
    }

    /// Keeps why a client's request failed for the log (an unreachable `jwks_uri`, say), while
    /// the client sees only the description.
    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Error {
        self.cause = Some(cause.into());
        self
    }

    pub fn with_bearer_challenge(mut self) -> Error {
        self.bearer_challenge = true;
        self
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status = status;
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Error {
        self.code = code;
        self
    }

    /// Adds an extension member to the problem document.
    pub fn with(self, name: &str, value: serde_json::Value) -> Error {
        self.detailed(|d| {
            d.extensions.insert(name.into(), value);
        })
    }

    fn detailed(mut self, change: impl FnOnce(&mut Details)) -> Error {
        change(self.details.get_or_insert_with(Box::default));
        self
    }

    /// The configuration or metadata field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        self.details.as_ref()?.field.as_deref()
    }

    /// The management API's kind of problem for this error.
    pub fn problem_type(&self) -> ProblemType {
        if let Some(p) = self.details.as_ref().and_then(|d| d.problem) {
            return p;
        }
        let t = |kind, title| ProblemType { kind, title };
        match (self.status, self.code) {
            (500.., _) => t("server-error", "Server Error"),
            (400, "invalid_request") if self.field().is_some() => t("invalid-configuration", "Invalid configuration"),
            (400, "invalid_client_metadata" | "invalid_redirect_uri" | "invalid_software_statement") => t("invalid-client-metadata", "Invalid client metadata"),
            (401, _) => t("unauthorized", "Unauthorized"),
            (403, _) => t("forbidden", "Forbidden"),
            (404, _) => t("not-found", "Not Found"),
            (405, _) => t("method-not-allowed", "Method Not Allowed"),
            (409, _) => t("conflict", "Conflict"),
            (413, _) => t("payload-too-large", "Payload Too Large"),
            (421, _) => t("misdirected-request", "Misdirected Request"),
            (429, _) => t("too-many-requests", "Too Many Requests"),
            _ => t("invalid-request", "Invalid request"),
        }
    }

    /// The RFC 6749 §5.2 body.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "error": self.code, "error_description": self.description })
    }

    /// The RFC 9457 body.
    pub fn to_problem_json(&self) -> serde_json::Value {
        let p = self.problem_type();
        let mut doc = serde_json::Map::new();
        doc.insert("type".into(), json!(format!("{PROBLEM_TYPE_PREFIX}{}", p.kind)));
        doc.insert("title".into(), json!(p.title));
        doc.insert("status".into(), json!(self.status));
        doc.insert("detail".into(), json!(self.description));
        if let Some(f) = self.field().filter(|_| p.kind == "invalid-configuration") {
            doc.insert("field".into(), json!(f));
        }
        if p.kind == "invalid-client-metadata" {
            doc.insert("error".into(), json!(self.code));
        }
        for (k, v) in self.details.iter().flat_map(|d| &d.extensions) {
            doc.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(doc)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::server_error(e)
    }
}

impl From<String> for Cause {
    fn from(s: String) -> Cause {
        Cause::Internal(s)
    }
}

impl From<&str> for Cause {
    fn from(s: &str) -> Cause {
        Cause::Internal(s.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub const PROBLEM_TYPE_PREFIX: &str = "urn:edgeauth:problem:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_keeps_its_cause_and_shows_none_of_it() {
        let e = Error::server_error(StoreError::new("D1_ERROR: no such table: grants"));
        assert_eq!((e.status, e.code), (500, "server_error"));
        assert!(!e.to_json().to_string().contains("grants") && !e.to_problem_json().to_string().contains("grants"));
        assert_eq!(e.cause, Some(Cause::Store(StoreError::new("D1_ERROR: no such table: grants"))));
        assert!(std::error::Error::source(&e).unwrap().to_string().contains("no such table"));
    }

    #[test]
    fn problem_types_follow_the_error() {
        let kind = |e: Error| e.to_problem_json()["type"].as_str().unwrap().trim_start_matches(PROBLEM_TYPE_PREFIX).to_string();
        assert_eq!(kind(Error::invalid_configuration("access_token_ttl", "must be between 30 and 86400 seconds")), "invalid-configuration");
        assert_eq!(Error::invalid_configuration("scopes", "must define 'openid'").to_problem_json()["field"], "scopes");
        assert_eq!(kind(Error::invalid_client_metadata("bad")), "invalid-client-metadata");
        assert_eq!(Error::invalid_redirect_uri("bad").to_problem_json()["error"], "invalid_redirect_uri");
        assert_eq!(kind(Error::not_found("x")), "not-found");
        assert_eq!(kind(Error::payload_too_large()), "payload-too-large");
        assert_eq!(kind(Error::server_error("x")), "server-error");
        let patch = Error::new(400, "invalid-json-patch", "failed to apply patch", "op 1").with("details", json!([1]));
        assert_eq!((kind(patch.clone()), patch.to_problem_json()["details"].clone()), ("invalid-json-patch".to_string(), json!([1])));
        assert_eq!(Error::new(409, "conflict", "Conflict", "exists").code, "conflict");
    }

    #[test]
    fn a_lock_answers_429_with_retry_after_in_every_rendering() {
        let e = Error::temporarily_locked(61, "too many failed attempts");
        assert_eq!((e.status, e.code, e.retry_after()), (429, "temporarily_unavailable", Some(61)));
        assert_eq!(Error::temporarily_locked(0, "x").retry_after(), Some(1), "never 0: a client would retry at once");
        // The HTML page's rendering is checked beside it, in web/pages.rs.
        for r in [e.clone().into_response(), e.clone().into_problem_response()] {
            assert_eq!((r.status, r.header("retry-after")), (429, Some("61")));
        }
        assert_eq!(e.to_json()["error"], "temporarily_unavailable");
        assert!(Error::invalid_client("x").into_response().header("retry-after").is_none());
    }
}

//! The crate-private parsers of untrusted bytes, for the fuzz targets in `fuzz/` only. Compiled
//! under `--cfg fuzzing` (which `cargo fuzz` sets), never in a normal build. Each function is the
//! real one, behind a wrapper that builds the request it reads and hides crate-private types.
//! Public parsers (`http::Params`, `jose::parse_jws`, `management::json_patch`,
//! `crypto::certificate`) are called directly by the targets.

use crate::error::OAuthError;
use crate::http::{Params, Request};
use crate::jose::Jws;
use crate::open_finance::consents::ApiError;
use serde_json::{Map, Value};

/// A POST with `body` of `content_type`, as an adapter builds it.
pub fn request(content_type: &str, body: &[u8]) -> Request {
    Request::new("POST", "https://as.example/t/w/endpoint", vec![("content-type".into(), content_type.into())], body.to_vec())
}

/// Request objects (JAR): parse, the claim checks after verification, and the merge with the
/// parameters sent beside the object.
pub mod request_object {
    use super::*;

    pub fn parse(jwt: &str) -> Result<Jws, OAuthError> {
        crate::oauth::request_object::parse(jwt)
    }

    pub fn check_claims(claims: &Map<String, Value>, client_id: &str, issuer: &str, now: i64, nbf_required: bool) -> Result<(), OAuthError> {
        crate::oauth::request_object::check_claims(claims, client_id, issuer, now, nbf_required)
    }

    pub fn merge(client_id: &str, claims: &Map<String, Value>, outside: &Params) -> Result<Params, OAuthError> {
        crate::oauth::request_object::merge(client_id, claims, outside)
    }
}

/// The data consents API's JSON bodies (`POST .../consents`, `POST .../consents/{id}/extends`).
pub mod consents {
    use super::*;

    /// The stored document and the end date of a creation.
    pub fn create_body(req: &Request, now: i64) -> Result<(Value, Option<i64>), ApiError> {
        crate::open_finance::consents::create_body(req, now)
    }

    /// CPF, CNPJ and new end of an extension.
    pub fn extension_body(req: &Request) -> Result<(String, Option<String>, Option<i64>), ApiError> {
        crate::open_finance::consents::extension_body(req)
    }
}

/// The payments API's signed bodies: the JWS, the claims after verification, the `data` checks.
pub mod payments {
    use super::*;

    pub fn jws_body(req: &Request) -> Result<Jws, ApiError> {
        crate::open_finance::payments::jws_body(req)
    }

    pub fn check_claims(claims: &Map<String, Value>, client_id: &str, issuer: &str, endpoint: &str, now: i64) -> Result<(), ApiError> {
        crate::open_finance::payments::check_claims(claims, client_id, issuer, endpoint, now)
    }

    pub fn check_payment(data: &Value, now: i64) -> Result<(), ApiError> {
        crate::open_finance::payments::check_payment(data, now)
    }
}

/// The bank-side consent management's JSON bodies (list filter, revocations with a reason).
pub mod bank_consents {
    use super::*;
    use crate::error::Problem;
    use crate::management::open_banking;

    pub fn list_body(req: &Request) -> Result<(), Problem> {
        open_banking::list_body(req).map(drop)
    }

    /// Whether the body carried the bank's own reason.
    pub fn revoke_body(req: &Request) -> Result<bool, Problem> {
        open_banking::revoke_body(req).map(|r| r.is_some())
    }

    pub fn revoke_by_filter_body(req: &Request) -> Result<bool, Problem> {
        open_banking::revoke_by_filter_body(req).map(|(r, _)| r.is_some())
    }
}

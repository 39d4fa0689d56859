//! Response types and response modes of the authorization endpoint: `code` and the OIDC hybrid
//! `code id_token` (OIDC Core 3.3); `query`, `fragment` (OAuth 2.0 Multiple Response Types),
//! `form_post` (OAuth 2.0 Form Post Response Mode), and their JWT-secured forms `query.jwt`,
//! `fragment.jwt`, `form_post.jwt` and `jwt` (JARM, "FAPI JARM"). Pure functions only: the
//! response itself is built in one place, `authorize::authorization_response`.

use crate::error::OAuthError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a JARM response JWT lives (JARM §2.1 recommends at most 10 minutes).
pub const JARM_LIFETIME: i64 = 600;

/// The response modes this server accepts, as discovery lists them.
pub const RESPONSE_MODES: [&str; 7] = ["query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    #[default]
    #[serde(rename = "code")]
    Code,
    /// The hybrid flow (OIDC Core 3.3): a code, and an ID token in the front channel.
    #[serde(rename = "code id_token")]
    CodeIdToken,
}

impl ResponseType {
    /// Parses a `response_type` value. Its space-separated words may come in any order
    /// (OAuth 2.0 Multiple Response Types §2). `None` for anything this server does not issue.
    pub fn parse(value: &str) -> Option<ResponseType> {
        let mut words: Vec<&str> = value.split(' ').collect();
        words.sort_unstable();
        match words.as_slice() {
            ["code"] => Some(ResponseType::Code),
            ["code", "id_token"] => Some(ResponseType::CodeIdToken),
            _ => None,
        }
    }

    /// The registered form (RFC 7591 `response_types`, discovery).
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
            ResponseType::CodeIdToken => crate::config::client::RESPONSE_CODE_ID_TOKEN,
        }
    }

    /// An ID token travels through the front channel.
    pub fn has_id_token(self) -> bool {
        self == ResponseType::CodeIdToken
    }
}

/// Where the response parameters go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    #[default]
    Query,
    Fragment,
    FormPost,
}

/// A resolved response mode: where the parameters go, and whether they travel as one signed
/// `response` JWT (JARM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMode {
    pub delivery: Delivery,
    #[serde(default)]
    pub jwt: bool,
}

impl ResponseMode {
    const fn new(delivery: Delivery, jwt: bool) -> ResponseMode {
        ResponseMode { delivery, jwt }
    }

    /// The default mode of a response type: query for `code`, fragment when an ID token is in the
    /// response (OIDC Core 3.3.2.5; OAuth 2.0 Multiple Response Types §5).
    pub fn default_for(rt: ResponseType) -> ResponseMode {
        match rt {
            ResponseType::Code => ResponseMode::new(Delivery::Query, false),
            ResponseType::CodeIdToken => ResponseMode::new(Delivery::Fragment, false),
        }
    }

    /// Resolves `response_mode` for a response type. `jwt` is `query.jwt` for `code` and
    /// `fragment.jwt` for `code id_token` (JARM §2.3.4). An ID token never travels in the query,
    /// signed or not (OIDC Core 3.3.2.5; JARM §2.3.1 allows `query.jwt` with it only encrypted,
    /// and this server does not encrypt).
    pub fn resolve(response_mode: Option<&str>, rt: ResponseType) -> Result<ResponseMode, OAuthError> {
        let mode = match response_mode {
            None => return Ok(ResponseMode::default_for(rt)),
            Some("query") => ResponseMode::new(Delivery::Query, false),
            Some("fragment") => ResponseMode::new(Delivery::Fragment, false),
            Some("form_post") => ResponseMode::new(Delivery::FormPost, false),
            Some("jwt") => ResponseMode::new(ResponseMode::default_for(rt).delivery, true),
            Some("query.jwt") => ResponseMode::new(Delivery::Query, true),
            Some("fragment.jwt") => ResponseMode::new(Delivery::Fragment, true),
            Some("form_post.jwt") => ResponseMode::new(Delivery::FormPost, true),
            Some(other) => return Err(OAuthError::invalid_request(format!("response_mode '{}' is not supported", truncate(other)))),
        };
        if rt.has_id_token() && mode.delivery == Delivery::Query {
            let name = if mode.jwt { "query.jwt" } else { "query" };
            return Err(OAuthError::invalid_request(format!("response_mode '{name}' cannot carry an ID token: use fragment, form_post, jwt, fragment.jwt or form_post.jwt with response_type 'code id_token'")));
        }
        Ok(mode)
    }

    /// How to send an error about a request that failed its checks: the mode it asked for when
    /// that resolves, else the response type's default, still as a JWT when it asked for one (a
    /// JARM client only reads `response`).
    pub fn for_error(response_type: Option<&str>, response_mode: Option<&str>) -> ResponseMode {
        let rt = response_type.and_then(ResponseType::parse).unwrap_or_default();
        match ResponseMode::resolve(response_mode, rt) {
            Ok(m) => m,
            Err(_) => {
                let jwt = response_mode.is_some_and(|m| m == "jwt" || m.ends_with(".jwt"));
                ResponseMode { jwt, ..ResponseMode::default_for(rt) }
            }
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The claims of a JARM response JWT (JARM §2.1): `iss`, `aud` (the client), `exp`, `iat`, and the
/// authorization response's parameters.
pub fn jarm_claims(issuer: &str, client_id: &str, now: i64, fields: &[(&str, String)]) -> Value {
    let mut claims = json!({ "iss": issuer, "aud": client_id, "iat": now, "exp": now + JARM_LIFETIME });
    for (name, value) in fields {
        // `iss` is already the issuer; the response parameters cannot override the JWT's own claims.
        if !matches!(*name, "iss" | "aud" | "exp" | "iat") {
            claims[*name] = json!(value);
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: ResponseMode = ResponseMode::new(Delivery::Query, false);
    const F: ResponseMode = ResponseMode::new(Delivery::Fragment, false);
    const P: ResponseMode = ResponseMode::new(Delivery::FormPost, false);
    const QJ: ResponseMode = ResponseMode::new(Delivery::Query, true);
    const FJ: ResponseMode = ResponseMode::new(Delivery::Fragment, true);
    const PJ: ResponseMode = ResponseMode::new(Delivery::FormPost, true);

    #[test]
    fn response_types_parse_in_any_order() {
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::Code));
        assert_eq!(ResponseType::parse("code id_token"), Some(ResponseType::CodeIdToken));
        assert_eq!(ResponseType::parse("id_token code"), Some(ResponseType::CodeIdToken));
        for bad in ["token", "id_token", "code token", "code id_token token", "code  id_token", "", "code code"] {
            assert_eq!(ResponseType::parse(bad), None, "{bad}");
        }
        assert_eq!(serde_json::to_value(ResponseType::CodeIdToken).unwrap(), "code id_token");
    }

    #[test]
    fn modes_resolve_per_response_type() {
        use ResponseType::*;
        let ok = |m: Option<&str>, rt| ResponseMode::resolve(m, rt).unwrap();
        assert_eq!(ok(None, Code), Q);
        assert_eq!(ok(None, CodeIdToken), F);
        assert_eq!(ok(Some("query"), Code), Q);
        assert_eq!(ok(Some("fragment"), Code), F);
        assert_eq!(ok(Some("form_post"), Code), P);
        assert_eq!(ok(Some("jwt"), Code), QJ);
        assert_eq!(ok(Some("jwt"), CodeIdToken), FJ);
        assert_eq!(ok(Some("query.jwt"), Code), QJ);
        assert_eq!(ok(Some("fragment.jwt"), Code), FJ);
        assert_eq!(ok(Some("form_post.jwt"), Code), PJ);
        assert_eq!(ok(Some("fragment"), CodeIdToken), F);
        assert_eq!(ok(Some("fragment.jwt"), CodeIdToken), FJ);
        assert_eq!(ok(Some("form_post"), CodeIdToken), P);
        assert_eq!(ok(Some("form_post.jwt"), CodeIdToken), PJ);
        for (m, rt) in [("query", CodeIdToken), ("query.jwt", CodeIdToken), ("JWT", Code), ("jwt.query", Code), ("", Code), ("web_message", Code)] {
            assert_eq!(ResponseMode::resolve(Some(m), rt).unwrap_err().code, "invalid_request", "{m}");
        }
    }

    #[test]
    fn errors_go_where_the_client_listens() {
        assert_eq!(ResponseMode::for_error(Some("code"), Some("jwt")), QJ);
        assert_eq!(ResponseMode::for_error(Some("code id_token"), None), F);
        assert_eq!(ResponseMode::for_error(Some("code id_token"), Some("query.jwt")), FJ);
        assert_eq!(ResponseMode::for_error(Some("code id_token"), Some("query")), F);
        assert_eq!(ResponseMode::for_error(Some("token"), Some("form_post")), P);
        assert_eq!(ResponseMode::for_error(None, Some("bogus")), Q);
        assert_eq!(ResponseMode::for_error(Some("code"), Some("bogus.jwt")), QJ);
    }

    #[test]
    fn jarm_claims_carry_the_response() {
        let c = jarm_claims("https://as.example/t/w", "rp", 1000, &[("code", "abc".into()), ("state", "s".into()), ("iss", "https://evil.example".into())]);
        assert_eq!(c["iss"], "https://as.example/t/w");
        assert_eq!(c["aud"], "rp");
        assert_eq!(c["iat"], 1000);
        assert_eq!(c["exp"], 1000 + JARM_LIFETIME);
        assert_eq!(c["code"], "abc");
        assert_eq!(c["state"], "s");
        let e = jarm_claims("i", "rp", 0, &[("error", "access_denied".into()), ("error_description", "no".into())]);
        assert_eq!(e["error"], "access_denied");
        assert!(e.get("code").is_none());
    }
}

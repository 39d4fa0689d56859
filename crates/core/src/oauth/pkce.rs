//! PKCE (RFC 7636), both legs side by side: the challenge the authorization request carries and
//! the verifier the token request must answer it with. S256 only: `plain` would let anyone who
//! sees the authorization request redeem the code.

use crate::crypto;
use crate::error::OAuthError;
use crate::http::Params;

/// RFC 7636 §4.1: 43-128 characters of [A-Z a-z 0-9 - . _ ~] (a verifier, and an S256 challenge).
pub fn valid_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The authorization request's leg: the S256 `code_challenge`, if any. It is required of public
/// clients, and of every client when `required` (the Brazil profile).
pub fn challenge(p: &Params, public_client: bool, required: bool) -> Result<Option<String>, OAuthError> {
    let code_challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (Some(c), Some("S256")) if valid_value(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => return Err(OAuthError::invalid_request("code_challenge is malformed")),
        (Some(_), None) | (Some(_), Some("plain")) => return Err(OAuthError::invalid_request("code_challenge_method must be S256 (plain is not allowed)")),
        (_, Some(m)) if m != "S256" => return Err(OAuthError::invalid_request(format!("code_challenge_method '{m}' is not supported"))),
        (None, Some(_)) => return Err(OAuthError::invalid_request("code_challenge_method without code_challenge")),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("code_challenge is malformed")),
    };
    if code_challenge.is_none() && public_client {
        return Err(OAuthError::invalid_request("PKCE (code_challenge with S256) is required for public clients"));
    }
    if code_challenge.is_none() && required {
        return Err(OAuthError::invalid_request("PKCE (code_challenge with S256) is required under the fapi_br profile"));
    }
    Ok(code_challenge)
}

/// The token request's leg: the `code_verifier` must answer the challenge stored with the code,
/// and must be absent when there was none (a verifier for a code issued without a challenge is a
/// downgrade attempt, RFC 9700 §2.1.1).
pub fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !valid_value(verifier) || !crypto::constant_time_eq(crypto::sha256_b64url(verifier.as_bytes()).as_bytes(), challenge.as_bytes()) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
            }
            Ok(())
        }
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required (PKCE)")),
        (None, Some(_)) => Err(OAuthError::invalid_grant("code_verifier given but the authorization request had no code_challenge")),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(q: &str) -> Params {
        Params::parse(q).unwrap()
    }

    #[test]
    fn challenge_is_s256_only() {
        let ok = params(&format!("code_challenge={CHALLENGE}&code_challenge_method=S256"));
        assert_eq!(challenge(&ok, true, true).unwrap().as_deref(), Some(CHALLENGE));
        for bad in [format!("code_challenge={CHALLENGE}"), format!("code_challenge={CHALLENGE}&code_challenge_method=plain"), "code_challenge=short&code_challenge_method=S256".into(), "code_challenge_method=S256".into(), format!("code_challenge={CHALLENGE}&code_challenge_method=S512")] {
            assert_eq!(challenge(&params(&bad), false, false).unwrap_err().code, "invalid_request", "{bad}");
        }
    }

    #[test]
    fn challenge_is_required_of_public_clients_and_under_the_profile() {
        assert_eq!(challenge(&params(""), false, false).unwrap(), None);
        assert!(challenge(&params(""), true, false).unwrap_err().description.contains("public clients"));
        assert!(challenge(&params(""), false, true).unwrap_err().description.contains("fapi_br"));
    }

    #[test]
    fn verifier_answers_the_challenge() {
        assert!(verify(Some(CHALLENGE), Some(VERIFIER)).is_ok());
        assert!(verify(None, None).is_ok());
        for (c, v) in [(Some(CHALLENGE), Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK")), (Some(CHALLENGE), None), (None, Some(VERIFIER)), (Some(CHALLENGE), Some("short"))] {
            assert_eq!(verify(c, v).unwrap_err().code, "invalid_grant", "{c:?} {v:?}");
        }
    }
}

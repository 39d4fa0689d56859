//! Signed request objects (JAR, RFC 9101) at the authorization and PAR endpoints. A request object
//! is verified with the client's keys (`jwks` or `jwks_uri`, as for `private_key_jwt`); its claims
//! then are the authorization request. Parameters sent beside it may repeat a claim but never
//! contradict it (FAPI 1 Advanced 5.2.2-10); parameters only beside it are ignored (RFC 9101 §6.3).

use crate::client_auth;
use crate::config::client::Client;
use crate::error::OAuthError;
use crate::http::Params;
use crate::jose;
use crate::runtime::Runtime;
use crate::engine::Ctx;
use serde_json::Value;

/// FAPI 1 Advanced 5.2.2-13 and -17: `exp` at most 60 minutes after `nbf`, `nbf` at most 60 minutes old.
pub const MAX_REQUEST_OBJECT_LIFETIME: i64 = 3600;
/// Tolerated clock difference for `nbf` in the future.
const CLOCK_SKEW: i64 = 60;

/// Claims that describe the JWT itself, not the authorization request.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];
/// Parameters that travel beside a request object by design (client authentication at PAR).
const BESIDE_ONLY: [&str; 5] = ["request", "client_assertion", "client_assertion_type", "client_secret", "client_id"];

pub fn invalid_request_object(why: impl Into<String>) -> OAuthError {
    OAuthError { code: "invalid_request_object", ..OAuthError::invalid_request(why) }
}

/// The authorization request's parameters: the verified request object's claims when `request` is
/// present (`true` then), else the parameters as sent (`false`).
pub async fn resolve<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, outside: &Params) -> Result<(Params, bool), OAuthError> {
    let Some(jwt) = outside.get("request") else { return Ok((outside.clone(), false)) };
    let claims = verified_claims(ctx, client, jwt).await?;
    Ok((merge(&client.client_id, &claims, outside)?, true))
}

/// The authorization request of a verified request object's `claims` and the parameters sent
/// beside it (`outside`): the claims, less the JWT's own; a parameter beside may repeat a claim
/// but not contradict it.
pub(crate) fn merge(client_id: &str, claims: &serde_json::Map<String, Value>, outside: &Params) -> Result<Params, OAuthError> {
    let mut params = Params::default();
    for (name, value) in claims {
        if JWT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            // `max_age` is a number, `claims` an object: as a parameter they are their JSON text.
            other => other.to_string(),
        };
        params.0.push((name.clone(), value));
    }
    if params.get("client_id").is_some_and(|c| c != client_id) {
        return Err(invalid_request_object("the request object's client_id is not the client's"));
    }
    for (name, value) in &outside.0 {
        if BESIDE_ONLY.contains(&name.as_str()) || value.is_empty() {
            continue;
        }
        if params.get(name).is_some_and(|inside| inside != value) {
            return Err(OAuthError::invalid_request(format!("'{name}' differs from the request object's value")));
        }
    }
    if !params.0.iter().any(|(k, _)| k == "client_id") {
        params.0.push(("client_id".into(), client_id.to_string()));
    }
    Ok(params)
}

/// Verifies signature, algorithm, `iss`, `aud` and the time window; returns the claims.
async fn verified_claims<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, jwt: &str) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let jws = parse(jwt)?;
    let alg = jws.alg().ok_or_else(|| invalid_request_object("the request object's alg is not supported"))?;
    if let Some(only) = ctx.config.only_alg() {
        if alg != only {
            return Err(invalid_request_object(format!("request objects must be signed with {}", only.as_str())));
        }
    }
    if client.request_object_signing_alg.is_some_and(|a| a != alg) {
        return Err(invalid_request_object("the request object is not signed with the client's request_object_signing_alg"));
    }
    client_auth::verify_with_client_keys(ctx, client, &jws)
        .await
        .map_err(|e| if e.status >= 500 { e } else { invalid_request_object(e.description) })?
        .map_err(|_| invalid_request_object("the request object's signature is invalid"))?;
    let Value::Object(c) = jws.claims else { return Err(invalid_request_object("the request object is not a JSON object")) };
    check_claims(&c, &client.client_id, &ctx.issuer, ctx.now, ctx.config.request_object_nbf_required())?;
    Ok(c)
}

/// A request object as a parsed, not yet verified, JWS (JWE, five parts, is refused by name).
pub(crate) fn parse(jwt: &str) -> Result<jose::Jws, OAuthError> {
    if jwt.split('.').count() == 5 {
        return Err(invalid_request_object("encrypted request objects are not supported"));
    }
    jose::parse_jws(jwt).map_err(|e| invalid_request_object(format!("the request object is malformed: {}", e.message())))
}

/// The claims of a verified request object: `iss` the client, `aud` the issuer, the time window.
pub(crate) fn check_claims(c: &serde_json::Map<String, Value>, client_id: &str, issuer: &str, now: i64, nbf_required: bool) -> Result<(), OAuthError> {
    if c.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid_request_object("the request object's iss must be the client_id"));
    }
    let audience_ok = match c.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(issuer)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid_request_object("the request object's aud must be the issuer"));
    }
    check_lifetime(now, c.get("exp").and_then(Value::as_i64), c.get("nbf").and_then(Value::as_i64), nbf_required)
}

/// `exp` is always required; `nbf` under the Brazil profile. Neither may make the object live
/// longer than [`MAX_REQUEST_OBJECT_LIFETIME`].
fn check_lifetime(now: i64, exp: Option<i64>, nbf: Option<i64>, nbf_required: bool) -> Result<(), OAuthError> {
    let exp = exp.ok_or_else(|| invalid_request_object("the request object has no exp"))?;
    if exp <= now {
        return Err(invalid_request_object("the request object has expired"));
    }
    match nbf {
        None if nbf_required => return Err(invalid_request_object("the request object has no nbf")),
        None if exp > now + MAX_REQUEST_OBJECT_LIFETIME => return Err(invalid_request_object("the request object lives longer than 60 minutes")),
        None => {}
        Some(nbf) => {
            if nbf > now + CLOCK_SKEW {
                return Err(invalid_request_object("the request object is not valid yet (nbf)"));
            }
            if nbf < now - MAX_REQUEST_OBJECT_LIFETIME {
                return Err(invalid_request_object("the request object's nbf is more than 60 minutes in the past"));
            }
            if exp - nbf > MAX_REQUEST_OBJECT_LIFETIME {
                return Err(invalid_request_object("the request object lives longer than 60 minutes (exp - nbf)"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_rules() {
        let now = 1_000_000;
        assert!(check_lifetime(now, Some(now + 300), Some(now), true).is_ok());
        assert!(check_lifetime(now, Some(now + 300), None, false).is_ok());
        assert_eq!(check_lifetime(now, None, Some(now), true).unwrap_err().code, "invalid_request_object");
        assert!(check_lifetime(now, Some(now), Some(now - 10), true).unwrap_err().description.contains("expired"));
        assert!(check_lifetime(now, Some(now + 300), None, true).unwrap_err().description.contains("nbf"));
        assert!(check_lifetime(now, Some(now + 3601), Some(now), true).is_err());
        assert!(check_lifetime(now, Some(now + 3601), None, false).is_err());
        assert!(check_lifetime(now, Some(now + 60), Some(now - 3601), true).is_err());
        assert!(check_lifetime(now, Some(now + 300), Some(now + 120), true).is_err());
    }
}

//! Client authentication at the token, introspection and revocation endpoints:
//! client_secret_basic, client_secret_post, private_key_jwt (RFC 7523), tls_client_auth and
//! self_signed_tls_client_auth (RFC 8705 §2) and none (public clients).

use crate::config::client::{Client, AUTH_NONE, AUTH_PRIVATE_KEY_JWT, AUTH_SECRET_BASIC, AUTH_SECRET_POST, AUTH_SELF_SIGNED_TLS, AUTH_TLS};
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{percent_decode, Params, Request};
use crate::jose::{self, Jws, JoseError};
use crate::outbound::{self, FetchError};
use crate::runtime::{CounterStore, Runtime, StoreError};
use crate::engine::Ctx;
use crate::store;
use crate::authn::throttle::{self, Verdict};
use base64::Engine;
use serde_json::Value;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest lifetime we accept for a client assertion (its `jti` is remembered that long).
const MAX_ASSERTION_LIFETIME: i64 = 600;

fn invalid_client(why: &str) -> OAuthError {
    OAuthError::invalid_client(why.to_string())
}

/// The client a request authenticated as: the isolate's cached entry, shared rather than copied
/// (a `Client` is a few dozen strings and lists; a token request would clone them all).
pub struct Authenticated(std::sync::Arc<store::StoredClient>);

impl std::ops::Deref for Authenticated {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0.client
    }
}

enum Presented<'a> {
    Basic { id: String, secret: String },
    Post { id: &'a str, secret: &'a str },
    Assertion { id: String, assertion: &'a str },
    None { id: &'a str },
}

fn presented<'a>(req: &Request, params: &'a Params) -> Result<Presented<'a>, OAuthError> {
    let basic = req.header("authorization").and_then(|h| {
        let (scheme, value) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| value.trim().to_string())
    });
    let assertion = params.get("client_assertion");
    let form_secret = params.get("client_secret");
    let methods = basic.is_some() as u8 + assertion.is_some() as u8 + form_secret.is_some() as u8;
    if methods > 1 {
        return Err(OAuthError::invalid_request("use exactly one client authentication method"));
    }
    if let Some(b) = basic {
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
        let raw = base64::engine::general_purpose::STANDARD.decode(b).map_err(|_| invalid_client("malformed Basic credentials"))?;
        let raw = String::from_utf8(raw).map_err(|_| invalid_client("malformed Basic credentials"))?;
        let (id, secret) = raw.split_once(':').ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let id = percent_decode(id).ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let secret = percent_decode(secret).ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        if params.get("client_id").is_some_and(|p| p != id) {
            return Err(OAuthError::invalid_request("client_id does not match the Basic credentials"));
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(OAuthError::invalid_request("client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        }
        let jws = jose::parse_jws(assertion).map_err(|e| invalid_client(&format!("the client assertion is malformed: {e}")))?;
        let sub = jws.claims.get("sub").and_then(Value::as_str).ok_or_else(|| invalid_client("the client assertion has no sub"))?;
        if params.get("client_id").is_some_and(|p| p != sub) {
            return Err(OAuthError::invalid_request("client_id does not match the client assertion"));
        }
        return Ok(Presented::Assertion { id: sub.to_string(), assertion });
    }
    let id = params.get("client_id").ok_or_else(|| invalid_client("client authentication is required"))?;
    Ok(match form_secret {
        Some(secret) => Presented::Post { id, secret },
        None => Presented::None { id },
    })
}

/// Why a client authentication failed. Only a wrong credential counts towards the client's and the
/// address's limits (`authn::throttle`): a secret, a signature or a certificate that does not
/// match, or a client_id nobody registered. The rest would fail whatever was guessed, so counting
/// them would only lock out a client with a bug: a malformed credential, a method the client does
/// not use, a well-signed assertion that is replayed, expired or for another audience, keys that
/// could not be fetched.
enum Refusal {
    WrongCredential(OAuthError),
    Other(OAuthError),
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Refusal {
        Refusal::Other(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Other(e.into())
    }
}

fn locked(retry_after_secs: i64) -> OAuthError {
    OAuthError::temporarily_locked(retry_after_secs, format!("too many failed client authentications; try again in {retry_after_secs} seconds"))
}

/// Authenticates the calling client. `endpoint` is the URL the request was sent to (an accepted
/// `aud` of a client assertion, besides the issuer).
///
/// Failed attempts are limited per client_id and per address. A locked client or address is
/// refused before its credentials are checked (429, `Retry-After`), the right ones included.
/// Where counters are local (Spin, native) that is read on every authentication; on Workers, where
/// each counter is a Durable Object, only a lock this isolate has seen is enforced up front
/// (every isolate that counts a failure learns the lock from it), so a token request that
/// succeeds costs no round trip and no single object carries all of a client's requests.
pub async fn authenticate<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, params: &Params, endpoint: &str) -> Result<Authenticated, OAuthError> {
    let p = presented(req, params)?;
    let id = match &p {
        Presented::Basic { id, .. } | Presented::Assertion { id, .. } => id.clone(),
        Presented::Post { id, .. } | Presented::None { id } => id.to_string(),
    };
    let mut guard = throttle::Guard::client(ctx, req, &id);
    if let Verdict::Locked { retry_after_secs } = guard.check(ctx, ctx.rt.counters().reads_are_local()).await? {
        return Err(locked(retry_after_secs));
    }
    match verify(ctx, req, p, endpoint).await {
        Ok(client) => Ok(client),
        Err(Refusal::Other(e)) => Err(e),
        Err(Refusal::WrongCredential(e)) => match guard.failed(ctx).await? {
            Verdict::Locked { retry_after_secs } => Err(locked(retry_after_secs)),
            Verdict::Allowed => Err(e),
        },
    }
}

async fn verify<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, p: Presented<'_>, endpoint: &str) -> Result<Authenticated, Refusal> {
    let (id, method) = match &p {
        Presented::Basic { id, .. } => (id.as_str(), AUTH_SECRET_BASIC),
        Presented::Post { id, .. } => (*id, AUTH_SECRET_POST),
        Presented::Assertion { id, .. } => (id.as_str(), AUTH_PRIVATE_KEY_JWT),
        Presented::None { id } => (*id, AUTH_NONE),
    };
    let stored = ctx.client(id).await?;
    let Some(stored) = stored else {
        return Err(Refusal::WrongCredential(invalid_client("unknown client or wrong credentials")));
    };
    // A bare client_id is how a client using the TLS layer names itself (RFC 8705 §2).
    let method = if method == AUTH_NONE && stored.client.uses_mtls_auth() { stored.client.token_endpoint_auth_method.as_str() } else { method };
    if stored.client.token_endpoint_auth_method != method {
        return Err(invalid_client(&format!("this client authenticates with {}", stored.client.token_endpoint_auth_method)).into());
    }
    if !ctx.config.client_auth_methods().contains(&method) {
        return Err(invalid_client(&format!("this workspace accepts only {} client authentication", ctx.config.client_auth_methods().join(", "))).into());
    }
    match p {
        Presented::Basic { secret, .. } => check_secret(stored.secret_hash.as_deref(), &secret).map_err(Refusal::WrongCredential)?,
        Presented::Post { secret, .. } => check_secret(stored.secret_hash.as_deref(), secret).map_err(Refusal::WrongCredential)?,
        Presented::Assertion { assertion, .. } => check_assertion(ctx, &stored.client, assertion, endpoint).await?,
        Presented::None { .. } if method == AUTH_TLS || method == AUTH_SELF_SIGNED_TLS => {
            // No certificate at all is a request without a credential, not a wrong one.
            let wrong = if req.client_certificate.get().is_some() { Refusal::WrongCredential } else { Refusal::Other };
            check_certificate(&stored.client, req).map_err(wrong)?
        }
        Presented::None { .. } => {}
    }
    Ok(Authenticated(stored))
}

/// RFC 8705 §2.1.2 (`tls_client_auth`): a certificate the TLS layer verified, whose subject DN is
/// the registered one. §2.2 (`self_signed_tls_client_auth`): the registered certificate itself.
fn check_certificate(client: &Client, req: &Request) -> Result<(), OAuthError> {
    let cert = req.client_certificate.get().ok_or_else(|| invalid_client("this client authenticates with a TLS client certificate, and none was presented"))?;
    if client.token_endpoint_auth_method == AUTH_TLS {
        let expected = client.tls_client_auth_subject_dn.as_deref().unwrap_or_default();
        if !cert.verified || !crate::crypto::certificate::dn_equal(&cert.subject_dn, expected) {
            return Err(invalid_client("the client certificate's subject DN is not the registered one (or the certificate was not verified)"));
        }
    } else {
        let expected = client.tls_client_certificate_x5t_s256.as_deref().unwrap_or_default();
        if !crypto::constant_time_eq(cert.sha256_fingerprint.as_bytes(), expected.as_bytes()) {
            return Err(invalid_client("the client certificate is not the registered one"));
        }
    }
    Ok(())
}

fn check_secret(stored_hash: Option<&str>, secret: &str) -> Result<(), OAuthError> {
    let presented = crypto::sha256_b64url(secret.as_bytes());
    match stored_hash {
        Some(h) if crypto::constant_time_eq(h.as_bytes(), presented.as_bytes()) => Ok(()),
        _ => Err(invalid_client("unknown client or wrong credentials")),
    }
}

/// Verifies `jws` with the client's keys: its inline `jwks`, or its `jwks_uri` through the guarded,
/// cached fetch of [`outbound`] (see [`outbound::verify_with_keys`]). The outer error: the keys
/// could not be had (`invalid_client`, or a 500 for our storage); the inner result: the verification's.
pub(crate) async fn verify_with_client_keys<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, jws: &Jws) -> Result<Result<(), JoseError>, OAuthError> {
    if client.jwks.is_none() && client.jwks_uri.is_none() {
        return Err(invalid_client("the client has no keys"));
    }
    let owner = jwks_owner(&ctx.tenant, &ctx.workspace, &client.client_id);
    outbound::verify_with_keys(ctx, &owner, client.jwks.as_ref(), client.jwks_uri.as_deref(), jws).await.map_err(unavailable)
}

/// Whose document a client's fetched JWK set is, in [`outbound`]'s cache.
pub(crate) fn jwks_owner(tenant: &str, workspace: &str, client_id: &str) -> String {
    format!("jwks/{tenant}/{workspace}/{client_id}")
}

fn unavailable(e: FetchError) -> OAuthError {
    match e {
        FetchError::Store(s) => OAuthError::server_error(s),
        FetchError::NotJson | FetchError::NotJwkSet => invalid_client("the client's jwks_uri is not a JWK Set").with_cause(e.to_string()),
        e => invalid_client("the client's jwks_uri could not be fetched").with_cause(e.to_string()),
    }
}

/// A signature that does not verify with the client's keys is a wrong credential; everything else
/// about an assertion is not (see [`Refusal`]).
async fn check_assertion<R: Runtime>(ctx: &Ctx<'_, R>, client: &Client, assertion: &str, endpoint: &str) -> Result<(), Refusal> {
    let jws = jose::parse_jws(assertion).map_err(|_| invalid_client("the client assertion is malformed"))?;
    if let Some(only) = ctx.config.only_alg() {
        if jws.alg() != Some(only) {
            return Err(invalid_client(&format!("client assertions must be signed with {}", only.as_str())).into());
        }
    }
    verify_with_client_keys(ctx, client, &jws).await?.map_err(|_| Refusal::WrongCredential(invalid_client("the client assertion signature is invalid")))?;
    let c = &jws.claims;
    let str_claim = |n: &str| c.get(n).and_then(Value::as_str);
    if str_claim("iss") != Some(client.client_id.as_str()) || str_claim("sub") != Some(client.client_id.as_str()) {
        return Err(invalid_client("the client assertion's iss and sub must be the client_id").into());
    }
    let audience_ok = match c.get("aud") {
        Some(Value::String(a)) => *a == ctx.issuer || a == endpoint,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str().is_some_and(|a| a == ctx.issuer || a == endpoint)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid_client("the client assertion's aud must be the issuer or this endpoint").into());
    }
    let exp = c.get("exp").and_then(Value::as_i64).ok_or_else(|| invalid_client("the client assertion has no exp"))?;
    if exp <= ctx.now {
        return Err(invalid_client("the client assertion has expired").into());
    }
    if exp > ctx.now + MAX_ASSERTION_LIFETIME {
        return Err(invalid_client("the client assertion lives too long (at most 10 minutes)").into());
    }
    if c.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > ctx.now + 60) {
        return Err(invalid_client("the client assertion is not valid yet").into());
    }
    let jti = str_claim("jti").filter(|j| !j.is_empty() && j.len() <= 256).ok_or_else(|| invalid_client("the client assertion needs a jti"))?;
    if !store::use_jti(ctx.db(), &ctx.tenant, &ctx.workspace, &client.client_id, jti, exp).await? {
        return Err(invalid_client("the client assertion was already used (jti replay)").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ClientCertificate;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request::new("POST", "https://as.example/t/w/token", headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), Vec::new())
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    }

    fn method(req: &Request, form: &str) -> Result<&'static str, &'static str> {
        let params = Params::parse(form).unwrap();
        presented(req, &params).map(|p| match p {
            Presented::Basic { .. } => "basic",
            Presented::Post { .. } => "post",
            Presented::Assertion { .. } => "assertion",
            Presented::None { .. } => "none",
        }).map_err(|e| e.code)
    }

    #[test]
    fn exactly_one_method_is_presented() {
        let b = basic("web", "s3cret");
        assert_eq!(method(&request(&[("authorization", &b)]), ""), Ok("basic"));
        assert_eq!(method(&request(&[]), "client_id=web&client_secret=s"), Ok("post"));
        assert_eq!(method(&request(&[]), "client_id=web"), Ok("none"));
        assert_eq!(method(&request(&[]), ""), Err("invalid_client"));
        assert_eq!(method(&request(&[("authorization", &b)]), "client_secret=s"), Err("invalid_request"));
        assert_eq!(method(&request(&[("authorization", &b)]), "client_id=other"), Err("invalid_request"));
    }

    #[test]
    fn basic_credentials_are_form_encoded_then_base64() {
        let req = request(&[("authorization", &basic("my%20app", "p%3Ass"))]);
        let params = Params::parse("").unwrap();
        let Ok(Presented::Basic { id, secret }) = presented(&req, &params) else { panic!("basic") };
        assert_eq!((id.as_str(), secret.as_str()), ("my app", "p:ss"));
        for bad in ["Basic !!!", "Basic bm9jb2xvbg", &format!("Basic {}", base64::engine::general_purpose::STANDARD.encode([0xff, b':', b'x']))] {
            assert_eq!(method(&request(&[("authorization", bad)]), ""), Err("invalid_client"), "{bad}");
        }
    }

    #[test]
    fn assertions_need_the_jwt_bearer_type_and_a_matching_sub() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3ZWIifQ.c2ln";
        assert_eq!(method(&request(&[]), &format!("client_assertion={jwt}&client_assertion_type={JWT_BEARER_ASSERTION}")), Ok("assertion"));
        assert_eq!(method(&request(&[]), &format!("client_assertion={jwt}")), Err("invalid_request"));
        assert_eq!(method(&request(&[]), &format!("client_assertion={jwt}&client_assertion_type={JWT_BEARER_ASSERTION}&client_id=other")), Err("invalid_request"));
        assert_eq!(method(&request(&[]), &format!("client_assertion=garbage&client_assertion_type={JWT_BEARER_ASSERTION}")), Err("invalid_client"));
    }

    #[test]
    fn secrets_compare_by_hash() {
        let hash = crypto::sha256_b64url(b"s3cret");
        assert!(check_secret(Some(&hash), "s3cret").is_ok());
        assert!(check_secret(Some(&hash), "s3cre").is_err());
        assert!(check_secret(None, "s3cret").is_err(), "a client without a secret never matches");
    }

    #[test]
    fn certificates_match_by_verified_subject_or_registered_thumbprint() {
        let cert = |verified: bool, dn: &str, x5t: &str| ClientCertificate { verified, subject_dn: dn.into(), sha256_fingerprint: x5t.into(), ..ClientCertificate::default() };
        let with = |c: Option<ClientCertificate>| Request { client_certificate: crate::http::CertificateSlot::known(c), ..request(&[]) };
        let tls = Client { token_endpoint_auth_method: AUTH_TLS.into(), tls_client_auth_subject_dn: Some("CN=tpp,O=Bank".into()), ..Client::default() };
        assert!(check_certificate(&tls, &with(Some(cert(true, "CN=tpp,O=Bank", "x")))).is_ok());
        assert!(check_certificate(&tls, &with(Some(cert(false, "CN=tpp,O=Bank", "x")))).is_err(), "an unverified certificate");
        assert!(check_certificate(&tls, &with(Some(cert(true, "CN=other,O=Bank", "x")))).is_err());
        assert!(check_certificate(&tls, &with(None)).is_err());
        let self_signed = Client { token_endpoint_auth_method: AUTH_SELF_SIGNED_TLS.into(), tls_client_certificate_x5t_s256: Some("thumb".into()), ..Client::default() };
        assert!(check_certificate(&self_signed, &with(Some(cert(false, "CN=any", "thumb")))).is_ok());
        assert!(check_certificate(&self_signed, &with(Some(cert(false, "CN=any", "other")))).is_err());
    }
}

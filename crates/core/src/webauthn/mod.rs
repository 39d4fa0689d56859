//! WebAuthn Level 2 (passkeys), the relying party's checks: the browser's `clientDataJSON`, the
//! attestation object and the authenticator data, COSE keys (ES256 and RS256) turned into JWKs so
//! signatures go through the runtime's `Signer::verify` like every other signature here. A leaf:
//! it takes bytes and expectations and answers with data or a typed error; the ceremonies (where
//! challenges live, which credentials a user has) are `oauth::authorize::passkeys`.
//!
//! Attestation: `none` is what passkeys send; any other format's statement is ignored and the
//! credential treated as unattested (we keep no list of trusted authenticator makers), but its
//! AAGUID is kept, for the administrator to see which kind of authenticator made it.

pub mod cbor;

use crate::crypto::{b64url, sha256};
use crate::runtime::{Alg, Signer, StoreError};
use cbor::Value;
use serde_json::json;

/// Authenticator data flags (WebAuthn §6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_AT: u8 = 0x40;
const FLAG_ED: u8 = 0x80;

/// Credential ids are at most 1023 bytes (WebAuthn §4, "Credential ID").
pub const MAX_CREDENTIAL_ID: usize = 1023;

/// COSE algorithm identifiers we accept, in our order of preference (`pubKeyCredParams`).
pub const COSE_ES256: i64 = -7;
pub const COSE_RS256: i64 = -257;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("clientDataJSON type is {0:?}")]
    WrongType(String),
    #[error("the challenge does not match")]
    WrongChallenge,
    #[error("origin {0:?} is not this workspace's")]
    WrongOrigin(String),
    #[error("the ceremony ran in a cross-origin frame")]
    CrossOrigin,
    #[error("rpIdHash is not SHA-256 of the relying party id")]
    WrongRpId,
    #[error("the user-present flag is not set")]
    UserNotPresent,
    #[error("the user-verified flag is not set and verification is required")]
    UserNotVerified,
    #[error("COSE algorithm {0} is not supported")]
    UnsupportedAlgorithm(i128),
    #[error("unusable public key: {0}")]
    BadKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signature counter went from {stored} to {got}")]
    CounterRegressed { stored: u32, got: u32 },
}

impl WebauthnError {
    /// What the user (and the page's script) is told; the variant's text stays in the log.
    pub fn public(&self) -> &'static str {
        match self {
            WebauthnError::Malformed(_) => "the passkey response is malformed",
            WebauthnError::WrongType(_) | WebauthnError::WrongChallenge => "the passkey response does not answer this challenge",
            WebauthnError::WrongOrigin(_) | WebauthnError::CrossOrigin | WebauthnError::WrongRpId => "the passkey response was made for another site",
            WebauthnError::UserNotPresent => "the passkey did not confirm that the user was present",
            WebauthnError::UserNotVerified => "the passkey must verify the user (PIN or biometrics)",
            WebauthnError::UnsupportedAlgorithm(_) | WebauthnError::BadKey(_) => "this passkey's key type is not supported; use ES256 or RS256",
            WebauthnError::BadSignature => "the passkey's signature is invalid",
            WebauthnError::CounterRegressed { .. } => "this passkey's signature counter went backwards; it may have been cloned",
        }
    }
}

fn malformed(why: impl Into<String>) -> WebauthnError {
    WebauthnError::Malformed(why.into())
}

/// What a response must match: the challenge we issued, our origin, our relying party id, and
/// whether the policy needs user verification.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub challenge: &'a [u8],
    pub origin: &'a str,
    pub rp_id: &'a str,
    pub require_uv: bool,
}

/// The parts of `clientDataJSON` we check (§5.8.1); the rest (tokenBinding, extensions) is ignored.
#[derive(Debug, serde::Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

fn check_client_data(raw: &[u8], kind: &str, exp: &Expected<'_>) -> Result<(), WebauthnError> {
    let cd: ClientData = serde_json::from_slice(raw).map_err(|e| malformed(format!("clientDataJSON: {e}")))?;
    if cd.kind != kind {
        return Err(WebauthnError::WrongType(cd.kind));
    }
    let got = crate::crypto::b64url_decode(&cd.challenge).ok_or(WebauthnError::WrongChallenge)?;
    if !crate::crypto::constant_time_eq(&got, exp.challenge) {
        return Err(WebauthnError::WrongChallenge);
    }
    if cd.origin != exp.origin {
        return Err(WebauthnError::WrongOrigin(cd.origin));
    }
    // Our pages never embed the ceremony in another site's frame (they refuse framing anyway).
    if cd.cross_origin {
        return Err(WebauthnError::CrossOrigin);
    }
    Ok(())
}

/// Authenticator data (§6.1), parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatorData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    /// Registration: the new credential.
    pub attested: Option<Attested>,
}

/// Attested credential data (§6.5.1): the authenticator model, the credential id, its COSE key.
#[derive(Debug, Clone, PartialEq)]
pub struct Attested {
    pub aaguid: [u8; 16],
    pub id: Vec<u8>,
    pub key: Value,
}

impl AuthenticatorData {
    pub fn parse(raw: &[u8]) -> Result<AuthenticatorData, WebauthnError> {
        if raw.len() < 37 {
            return Err(malformed("authenticator data is shorter than 37 bytes"));
        }
        let rp_id_hash: [u8; 32] = raw[..32].try_into().map_err(|_| malformed("rpIdHash"))?;
        let flags = raw[32];
        let sign_count = u32::from_be_bytes([raw[33], raw[34], raw[35], raw[36]]);
        let mut rest = &raw[37..];
        let attested = if flags & FLAG_AT != 0 {
            if rest.len() < 18 {
                return Err(malformed("attested credential data is truncated"));
            }
            let aaguid: [u8; 16] = rest[..16].try_into().map_err(|_| malformed("aaguid"))?;
            let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            if id_len == 0 || id_len > MAX_CREDENTIAL_ID || rest.len() < 18 + id_len {
                return Err(malformed("credential id length"));
            }
            let id = rest[18..18 + id_len].to_vec();
            let (key, used) = cbor::decode_prefix(&rest[18 + id_len..]).map_err(|e| malformed(format!("credential public key: {e}")))?;
            rest = &rest[18 + id_len + used..];
            Some(Attested { aaguid, id, key })
        } else {
            None
        };
        if flags & FLAG_ED != 0 {
            let (_, used) = cbor::decode_prefix(rest).map_err(|e| malformed(format!("extensions: {e}")))?;
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            return Err(malformed("trailing bytes in authenticator data"));
        }
        Ok(AuthenticatorData { rp_id_hash, flags, sign_count, attested })
    }

    pub fn user_present(&self) -> bool {
        self.flags & FLAG_UP != 0
    }
    pub fn user_verified(&self) -> bool {
        self.flags & FLAG_UV != 0
    }

    fn check(&self, exp: &Expected<'_>) -> Result<(), WebauthnError> {
        if !crate::crypto::constant_time_eq(&self.rp_id_hash, &sha256(exp.rp_id.as_bytes())) {
            return Err(WebauthnError::WrongRpId);
        }
        if !self.user_present() {
            return Err(WebauthnError::UserNotPresent);
        }
        if exp.require_uv && !self.user_verified() {
            return Err(WebauthnError::UserNotVerified);
        }
        Ok(())
    }
}

/// A COSE_Key (RFC 9052 §7, RFC 9053) as the algorithm and public JWK it stands for.
pub fn cose_to_jwk(key: &Value) -> Result<(Alg, serde_json::Value), WebauthnError> {
    let int = |label| key.int_key(label).and_then(Value::as_int);
    let bytes = |label| key.int_key(label).and_then(Value::as_bytes).ok_or_else(|| WebauthnError::BadKey(format!("COSE member {label} is missing")));
    let alg = int(3).ok_or_else(|| WebauthnError::BadKey("no alg".into()))?;
    match (int(1), alg) {
        // EC2, P-256 (crv 1), x (-2) and y (-3)
        (Some(2), a) if a == i128::from(COSE_ES256) => {
            if int(-1) != Some(1) {
                return Err(WebauthnError::BadKey("ES256 needs curve P-256".into()));
            }
            let (x, y) = (bytes(-2)?, bytes(-3)?);
            if x.len() != 32 || y.len() != 32 {
                return Err(WebauthnError::BadKey("P-256 coordinates are 32 bytes".into()));
            }
            let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
            if Option::<p256::PublicKey>::from(<p256::PublicKey as p256::elliptic_curve::sec1::FromEncodedPoint<p256::NistP256>>::from_encoded_point(&point)).is_none() {
                return Err(WebauthnError::BadKey("the point is not on P-256".into()));
            }
            Ok((Alg::ES256, json!({"kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y)})))
        }
        // RSA, n (-1) and e (-2); the same bounds as every RSA key here (2048 to 4096 bits)
        (Some(3), a) if a == i128::from(COSE_RS256) => {
            let (n, e) = (bytes(-1)?, bytes(-2)?);
            let key = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e)).map_err(|e| WebauthnError::BadKey(e.to_string()))?;
            if rsa::traits::PublicKeyParts::n(&key).bits() < 2048 {
                return Err(WebauthnError::BadKey("RSA keys need 2048 bits or more".into()));
            }
            Ok((Alg::RS256, json!({"kty": "RSA", "n": b64url(n), "e": b64url(e)})))
        }
        _ => Err(WebauthnError::UnsupportedAlgorithm(alg)),
    }
}

/// A credential a registration created, checked and ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCredential {
    pub id: Vec<u8>,
    pub alg: Alg,
    pub public_jwk: serde_json::Value,
    pub sign_count: u32,
    /// The authenticator model's AAGUID, as a UUID string (all zeros for most `none` attestations).
    pub aaguid: String,
    pub user_verified: bool,
    /// Backup eligible: a synced passkey (§6.1, flag BE).
    pub backup_eligible: bool,
}

/// Registration (§7.1, steps 5 to 22 without attestation trust): `clientDataJSON` and the
/// attestation object from `navigator.credentials.create()`.
pub fn check_registration(client_data_json: &[u8], attestation_object: &[u8], exp: &Expected<'_>) -> Result<NewCredential, WebauthnError> {
    check_client_data(client_data_json, "webauthn.create", exp)?;
    let att = cbor::decode(attestation_object).map_err(|e| malformed(format!("attestation object: {e}")))?;
    att.text_key("fmt").and_then(Value::as_text).ok_or_else(|| malformed("attestation object without fmt"))?;
    att.text_key("attStmt").and_then(Value::entries).ok_or_else(|| malformed("attestation object without attStmt"))?;
    let auth_data = att.text_key("authData").and_then(Value::as_bytes).ok_or_else(|| malformed("attestation object without authData"))?;
    let data = AuthenticatorData::parse(auth_data)?;
    data.check(exp)?;
    let Attested { aaguid, id, key } = data.attested.clone().ok_or_else(|| malformed("no attested credential data"))?;
    let (alg, public_jwk) = cose_to_jwk(&key)?;
    Ok(NewCredential { id, alg, public_jwk, sign_count: data.sign_count, aaguid: uuid(&aaguid), user_verified: data.user_verified(), backup_eligible: data.flags & FLAG_BE != 0 })
}

fn uuid(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// An assertion whose client data and authenticator data passed; its signature is checked next
/// (with the stored key, see [`verify_signature`]), then its counter ([`counter_advances`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    pub sign_count: u32,
    pub user_verified: bool,
    /// What the authenticator signed: authenticator data || SHA-256(clientDataJSON).
    pub signed: Vec<u8>,
}

/// Authentication (§7.2, steps 11 to 20 but the signature and the counter).
pub fn check_assertion(client_data_json: &[u8], authenticator_data: &[u8], exp: &Expected<'_>) -> Result<Assertion, WebauthnError> {
    check_client_data(client_data_json, "webauthn.get", exp)?;
    let data = AuthenticatorData::parse(authenticator_data)?;
    data.check(exp)?;
    let signed = [authenticator_data, &sha256(client_data_json)].concat();
    Ok(Assertion { sign_count: data.sign_count, user_verified: data.user_verified(), signed })
}

/// §7.2 step 21: a counter must grow, unless the authenticator keeps none (both zero). A counter
/// that does not grow means two copies of the private key exist: the credential is refused.
pub fn counter_advances(stored: u32, got: u32) -> bool {
    (stored == 0 && got == 0) || got > stored
}

/// Checks an assertion's signature with the stored key through the runtime's signer. WebAuthn's
/// ES256 signatures are DER (X9.62), the signer takes JWS's fixed r || s: converted first.
pub async fn verify_signature(signer: &impl Signer, alg: Alg, public_jwk: &serde_json::Value, signed: &[u8], signature: &[u8]) -> Result<Result<(), WebauthnError>, StoreError> {
    let raw;
    let signature = if alg == Alg::ES256 {
        let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else { return Ok(Err(WebauthnError::BadSignature)) };
        raw = sig.to_bytes();
        &raw[..]
    } else {
        signature
    };
    Ok(if signer.verify(alg, public_jwk, signed, signature).await? { Ok(()) } else { Err(WebauthnError::BadSignature) })
}

/// The COSE algorithm a stored JWK's `Alg` came from (for `pubKeyCredParams` and the API).
pub fn cose_alg(alg: Alg) -> i64 {
    if alg == Alg::ES256 {
        COSE_ES256
    } else {
        COSE_RS256
    }
}

#[cfg(test)]
mod tests;

//! JWS compact serialization (no JWE): signing-key generation, the pure-Rust [`Signer`], token
//! assembly, strict parsing with an algorithm allow-list, JWK-set key selection, `at_hash` and
//! RFC 7638 thumbprints.
//!
//! Only ES256, RS256 and PS256 exist here. Refusing every other `alg` at parse time (`none`,
//! HS*, ...) is what protects against algorithm-confusion attacks: a public key is never used as
//! an HMAC secret and an unsigned token never reaches verification.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature as EcSignature, VerifyingKey as EcVerifyingKey};
use p256::elliptic_curve::sec1::EncodedPoint;
// p256 and rsa share the `pkcs8` crate, so these traits serve both key types.
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, SecretDocument};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use serde_json::{Map, Value};
use sha2::Sha256;

mod es256;
pub mod keys;

use crate::crypto::{b64url, b64url_decode, sha256, sha256_b64url, EntropyRng};
use crate::runtime::{Alg, Entropy, Signer, StoreError};

/// Size of the RSA keys we generate, and the smallest modulus we accept from anyone.
pub const RSA_BITS: usize = 2048;
/// Largest compact JWS we parse: far above any legitimate request object or client assertion,
/// small enough that decoding is cheap.
pub const MAX_JWS_LEN: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a presented JWS was refused. The message is safe to show to the client (it names what is
/// wrong with *their* token or key set, never our keys); endpoints map it to an OAuth error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoseError {
    /// Not a compact JWS we accept: structure, size, encoding, JSON, `crit`, or `alg`.
    Malformed(String),
    /// No key in the JWK set is a candidate. A caller holding a cached `jwks_uri` may refetch it
    /// once (the client may have rotated keys).
    NoMatchingKey(String),
    /// The selected key cannot verify this token (wrong `kty`/`crv`/`alg`, RSA modulus too short).
    UnusableKey(String),
    /// The signature does not verify under the selected key.
    BadSignature,
}

impl JoseError {
    fn malformed(msg: impl Into<String>) -> Self {
        JoseError::Malformed(msg.into())
    }

    /// A human-readable description for `error_description`.
    pub fn message(&self) -> String {
        match self {
            JoseError::Malformed(m) | JoseError::NoMatchingKey(m) | JoseError::UnusableKey(m) => m.clone(),
            JoseError::BadSignature => "the JWS signature is invalid".into(),
        }
    }
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for JoseError {}

// ---------------------------------------------------------------------------------------------
// Key generation
// ---------------------------------------------------------------------------------------------

/// A freshly generated signing key: the private half as PKCS#8 DER (to be sealed with
/// [`crate::crypto::seal`] before storage) and the public half as a JWK ready for `jwks_uri`.
#[derive(Clone)]
pub struct GeneratedKey {
    /// The RFC 7638 thumbprint of the public key, so a kid names exactly one key.
    pub kid: String,
    pub alg: Alg,
    pub pkcs8_der: Vec<u8>,
    /// `kty` with `crv`/`x`/`y` or `n`/`e`, plus `use: "sig"`, `alg` and `kid`.
    pub public_jwk: Value,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("pkcs8_der", &"<redacted>")
            .field("public_jwk", &self.public_jwk)
            .finish()
    }
}

/// Generates a key for `alg`: P-256 for ES256, RSA-2048 with e = 65537 for RS256 and PS256.
/// RSA generation takes a noticeable fraction of a second; do it on key rotation, not per request.
/// A platform may generate the private key faster itself ([`Signer::generate_key`]); then
/// [`key_from_pkcs8`] makes the same record of it.
pub fn generate_key(alg: Alg, e: &impl Entropy) -> Result<GeneratedKey, StoreError> {
    let mut rng = EntropyRng::new(e);
    let (pkcs8, jwk) = match alg {
        Alg::ES256 => ec_parts(&p256::SecretKey::random(&mut rng))?,
        #[cfg(feature = "rsa-keygen")]
        Alg::RS256 | Alg::PS256 => {
            let key = RsaPrivateKey::new(&mut rng, RSA_BITS).map_err(|e| StoreError::new(format!("RSA key generation: {e}")))?;
            rsa_parts(&key)?
        }
        #[cfg(not(feature = "rsa-keygen"))]
        Alg::RS256 | Alg::PS256 => return Err(StoreError::new("RSA keys are generated by the platform in this build (Signer::generate_key)")),
    };
    Ok(finish_key(alg, pkcs8, jwk))
}

/// The record of an RSA private key a platform generated for `alg` ([`Signer::generate_key`]),
/// given as PKCS#8 DER: refused unless it is what [`generate_key`] makes (a 2048-bit modulus,
/// e = 65537), then re-encoded as the core encodes its own, with the public JWK and kid built the
/// same way. ES256 keys are always the core's (a P-256 key costs about a millisecond).
pub fn key_from_pkcs8(alg: Alg, der: &[u8]) -> Result<GeneratedKey, StoreError> {
    let refused = |why: &str| StoreError::new(format!("the platform's generated {} key is unusable: {why}", alg.as_str()));
    if alg == Alg::ES256 {
        return Err(refused("the core generates P-256 keys itself"));
    }
    // Parsing checks the key's consistency (the primes' product is n, d inverts e).
    let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| refused("not a two-prime RSA PKCS#8 key"))?;
    if key.n().bits() != RSA_BITS || *key.e() != BigUint::from(65_537u32) {
        return Err(refused("not RSA-2048 with e = 65537"));
    }
    let (pkcs8, jwk) = rsa_parts(&key)?;
    Ok(finish_key(alg, pkcs8, jwk))
}

/// A P-256 key's PKCS#8 encoding and public JWK (`kty`, `crv`, `x`, `y`).
fn ec_parts(key: &p256::SecretKey) -> Result<(SecretDocument, Value), StoreError> {
    let der = key.to_pkcs8_der().map_err(|e| StoreError::new(format!("P-256 key encoding: {e}")))?;
    Ok((der, ec_public_jwk(&key.public_key().into())))
}

/// An RSA key's PKCS#8 encoding and public JWK (`kty`, `n`, `e`).
fn rsa_parts(key: &RsaPrivateKey) -> Result<(SecretDocument, Value), StoreError> {
    let der = key.to_pkcs8_der().map_err(|e| StoreError::new(format!("RSA key encoding: {e}")))?;
    Ok((der, rsa_public_jwk(&key.to_public_key())))
}

/// The one place a generated key's record is made: kid = the RFC 7638 thumbprint of the public
/// key, and `use`, `alg` and `kid` added to its JWK.
fn finish_key(alg: Alg, pkcs8: SecretDocument, mut jwk: Value) -> GeneratedKey {
    let kid = jwk_thumbprint(&jwk).expect("a generated public JWK has all thumbprint members");
    let obj = jwk.as_object_mut().expect("public JWKs are objects");
    obj.insert("use".into(), "sig".into());
    obj.insert("alg".into(), alg.as_str().into());
    obj.insert("kid".into(), kid.clone().into());
    GeneratedKey { kid, alg, pkcs8_der: pkcs8.as_bytes().to_vec(), public_jwk: jwk }
}

fn ec_public_jwk(key: &EcVerifyingKey) -> Value {
    let point = key.to_encoded_point(false);
    // An uncompressed, non-identity point (any real public key) has both coordinates.
    let (x, y) = (point.x().expect("uncompressed point"), point.y().expect("uncompressed point"));
    serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y) })
}

fn rsa_public_jwk(key: &RsaPublicKey) -> Value {
    serde_json::json!({ "kty": "RSA", "n": b64url(key.n().to_bytes_be()), "e": b64url(key.e().to_bytes_be()) })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url): the hash of the required public members in
/// lexicographic order, without whitespace. `None` for an unknown `kty` or a missing member.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let member = |name: &'static str| Some((name, jwk.get(name)?.as_str()?));
    let kty = jwk.get("kty")?.as_str()?;
    let members = match kty {
        "EC" => vec![member("crv")?, ("kty", kty), member("x")?, member("y")?],
        "RSA" => vec![member("e")?, ("kty", kty), member("n")?],
        "OKP" => vec![member("crv")?, ("kty", kty), member("x")?],
        "oct" => vec![member("k")?, ("kty", kty)],
        _ => return None,
    };
    // Built by hand: serde_json's map order depends on a crate feature another crate may enable.
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{}", Value::String((*v).to_owned())))
        .collect();
    Some(sha256_b64url(format!("{{{}}}", body.join(",")).as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// The pure-Rust signer
// ---------------------------------------------------------------------------------------------

/// The default [`Signer`]: ES256 (RFC 6979 deterministic ECDSA), RS256 and PS256 in pure Rust.
///
/// It owns an [`Entropy`] because RSA signing needs randomness the trait does not pass in: the PSS
/// salt (32 bytes) and the blinding factor that hides the private exponent from timing
/// measurements (used for RS256 too). A runtime builds one per isolate/instance, e.g.
/// `PureRustSigner::new(MyEntropy)`, and it keeps parsed private keys across requests.
///
/// The cache is keyed by kid and checked against a hash of the DER it was built from, so a kid
/// reused for another key can never sign with the stale one. `RefCell`, not a lock: the engine is
/// single-threaded per instance; the signer stays `Send` if `E` is.
pub struct PureRustSigner<E: Entropy> {
    entropy: E,
    keys: RefCell<HashMap<String, CachedKey>>,
}

/// Enough for every active and next key of the workspaces one isolate serves at a time.
const KEY_CACHE_CAPACITY: usize = 32;

struct CachedKey {
    der_sha256: [u8; 32],
    key: PrivateKey,
}

enum PrivateKey {
    /// The secret scalar alone: p256's `SigningKey` derives the public key when it is built, and
    /// `SecretKey`'s PKCS#8 decoding derives it again to check the stored copy: two scalar
    /// multiplications, each as costly as the signature itself (~1 ms in wasm), for a key that
    /// comes out of our own authenticated seal. On Spin every request parses its key afresh.
    Ec(p256::NonZeroScalar),
    Rsa(Box<RsaPrivateKey>),
}

/// The secret scalar of a P-256 PKCS#8 key (RFC 5915 inside RFC 5208), not checked against the
/// public key the encoding may carry.
fn ec_secret_scalar(der: &[u8]) -> Option<p256::NonZeroScalar> {
    use p256::pkcs8::der::Decode as _;
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der).ok()?;
    let curve = info.algorithm.parameters_oid().ok()?;
    if info.algorithm.oid != p256::elliptic_curve::ALGORITHM_OID || curve != <p256::NistP256 as p256::pkcs8::AssociatedOid>::OID {
        return None;
    }
    let ec = sec1::EcPrivateKey::from_der(info.private_key).ok()?;
    let bytes: [u8; 32] = ec.private_key.try_into().ok()?;
    Option::from(p256::NonZeroScalar::from_repr(bytes.into()))
}

impl PrivateKey {
    fn from_pkcs8(der: &[u8]) -> Result<Self, StoreError> {
        if let Some(key) = ec_secret_scalar(der) {
            return Ok(PrivateKey::Ec(key));
        }
        RsaPrivateKey::from_pkcs8_der(der)
            .map(|key| PrivateKey::Rsa(Box::new(key)))
            .map_err(|_| StoreError::new("signing key is neither a P-256 nor an RSA PKCS#8 key"))
    }
}

impl<E: Entropy> PureRustSigner<E> {
    pub fn new(entropy: E) -> Self {
        PureRustSigner { entropy, keys: RefCell::new(HashMap::new()) }
    }

    /// Runs `f` with the parsed key for `kid`, parsing (and caching) it on first use.
    fn with_key<T>(&self, kid: &str, der: &[u8], f: impl FnOnce(&PrivateKey) -> T) -> Result<T, StoreError> {
        let der_sha256 = sha256(der);
        let mut keys = self.keys.borrow_mut();
        let fresh = matches!(keys.get(kid), Some(cached) if cached.der_sha256 == der_sha256);
        if !fresh {
            let key = PrivateKey::from_pkcs8(der)?;
            if keys.len() >= KEY_CACHE_CAPACITY && !keys.contains_key(kid) {
                // Evict an arbitrary entry; a miss only costs one parse.
                if let Some(victim) = keys.keys().next().cloned() {
                    keys.remove(&victim);
                }
            }
            keys.insert(kid.to_owned(), CachedKey { der_sha256, key });
        }
        Ok(f(&keys[kid].key))
    }

    fn sign_with(&self, key: &PrivateKey, alg: Alg, message: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut rng = EntropyRng::new(&self.entropy);
        let rsa_failed = |e: rsa::Error| StoreError::new(format!("RSA signing failed: {e}"));
        match (alg, key) {
            // What p256's SigningKey::sign does (RFC 6979), through a table of multiples of the
            // generator: see es256.rs. JWS form: r || s, 32 bytes each.
            (Alg::ES256, PrivateKey::Ec(d)) => es256::sign(d, message).map(|sig| sig.to_vec()).map_err(|e| StoreError::new(format!("ES256 signing failed: {e}"))),
            (Alg::RS256, PrivateKey::Rsa(key)) => key
                .sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha256>(), &sha256(message))
                .map_err(rsa_failed),
            (Alg::PS256, PrivateKey::Rsa(key)) => key
                // Salt length = digest length (32), as RFC 7518 section 3.5 requires.
                .sign_with_rng(&mut rng, Pss::new_blinded::<Sha256>(), &sha256(message))
                .map_err(rsa_failed),
            (alg, _) => Err(StoreError::new(format!("signing key type does not match {}", alg.as_str()))),
        }
    }
}

impl<E: Entropy + Default> Default for PureRustSigner<E> {
    fn default() -> Self {
        PureRustSigner::new(E::default())
    }
}

impl<E: Entropy> Signer for PureRustSigner<E> {
    async fn sign(&self, alg: Alg, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.with_key(kid, pkcs8_der, |key| self.sign_with(key, alg, message))?
    }

    async fn verify(&self, alg: Alg, public_jwk: &Value, message: &[u8], signature: &[u8]) -> Result<bool, StoreError> {
        verify_signature(alg, public_jwk, message, signature)
    }
}

/// Verifies with a public JWK. `Err` when the key cannot be used for `alg`; `Ok(false)` for any
/// signature that does not verify, including one of the wrong length or encoding.
fn verify_signature(alg: Alg, jwk: &Value, message: &[u8], signature: &[u8]) -> Result<bool, StoreError> {
    check_key_fits(alg, jwk).map_err(StoreError::new)?;
    match alg {
        Alg::ES256 => {
            let key = ec_public_key(jwk)?;
            // Only the 64-byte r || s form is valid in JWS; DER-encoded signatures are refused.
            let Ok(sig) = EcSignature::from_slice(signature) else { return Ok(false) };
            Ok(key.verify(message, &sig).is_ok())
        }
        Alg::RS256 | Alg::PS256 => {
            let key = rsa_public_key(jwk)?;
            let hashed = sha256(message);
            let result = if alg == Alg::RS256 {
                key.verify(Pkcs1v15Sign::new::<Sha256>(), &hashed, signature)
            } else {
                key.verify(Pss::new::<Sha256>(), &hashed, signature) // expects salt length 32
            };
            Ok(result.is_ok())
        }
    }
}

/// Whether a JWK may verify `alg`: matching `kty` (and curve), and a matching `alg` if it names one.
pub fn check_key_fits(alg: Alg, jwk: &Value) -> Result<(), String> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
    let kty_fits = match alg {
        Alg::ES256 => kty == "EC" && jwk.get("crv").and_then(Value::as_str) == Some("P-256"),
        Alg::RS256 | Alg::PS256 => kty == "RSA",
    };
    if !kty_fits {
        let want = if alg == Alg::ES256 { "an EC P-256 key" } else { "an RSA key" };
        return Err(format!("{} needs {want}, not kty \"{kty}\"", alg.as_str()));
    }
    match jwk.get("alg") {
        None => Ok(()),
        Some(v) if v.as_str() == Some(alg.as_str()) => Ok(()),
        Some(v) => Err(format!("the key is for alg {v}, the token uses {}", alg.as_str())),
    }
}

fn jwk_member(jwk: &Value, name: &str) -> Result<Vec<u8>, StoreError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .ok_or_else(|| StoreError::new(format!("JWK member \"{name}\" is missing or not base64url")))
}

fn ec_public_key(jwk: &Value) -> Result<EcVerifyingKey, StoreError> {
    let (x, y) = (jwk_member(jwk, "x")?, jwk_member(jwk, "y")?);
    if x.len() != 32 || y.len() != 32 {
        return Err(StoreError::new("P-256 JWK coordinates must be 32 bytes"));
    }
    let point = EncodedPoint::<p256::NistP256>::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
    // Rejects points off the curve (invalid-curve attacks) and the identity.
    EcVerifyingKey::from_encoded_point(&point).map_err(|_| StoreError::new("JWK is not a valid P-256 public key"))
}

fn rsa_public_key(jwk: &Value) -> Result<RsaPublicKey, StoreError> {
    let n = BigUint::from_bytes_be(&jwk_member(jwk, "n")?);
    let e = BigUint::from_bytes_be(&jwk_member(jwk, "e")?);
    if n.bits() < RSA_BITS {
        return Err(StoreError::new(format!("RSA modulus of {} bits is under {RSA_BITS}", n.bits())));
    }
    // Also bounds the modulus at 4096 bits and checks the exponent, so verification cost is bounded.
    RsaPublicKey::new(n, e).map_err(|e| StoreError::new(format!("unusable RSA public key: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// Signs `claims` (a JSON object) as a compact JWS with header `{alg, kid, typ?}`.
pub async fn sign_jwt<S: Signer>(
    signer: &S,
    alg: Alg,
    kid: &str,
    pkcs8: &[u8],
    typ: Option<&str>,
    claims: &Value,
) -> Result<String, StoreError> {
    sign_jwt_json(signer, alg, kid, pkcs8, typ, &claims_json(claims)?).await
}

/// A JWT's claims as JSON: they must be an object.
pub fn claims_json(claims: &Value) -> Result<String, StoreError> {
    if !claims.is_object() {
        return Err(StoreError::new("JWT claims must be a JSON object"));
    }
    Ok(claims.to_string())
}

/// [`sign_jwt`] with the claims already serialized (a JSON object: the caller's to keep so), for a
/// caller that writes them straight from a struct rather than through a `Value`.
pub async fn sign_jwt_json<S: Signer>(signer: &S, alg: Alg, kid: &str, pkcs8: &[u8], typ: Option<&str>, claims_json: &str) -> Result<String, StoreError> {
    // The header written out, as a map would serialize it (members sorted): it is on every token.
    let quoted = |s: &str| Value::from(s).to_string();
    let header = match typ {
        Some(typ) => format!("{{\"alg\":\"{}\",\"kid\":{},\"typ\":{}}}", alg.as_str(), quoted(kid), quoted(typ)),
        None => format!("{{\"alg\":\"{}\",\"kid\":{}}}", alg.as_str(), quoted(kid)),
    };
    let signing_input = format!("{}.{}", b64url(header), b64url(claims_json));
    let signature = signer.sign(alg, kid, pkcs8, signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", b64url(signature)))
}

/// A parsed, not yet verified, compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws {
    /// The protected header (a JSON object; `alg` is one we support).
    pub header: Value,
    /// The payload (a JSON object).
    pub claims: Value,
    /// The ASCII `header.payload` the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl Jws {
    /// The header's `alg`; always `Some` for a `Jws` from [`parse_jws`].
    pub fn alg(&self) -> Option<Alg> {
        self.header.get("alg").and_then(Value::as_str).and_then(Alg::parse)
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

/// Parses a compact JWS and refuses anything we would not verify: a size over [`MAX_JWS_LEN`],
/// other than three parts (JWE has five), bad base64url, a header or payload that is not a JSON
/// object, any `crit` header (we understand no extensions), and an `alg` other than
/// ES256/RS256/PS256 (`none` and HMAC algorithms included).
pub fn parse_jws(token: &str) -> Result<Jws, JoseError> {
    if token.len() > MAX_JWS_LEN {
        return Err(JoseError::malformed(format!("the JWS is larger than {} KB", MAX_JWS_LEN / 1024)));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::malformed("not a compact JWS (expected three dot-separated parts)"));
    };
    let header = decode_object(h, "header")?;
    if header.contains_key("crit") {
        return Err(JoseError::malformed("JWS \"crit\" header parameters are not supported"));
    }
    match header.get("alg") {
        None => return Err(JoseError::malformed("the JWS header has no \"alg\"")),
        Some(Value::String(a)) if Alg::parse(a).is_some() => {}
        Some(a) => return Err(JoseError::malformed(format!("JWS alg {a} is not supported (use ES256, RS256 or PS256)"))),
    }
    let claims = decode_object(p, "payload")?;
    let signature = b64url_decode(s).ok_or_else(|| JoseError::malformed("the JWS signature is not base64url"))?;
    if signature.is_empty() {
        return Err(JoseError::malformed("the JWS has no signature"));
    }
    Ok(Jws { header: Value::Object(header), claims: Value::Object(claims), signing_input: format!("{h}.{p}"), signature })
}

fn decode_object(part: &str, what: &str) -> Result<Map<String, Value>, JoseError> {
    let bytes = b64url_decode(part).ok_or_else(|| JoseError::malformed(format!("the JWS {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JoseError::malformed(format!("the JWS {what} is not a JSON object"))),
    }
}

/// Verifies a parsed JWS against a JWK set (a client's `jwks`, or ours).
///
/// Key selection: keys whose `use` is present and not `sig` are ignored. With a `kid` in the
/// header, the key with that kid (and a fitting type); without one, the single key that fits the
/// header's alg (EC P-256 for ES256, RSA for RS256/PS256, and the JWK's `alg` if it has one equal
/// to the header's). A kid whose key does not fit the alg is an error, not a fallback.
pub async fn verify_jws<S: Signer>(signer: &S, jws: &Jws, jwks: &[Value]) -> Result<(), JoseError> {
    let alg = jws.alg().ok_or_else(|| JoseError::malformed("the JWS alg is missing or not supported"))?;
    let key = select_key(alg, jws.kid(), jwks)?;
    match signer.verify(alg, key, jws.signing_input.as_bytes(), &jws.signature).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(JoseError::BadSignature),
        Err(e) => Err(JoseError::UnusableKey(e.message().to_string())),
    }
}

/// The key [`verify_jws`] would use; see there for the rules.
pub fn select_key<'a>(alg: Alg, kid: Option<&str>, jwks: &'a [Value]) -> Result<&'a Value, JoseError> {
    let signing_keys = jwks.iter().filter(|k| k.is_object() && k.get("use").is_none_or(|u| u == "sig"));
    match kid {
        Some(kid) => {
            let named: Vec<&Value> = signing_keys.filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid)).collect();
            let Some(first) = named.first() else {
                return Err(JoseError::NoMatchingKey(format!("no signing key with kid \"{kid}\"")));
            };
            // Several keys may share a kid across types; take the one that fits.
            match named.iter().find(|k| check_key_fits(alg, k).is_ok()) {
                Some(key) => Ok(key),
                None => Err(JoseError::UnusableKey(format!(
                    "key \"{kid}\": {}",
                    check_key_fits(alg, first).expect_err("no named key fits")
                ))),
            }
        }
        None => {
            let fitting: Vec<&Value> = signing_keys.filter(|k| check_key_fits(alg, k).is_ok()).collect();
            match fitting.as_slice() {
                [key] => Ok(key),
                [] => Err(JoseError::NoMatchingKey(format!("no signing key for {}", alg.as_str()))),
                _ => Err(JoseError::NoMatchingKey(format!(
                    "several keys could verify {} and the JWS header has no kid",
                    alg.as_str()
                ))),
            }
        }
    }
}

/// OIDC `at_hash` (Core 3.1.3.6) and, applied to a code, `c_hash` (3.3.2.11): base64url of the
/// left half of the hash named by the ID token's alg, which is SHA-256 for all of ours.
pub fn at_hash(access_token: &str) -> String {
    b64url(&sha256(access_token.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::OnceLock;
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::crypto::test_support::TestEntropy;

    /// Our futures never wait (the pure-Rust signer is synchronous underneath), so polling once
    /// stands in for an executor.
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("test future unexpectedly pending"),
        }
    }

    /// An RSA-2048 key (e = 65537) as OpenSSL encodes it (Node's `generateKeyPairSync("rsa")`,
    /// exported as PKCS#8 DER), base64url: another encoder's key, as a platform hands one over.
    const OPENSSL_RSA_PKCS8: &str = concat!(
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7_f4CrReyFMar0Vzy9RVhavFa6g933n6Md_7ZEOax52e0",
        "_te3w0iNsZCl5bl_5LQ2INEVvmr8dERaX0Sy0y8mxyrluaYuSoZ_K2Y6ZjDLMOsckuazj6dmSymHNABfTlttyqEqIllW050r",
        "p3RD1jtpVQu1Kvxg6unkzwQHn-sLxI40VtCk-8cRwKwF5Zt0td0WIf5BAjLylc9nir7sLDL4_fWX1tQ54HJkN83jiTEtoUFC",
        "rhCX3kNHhqMMjxsRB6DK57jLgh9hzfy4J5ATgHb3F7dJN9GDAElBKuLb8exBk3nbIx5yXp8WW5M2URsDe6fR9WENEzG61Dq7",
        "63gUvDYvAgMBAAECggEAI03OK4t9FTTgoHi3Z2sOQla2j7fAAudWRaPtSK9rW4KVD8ECGuECGZX8j6MmJHX7P-UGzvoNFm7x",
        "PTWB7cFKLBKgJDcqlavqOSyZzKLPTAFaTenqiFMUgVnhKSJjZYKOGf7BKGv98hfYfs-6PlkXnC7b_YBemAbVuOIFpDbsia9j",
        "8IRtpjP_Pg_XONatIWAcegDniKHc3EEByImsUHgcuVS6-ySL39e81bMW6JsYqeYxuUgYb0T6BQJlM4U3HuelcYPdMIJZ6pwN",
        "VYqkJhnjswg3Uo-BURFvU4WBbGkTOMjYR9Sw-16mu7s3Q_wzDdb-eozvUbcZx6J9BEPmpyV5hQKBgQDnOWB6GnSkhqjPQj9f",
        "IoqIPiFUtbut2N0QYKIt4PcsLnnfukN-Qe_4G9cbb1Zmd4cRzHNFKPTBE9q11ctuV8uJ5OmLc_4saduuuGgkV-rRSZFju3cV",
        "MqaqfkXbJoFgRknn71yP3CrsF8klKV8UfBCSWmslonkPEtYudBnWrMJ2ywKBgQDQIrw37kMrxwcSEl7MLMk60fZq1zg4SE6H",
        "T_hzYSp_XyqbOBPBtMMrvfQAs15viym4frBSiL98ZhqPJW3ULeXwCkB5UVOUWULwNVnGrViPju3fmLfd56V7LEB1hpuUdey5",
        "9T2HQNr-ezK88Sgq_brDZfnUG8VBKlepu9Wa5QjtrQKBgEFb4Z6CLeh3u-3h_wHIRLpgPZGxURzCCTLg7dbkGVoexQptnzho",
        "MQnD7Njvbs_GB6MLVKX-_rg5AYCWr0tAe-M9lpp5riYlwhgwPhfP1itUjUlQq0eNqrjUurBIwRdSpv9tlI-Bn4xe6NedSygC",
        "LbkA3_qiY2_UVkCJRuh8qvdjAoGBAKfwXw6CIZDhNsNOL09vk67yW3I51hMTxMlJrZ7rd-7uSuKTjN1vjUtuKcOm9zvpffBv",
        "yLXPwTIO8L8v5D6gCjh1DTDWfinlHC3V3mqA1ESBf047W6ChmNSaECjERCS2QhyJ1OudWRadMYNi0pZdxKSFU9_hyHecQr-h",
        "3-jrhRjBAoGAV-V6ClsJ0i5Y1nru6JwFhxSxg4KOpr0AtWhLb1UtytLaR2-8OXzdt1TkQnd0irBkFfa6oIXruFxZfG0J-soy",
        "k_QPWCUtVCD3S3cVhREUWNfhr-vYhT0uUhFrn6p1PlPw1APtwFMhuoeUWeLwSnndHfta0UY3oP9NPT4FSy-6Ab8",
    );

    fn signer() -> PureRustSigner<TestEntropy> {
        PureRustSigner::new(TestEntropy::new(99))
    }

    fn es256_key() -> &'static GeneratedKey {
        static KEY: OnceLock<GeneratedKey> = OnceLock::new();
        KEY.get_or_init(|| generate_key(Alg::ES256, &TestEntropy::new(1)).unwrap())
    }

    /// RSA generation is slow, so each alg's key is made once and shared between tests.
    fn rsa_key(alg: Alg) -> &'static GeneratedKey {
        static RS: OnceLock<GeneratedKey> = OnceLock::new();
        static PS: OnceLock<GeneratedKey> = OnceLock::new();
        let (cell, seed) = if alg == Alg::RS256 { (&RS, 2) } else { (&PS, 3) };
        cell.get_or_init(|| generate_key(alg, &TestEntropy::new(seed)).unwrap())
    }

    fn key(alg: Alg) -> &'static GeneratedKey {
        if alg == Alg::ES256 { es256_key() } else { rsa_key(alg) }
    }

    fn sign(alg: Alg, claims: &Value) -> String {
        let k = key(alg);
        block_on(sign_jwt(&signer(), alg, &k.kid, &k.pkcs8_der, Some("JWT"), claims)).unwrap()
    }

    #[test]
    fn the_written_header_is_the_map_serialization() {
        let k = es256_key();
        for (kid, typ) in [(k.kid.as_str(), Some("at+jwt")), ("a\"kid\\with\u{e9}", Some("JWT")), ("k", None)] {
            let token = block_on(sign_jwt(&signer(), Alg::ES256, kid, &k.pkcs8_der, typ, &json!({"sub": "x"}))).unwrap();
            let mut expected = Map::new();
            expected.insert("alg".into(), "ES256".into());
            expected.insert("kid".into(), kid.into());
            if let Some(t) = typ {
                expected.insert("typ".into(), t.into());
            }
            assert_eq!(token.split('.').next().unwrap(), b64url(Value::Object(expected).to_string()), "{kid}");
        }
    }

    fn verify(token: &str, jwks: &[Value]) -> Result<(), JoseError> {
        let jws = parse_jws(token)?;
        block_on(verify_jws(&signer(), &jws, jwks))
    }

    fn b64json(v: &Value) -> String {
        b64url(v.to_string())
    }

    // RFC 7515 appendix A.2 (RS256) and A.3 (ES256): the same payload signed by each example key.
    const RFC7515_PAYLOAD: &str =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const A2_D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
    const A2_P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
    const A2_Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
    const A2_SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const A3_SIG: &str = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    fn a2_jwk() -> Value {
        json!({ "kty": "RSA", "n": A2_N, "e": "AQAB" })
    }

    fn a2_pkcs8() -> Vec<u8> {
        let int = |s: &str| BigUint::from_bytes_be(&b64url_decode(s).unwrap());
        let key = RsaPrivateKey::from_components(int(A2_N), int("AQAB"), int(A2_D), vec![int(A2_P), int(A2_Q)]).unwrap();
        key.to_pkcs8_der().unwrap().as_bytes().to_vec()
    }

    #[test]
    fn rfc7515_vectors_verify() {
        let s = signer();
        let a3_input = format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}");
        let a3_jwk = json!({ "kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y });
        let a3_sig = b64url_decode(A3_SIG).unwrap();
        assert_eq!(block_on(s.verify(Alg::ES256, &a3_jwk, a3_input.as_bytes(), &a3_sig)), Ok(true));
        assert_eq!(block_on(s.verify(Alg::ES256, &a3_jwk, b"other", &a3_sig)), Ok(false));

        let a2_input = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}");
        let a2_sig = b64url_decode(A2_SIG).unwrap();
        assert_eq!(block_on(s.verify(Alg::RS256, &a2_jwk(), a2_input.as_bytes(), &a2_sig)), Ok(true));
        // The same key and signature presented as PS256 must not verify: the paddings differ.
        assert_eq!(block_on(s.verify(Alg::PS256, &a2_jwk(), a2_input.as_bytes(), &a2_sig)), Ok(false));

        // And through the JWS layer.
        let token = format!("{a2_input}.{A2_SIG}");
        assert_eq!(verify(&token, &[a2_jwk()]), Ok(()));
    }

    #[test]
    fn rs256_signing_reproduces_rfc7515_a2() {
        // PKCS#1 v1.5 is deterministic (blinding does not change the result).
        let s = signer();
        let input = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}");
        let sig = block_on(s.sign(Alg::RS256, "a2", &a2_pkcs8(), input.as_bytes())).unwrap();
        assert_eq!(b64url(&sig), A2_SIG);
    }

    #[test]
    fn ps256_and_rs256_signatures_do_not_cross_verify() {
        let s = signer();
        let der = a2_pkcs8();
        let pss = block_on(s.sign(Alg::PS256, "a2", &der, b"message")).unwrap();
        assert_eq!(pss.len(), 256);
        assert_eq!(block_on(s.verify(Alg::PS256, &a2_jwk(), b"message", &pss)), Ok(true));
        assert_eq!(block_on(s.verify(Alg::RS256, &a2_jwk(), b"message", &pss)), Ok(false));
        // Randomized salt: two signatures of one message differ, both valid.
        let pss2 = block_on(s.sign(Alg::PS256, "a2", &der, b"message")).unwrap();
        assert_ne!(pss, pss2);
        assert_eq!(block_on(s.verify(Alg::PS256, &a2_jwk(), b"message", &pss2)), Ok(true));
    }

    #[test]
    fn generated_keys_have_complete_public_jwks() {
        for alg in Alg::ALL {
            let k = key(alg);
            let jwk = &k.public_jwk;
            assert_eq!(k.alg, alg);
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["kid"], k.kid.as_str());
            assert_eq!(jwk_thumbprint(jwk).as_deref(), Some(k.kid.as_str()));
            assert!(jwk.get("d").is_none() && jwk.get("p").is_none(), "no private members");
            if alg == Alg::ES256 {
                assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
                assert_eq!(b64url_decode(jwk["x"].as_str().unwrap()).unwrap().len(), 32);
                assert_eq!(b64url_decode(jwk["y"].as_str().unwrap()).unwrap().len(), 32);
            } else {
                assert_eq!(jwk["kty"], "RSA");
                assert_eq!(jwk["e"], "AQAB");
                let n = b64url_decode(jwk["n"].as_str().unwrap()).unwrap();
                assert_eq!(BigUint::from_bytes_be(&n).bits(), 2048);
            }
        }
        assert_ne!(es256_key().kid, generate_key(Alg::ES256, &TestEntropy::new(50)).unwrap().kid);
        assert!(!format!("{:?}", es256_key()).contains(&format!("{:?}", &es256_key().pkcs8_der[..8])));
    }

    #[test]
    fn a_platform_key_makes_the_record_the_core_makes() {
        // The core's own keys, read back: the same kid, JWK and DER (one home for the record).
        for alg in [Alg::RS256, Alg::PS256] {
            let k = key(alg);
            let again = key_from_pkcs8(alg, &k.pkcs8_der).unwrap();
            assert_eq!((&again.kid, again.alg, &again.pkcs8_der, &again.public_jwk), (&k.kid, alg, &k.pkcs8_der, &k.public_jwk), "{alg:?}");
        }
        // Another encoder's key: kept as is, complete, and it signs and verifies.
        let der = b64url_decode(OPENSSL_RSA_PKCS8).unwrap();
        for alg in [Alg::RS256, Alg::PS256] {
            let k = key_from_pkcs8(alg, &der).unwrap();
            assert_eq!(k.pkcs8_der, der, "re-encoded byte for byte");
            let jwk = &k.public_jwk;
            assert_eq!((jwk["kty"].as_str(), jwk["e"].as_str(), jwk["use"].as_str(), jwk["alg"].as_str()), (Some("RSA"), Some("AQAB"), Some("sig"), Some(alg.as_str())));
            assert_eq!(jwk["kid"], k.kid.as_str());
            assert_eq!(jwk_thumbprint(jwk).as_deref(), Some(k.kid.as_str()));
            assert!(jwk.get("d").is_none() && jwk.get("p").is_none(), "no private members");
            let token = block_on(sign_jwt(&signer(), alg, &k.kid, &k.pkcs8_der, Some("JWT"), &json!({ "sub": "s" }))).unwrap();
            assert_eq!(verify(&token, std::slice::from_ref(jwk)), Ok(()), "{alg:?}");
        }
    }

    #[test]
    fn a_platform_key_unlike_ours_is_refused() {
        let refused = |alg: Alg, der: &[u8]| key_from_pkcs8(alg, der).unwrap_err().message().to_owned();
        let openssl = b64url_decode(OPENSSL_RSA_PKCS8).unwrap();
        assert!(refused(Alg::ES256, &es256_key().pkcs8_der).contains("the core generates P-256 keys itself"));
        assert!(refused(Alg::RS256, &es256_key().pkcs8_der).contains("not a two-prime RSA"));
        assert!(refused(Alg::PS256, b"not DER").contains("not a two-prime RSA"));
        let entropy = TestEntropy::new(7);
        let mut rng = EntropyRng::new(&entropy);
        let small = RsaPrivateKey::new(&mut rng, 1024).unwrap().to_pkcs8_der().unwrap();
        assert!(refused(Alg::RS256, small.as_bytes()).contains("not RSA-2048 with e = 65537"));
        let e3 = RsaPrivateKey::new_with_exp(&mut rng, RSA_BITS, &BigUint::from(3u32)).unwrap().to_pkcs8_der().unwrap();
        assert!(refused(Alg::PS256, e3.as_bytes()).contains("not RSA-2048 with e = 65537"));
        // A key whose parts do not fit together (the modulus changed) does not parse.
        let mut broken = openssl.clone();
        broken[40] ^= 1;
        assert!(refused(Alg::RS256, &broken).contains("not a two-prime RSA"));
    }

    #[test]
    fn by_default_the_core_generates_keys_itself() {
        for alg in Alg::ALL {
            assert_eq!(block_on(signer().generate_key(alg)), Ok(None));
        }
    }

    #[test]
    fn round_trip_all_algs() {
        let claims = json!({ "iss": "https://issuer.example", "sub": "u1", "aud": "c1", "n": 1 });
        for alg in Alg::ALL {
            let token = sign(alg, &claims);
            let jws = parse_jws(&token).unwrap();
            assert_eq!(jws.header, json!({ "alg": alg.as_str(), "kid": key(alg).kid, "typ": "JWT" }));
            assert_eq!(jws.claims, claims);
            assert_eq!(jws.alg(), Some(alg));
            assert_eq!(verify(&token, &[key(alg).public_jwk.clone()]), Ok(()), "{alg:?}");
        }
        let es = es256_key();
        let no_typ = block_on(sign_jwt(&signer(), Alg::ES256, &es.kid, &es.pkcs8_der, None, &claims)).unwrap();
        assert_eq!(parse_jws(&no_typ).unwrap().header.get("typ"), None);
        assert!(block_on(sign_jwt(&signer(), Alg::ES256, &es.kid, &es.pkcs8_der, None, &json!([1]))).is_err());
    }

    #[test]
    fn tampering_is_detected() {
        for alg in Alg::ALL {
            let token = sign(alg, &json!({ "sub": "alice" }));
            let jwks = [key(alg).public_jwk.clone()];
            let parts: Vec<&str> = token.split('.').collect();
            let forged = format!("{}.{}.{}", parts[0], b64json(&json!({ "sub": "admin" })), parts[2]);
            assert_eq!(verify(&forged, &jwks), Err(JoseError::BadSignature), "{alg:?}");

            let mut sig = b64url_decode(parts[2]).unwrap();
            sig[5] ^= 0x01;
            let flipped = format!("{}.{}.{}", parts[0], parts[1], b64url(&sig));
            assert_eq!(verify(&flipped, &jwks), Err(JoseError::BadSignature), "{alg:?}");

            let truncated = format!("{}.{}.{}", parts[0], parts[1], b64url(&sig[..sig.len() - 1]));
            assert_eq!(verify(&truncated, &jwks), Err(JoseError::BadSignature), "{alg:?}");
        }
    }

    #[test]
    fn parse_rejects_unsupported_algs() {
        let payload = b64json(&json!({ "sub": "x" }));
        for header in [
            json!({ "alg": "none" }),
            json!({ "alg": "HS256" }),
            json!({ "alg": "RS512" }),
            json!({ "alg": "es256" }),
            json!({ "alg": 1 }),
            json!({ "typ": "JWT" }),
        ] {
            let token = format!("{}.{payload}.c2ln", b64json(&header));
            assert!(matches!(parse_jws(&token), Err(JoseError::Malformed(_))), "{header}");
        }
        // The classic unsigned token, with its empty signature.
        let none = format!("{}.{payload}.", b64json(&json!({ "alg": "none" })));
        assert!(matches!(parse_jws(&none), Err(JoseError::Malformed(_))));
        // An HS256 token signed with an RSA public key as the HMAC secret never gets near a key.
        let hs = format!("{}.{payload}.c2ln", b64json(&json!({ "alg": "HS256", "kid": key(Alg::RS256).kid })));
        assert!(verify(&hs, &[key(Alg::RS256).public_jwk.clone()]).unwrap_err().message().contains("HS256"));
    }

    #[test]
    fn parse_rejects_malformed_structure() {
        let h = b64json(&json!({ "alg": "ES256" }));
        let p = b64json(&json!({ "sub": "x" }));
        let bad = [
            format!("{h}.{p}"),
            format!("{h}.{p}.c2ln.c2ln"),
            format!("{h}.{p}.c2ln.c2ln.c2ln"), // JWE shape
            format!("{h}={p}.c2ln"),
            format!("{h}.{p}.c2ln="),
            format!("{}.{p}.c2ln", b64url("[\"ES256\"]")),
            format!("{}.{p}.c2ln", b64url("not json")),
            format!("{h}.{}.c2ln", b64url("\"a string\"")),
            format!("{h}.{}.c2ln", b64url("{\"sub\":1} trailing")),
            format!("{}.{p}.c2ln", b64json(&json!({ "alg": "ES256", "crit": ["exp"], "exp": 1 }))),
            format!("{h}.{p}.c2ln").replace('.', ""),
        ];
        for token in bad {
            assert!(matches!(parse_jws(&token), Err(JoseError::Malformed(_))), "{token}");
        }
        assert!(parse_jws(&format!("{h}.{p}.c2ln")).is_ok());
    }

    #[test]
    fn parse_rejects_oversized_tokens() {
        let h = b64json(&json!({ "alg": "ES256" }));
        let sized = |n: usize| {
            let prefix = format!("{h}.");
            let suffix = ".c2ln";
            // Pad a claim so the whole token is exactly n bytes (4-char base64 groups).
            let mut filler = String::new();
            loop {
                let p = b64json(&json!({ "pad": filler }));
                let token = format!("{prefix}{p}{suffix}");
                if token.len() >= n {
                    return token;
                }
                filler.push('a');
            }
        };
        let big = sized(MAX_JWS_LEN + 1);
        assert!(big.len() > MAX_JWS_LEN);
        assert!(parse_jws(&big).unwrap_err().message().contains("16 KB"));
        let ok = sized(MAX_JWS_LEN - 10);
        assert!(ok.len() <= MAX_JWS_LEN);
        assert!(parse_jws(&ok).is_ok());
    }

    #[test]
    fn header_alg_must_match_jwk_alg() {
        // An RSA key published for RS256 must not verify a PS256 token, even with a valid signature.
        let k = key(Alg::PS256);
        let mut jwk = k.public_jwk.clone();
        jwk["alg"] = "RS256".into();
        let token = sign(Alg::PS256, &json!({ "sub": "x" }));
        let err = verify(&token, &[jwk.clone()]).unwrap_err();
        assert!(matches!(err, JoseError::UnusableKey(_)), "{err:?}");
        // Without a kid the mismatching key is simply not a candidate.
        let jws = parse_jws(&token).unwrap();
        assert!(matches!(select_key(Alg::PS256, None, &[jwk.clone()]), Err(JoseError::NoMatchingKey(_))));
        // The signer enforces it too.
        let r = block_on(signer().verify(Alg::PS256, &jwk, jws.signing_input.as_bytes(), &jws.signature));
        assert!(r.is_err());
    }

    #[test]
    fn unusable_keys_are_errors_not_false() {
        let s = signer();
        let ec = es256_key().public_jwk.clone();
        let rsa = a2_jwk();
        let sig = [0u8; 64];
        assert!(block_on(s.verify(Alg::RS256, &ec, b"m", &sig)).is_err(), "EC key for RS256");
        assert!(block_on(s.verify(Alg::ES256, &rsa, b"m", &sig)).is_err(), "RSA key for ES256");
        let p384 = json!({ "kty": "EC", "crv": "P-384", "x": ec["x"], "y": ec["y"] });
        assert!(block_on(s.verify(Alg::ES256, &p384, b"m", &sig)).is_err(), "wrong curve");
        let off_curve = json!({ "kty": "EC", "crv": "P-256", "x": ec["x"], "y": A3_Y });
        assert!(block_on(s.verify(Alg::ES256, &off_curve, b"m", &sig)).is_err(), "point not on curve");
        let short = json!({ "kty": "EC", "crv": "P-256", "x": "AQAB", "y": ec["y"] });
        assert!(block_on(s.verify(Alg::ES256, &short, b"m", &sig)).is_err(), "short coordinate");
        // 1024-bit modulus (the top half of the A.2 one; verification refuses before any math).
        let n = b64url_decode(A2_N).unwrap();
        let small = json!({ "kty": "RSA", "n": b64url(&n[..128]), "e": "AQAB" });
        let err = block_on(s.verify(Alg::RS256, &small, b"m", &[0u8; 128])).unwrap_err();
        assert!(err.message().contains("1024"), "{err}");
        let no_n = json!({ "kty": "RSA", "e": "AQAB" });
        assert!(block_on(s.verify(Alg::PS256, &no_n, b"m", &[0u8; 256])).is_err());

        // A well-formed wrong signature, or one of the wrong shape, is only `false`.
        assert_eq!(block_on(s.verify(Alg::ES256, &ec, b"m", &sig)), Ok(false));
        assert_eq!(block_on(s.verify(Alg::ES256, &ec, b"m", &[1u8; 70])), Ok(false));
        assert_eq!(block_on(s.verify(Alg::RS256, &rsa, b"m", &[1u8; 256])), Ok(false));
        assert_eq!(block_on(s.verify(Alg::RS256, &rsa, b"m", &[1u8; 10])), Ok(false));
        assert_eq!(block_on(s.verify(Alg::PS256, &rsa, b"m", &[0xffu8; 256])), Ok(false));
    }

    #[test]
    fn sign_rejects_mismatched_or_broken_keys() {
        let s = signer();
        let es = es256_key();
        assert!(block_on(s.sign(Alg::RS256, &es.kid, &es.pkcs8_der, b"m")).is_err());
        assert!(block_on(s.sign(Alg::ES256, "a2", &a2_pkcs8(), b"m")).is_err());
        assert!(block_on(s.sign(Alg::ES256, "junk", b"not a key", b"m")).is_err());
    }

    #[test]
    fn es256_from_the_secret_scalar_signs_as_p256s_signing_key_does() {
        use p256::ecdsa::signature::Signer as _;
        use p256::pkcs8::DecodePrivateKey as _;
        let s = signer();
        for seed in [1u64, 2, 3] {
            let k = generate_key(Alg::ES256, &TestEntropy::new(seed)).unwrap();
            let reference: EcSignature = p256::ecdsa::SigningKey::from_pkcs8_der(&k.pkcs8_der).unwrap().sign(b"message");
            let ours = block_on(s.sign(Alg::ES256, &k.kid, &k.pkcs8_der, b"message")).unwrap();
            assert_eq!(ours, reference.to_bytes().to_vec());
        }
        // Another curve's key is not taken for a P-256 one.
        assert!(ec_secret_scalar(&a2_pkcs8()).is_none());
    }

    #[test]
    fn key_cache_never_signs_with_a_stale_key() {
        let s = signer();
        let other = generate_key(Alg::ES256, &TestEntropy::new(77)).unwrap();
        let first = es256_key();
        let sig1 = block_on(s.sign(Alg::ES256, "same-kid", &first.pkcs8_der, b"m")).unwrap();
        let sig2 = block_on(s.sign(Alg::ES256, "same-kid", &other.pkcs8_der, b"m")).unwrap();
        assert_eq!(block_on(s.verify(Alg::ES256, &first.public_jwk, b"m", &sig1)), Ok(true));
        assert_eq!(block_on(s.verify(Alg::ES256, &other.public_jwk, b"m", &sig2)), Ok(true));
        assert_eq!(s.keys.borrow().len(), 1);
        // Eviction keeps the cache bounded.
        for i in 0..KEY_CACHE_CAPACITY + 5 {
            block_on(s.sign(Alg::ES256, &format!("k{i}"), &first.pkcs8_der, b"m")).unwrap();
        }
        assert!(s.keys.borrow().len() <= KEY_CACHE_CAPACITY);
    }

    #[test]
    fn signer_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<PureRustSigner<TestEntropy>>();
    }

    #[test]
    fn jwks_selection() {
        let es = es256_key();
        let es2 = generate_key(Alg::ES256, &TestEntropy::new(60)).unwrap();
        let rs = key(Alg::RS256);
        let mut enc_key = es.public_jwk.clone();
        enc_key["use"] = "enc".into();
        let jwks = vec![es2.public_jwk.clone(), json!("not an object"), rs.public_jwk.clone(), es.public_jwk.clone()];

        // By kid.
        assert_eq!(select_key(Alg::ES256, Some(&es.kid), &jwks).unwrap(), &es.public_jwk);
        assert_eq!(select_key(Alg::ES256, Some(&es2.kid), &jwks).unwrap(), &es2.public_jwk);
        let token = sign(Alg::ES256, &json!({ "sub": "x" }));
        assert_eq!(verify(&token, &jwks), Ok(()));
        // The kid picks the key: the same token against a set where that kid is another key fails.
        let mut impostor = es2.public_jwk.clone();
        impostor["kid"] = es.kid.clone().into();
        assert_eq!(verify(&token, &[impostor]), Err(JoseError::BadSignature));

        assert!(matches!(select_key(Alg::ES256, Some("unknown"), &jwks), Err(JoseError::NoMatchingKey(_))));
        // A kid naming a key of the wrong type is refused, not bypassed.
        assert!(matches!(select_key(Alg::ES256, Some(&rs.kid), &jwks), Err(JoseError::UnusableKey(_))));
        // Encryption keys are not candidates.
        assert!(matches!(select_key(Alg::ES256, Some(&es.kid), &[enc_key.clone()]), Err(JoseError::NoMatchingKey(_))));

        // Without a kid: the single key of the right type, else ambiguous.
        assert_eq!(select_key(Alg::RS256, None, &jwks).unwrap(), &rs.public_jwk);
        assert!(matches!(select_key(Alg::ES256, None, &jwks), Err(JoseError::NoMatchingKey(_))));
        assert_eq!(select_key(Alg::ES256, None, &[enc_key, rs.public_jwk.clone(), es.public_jwk.clone()]).unwrap(), &es.public_jwk);
        assert!(matches!(select_key(Alg::PS256, None, std::slice::from_ref(&es.public_jwk)), Err(JoseError::NoMatchingKey(_))));
        assert!(matches!(select_key(Alg::ES256, None, &[]), Err(JoseError::NoMatchingKey(_))));

        // A JWK without alg serves any RSA alg.
        let mut bare = rs.public_jwk.clone();
        bare.as_object_mut().unwrap().remove("alg");
        assert_eq!(select_key(Alg::PS256, Some(&rs.kid), &[bare.clone()]).unwrap(), &bare);
    }

    #[test]
    fn at_hash_matches_oidc_core_example() {
        // OIDC Core 1.0 appendix A (A.4 and later): access token and its at_hash; the c_hash of the
        // appendix's code uses the same construction. Also checked with python3:
        // base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()[:16]).rstrip(b"=")
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"), "LDktKdoQak3Pk0cnXxCltA");
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 section 3.1, with extra members that must not count.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(jwk_thumbprint(&jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert_eq!(jwk_thumbprint(&json!({ "kty": "RSA", "e": "AQAB" })), None);
        assert_eq!(jwk_thumbprint(&json!({ "kty": "XYZ" })), None);
        assert_eq!(jwk_thumbprint(&json!({ "kty": "RSA", "n": 1, "e": "AQAB" })), None);
    }

    /// Prints what key rotation and one PS256 signature cost on this machine:
    /// `cargo test -p edgeauth-core --lib jose::tests::rsa_timings -- --ignored --nocapture`
    #[test]
    #[ignore = "measurement, not a check"]
    fn rsa_timings() {
        let start = Instant::now();
        let k = generate_key(Alg::PS256, &TestEntropy::new(1234)).unwrap();
        let keygen = start.elapsed();
        let s = signer();
        let start = Instant::now();
        let sig = block_on(s.sign(Alg::PS256, &k.kid, &k.pkcs8_der, b"payload")).unwrap();
        let first = start.elapsed(); // includes parsing the PKCS#8 key
        let start = Instant::now();
        block_on(s.sign(Alg::PS256, &k.kid, &k.pkcs8_der, b"payload")).unwrap();
        let cached = start.elapsed();
        let start = Instant::now();
        assert_eq!(block_on(s.verify(Alg::PS256, &k.public_jwk, b"payload", &sig)), Ok(true));
        let verify = start.elapsed();
        eprintln!(
            "RSA-2048 keygen {keygen:?}; PS256 sign {first:?} (first, with PKCS#8 parse), {cached:?} (cached key); verify {verify:?}"
        );
    }
}

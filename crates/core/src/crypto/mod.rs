//! Small cryptographic building blocks on top of the runtime seams: random tokens, SHA-256,
//! base64url, constant-time comparison, Argon2id password hashing and sealing secrets at rest.
//!
//! Randomness comes only from [`Entropy`] (there is no OS RNG on wasm32-unknown-unknown); nothing
//! here reads the clock.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::runtime::{Entropy, StoreError};

pub mod certificate;

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// `n` bytes from the runtime's secure random source.
pub fn random_bytes(e: &impl Entropy, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    e.fill(&mut buf);
    buf
}

/// A 256-bit bearer secret (authorization codes, refresh tokens, session ids), base64url.
pub fn random_token(e: &impl Entropy) -> String {
    b64url(random_bytes(e, 32))
}

/// A 128-bit unique identifier (jti, record ids): unguessable but not a credential by itself.
pub fn random_id(e: &impl Entropy) -> String {
    b64url(random_bytes(e, 16))
}

/// Adapts an [`Entropy`] to `rand_core`, so p256, rsa and argon2 draw from the runtime's source.
pub struct EntropyRng<'a, E: Entropy + ?Sized>(pub &'a E);

impl<'a, E: Entropy + ?Sized> EntropyRng<'a, E> {
    pub fn new(entropy: &'a E) -> Self {
        EntropyRng(entropy)
    }
}

impl<E: Entropy + ?Sized> RngCore for EntropyRng<'_, E> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

// The `Entropy` contract is "cryptographically secure", which is what this marker asserts.
impl<E: Entropy + ?Sized> CryptoRng for EntropyRng<'_, E> {}

// ---------------------------------------------------------------------------------------------
// Hashing, encoding, comparison
// ---------------------------------------------------------------------------------------------

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn sha256_b64url(data: &[u8]) -> String {
    b64url(sha256(data))
}

/// Base64url without padding (RFC 7515 section 2).
pub fn b64url(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Strict base64url decoding: no padding, no `+`/`/`, no whitespace, no non-zero trailing bits,
/// so every byte string has exactly one accepted encoding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Compares secrets without a data-dependent early exit. Lengths are not secret (different
/// lengths compare unequal immediately).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

// ---------------------------------------------------------------------------------------------
// Passwords (Argon2id, PHC strings)
// ---------------------------------------------------------------------------------------------

/// Argon2id cost for new password hashes. Verification reads the cost from the stored PHC string,
/// so raising these does not break existing hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP's minimum Argon2id configuration: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        PasswordParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

impl PasswordParams {
    fn argon2(&self) -> Result<Argon2<'static>, StoreError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| StoreError::new(format!("invalid password hashing parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a password with Argon2id and a fresh 128-bit salt; returns a PHC string
/// (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
pub fn hash_password(e: &impl Entropy, params: &PasswordParams, password: &str) -> Result<String, StoreError> {
    let salt = SaltString::encode_b64(&random_bytes(e, 16)).map_err(|e| StoreError::new(format!("salt: {e}")))?;
    let hash = params
        .argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StoreError::new(format!("password hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string, with the algorithm and cost recorded in it.
/// A malformed PHC string verifies nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // `verify_password` re-hashes under the PHC's own algorithm/version/params and compares the
        // outputs in constant time.
        Ok(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// Burns the CPU and memory of one verification under `params`, for logins naming an unknown
/// user, so response timing does not reveal which usernames exist. (Users whose hash predates a
/// cost change are verified at their old cost; that reveals only that the account is old.)
pub fn dummy_verify(params: &PasswordParams, password: &str) {
    const DUMMY_SALT: &[u8] = b"edgeauth-dummy-verify-salt";
    if let Ok(argon2) = params.argon2() {
        let mut out = [0u8; 32];
        let _ = argon2.hash_password_into(password.as_bytes(), DUMMY_SALT, &mut out);
        std::hint::black_box(out);
    }
}

/// Whether a stored hash was made with other settings than `params` (rehash after a successful
/// login). Unparseable hashes also need replacing.
pub fn password_needs_rehash(phc: &str, params: &PasswordParams) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return true };
    let Ok(stored) = Params::try_from(&hash) else { return true };
    hash.algorithm != Algorithm::Argon2id.ident()
        || hash.version != Some(Version::V0x13.into())
        || stored.m_cost() != params.memory_kib
        || stored.t_cost() != params.iterations
        || stored.p_cost() != params.parallelism
}

// ---------------------------------------------------------------------------------------------
// Sealing secrets at rest (AES-256-GCM under a key derived from the master secret)
// ---------------------------------------------------------------------------------------------

const SEAL_INFO_PREFIX: &[u8] = b"edgeauth signing key v1|";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// One key per context: a ciphertext copied to another row (another context) cannot be opened
/// there, even before the AAD check.
fn seal_cipher(master_secret: &[u8], context: &str) -> Aes256Gcm {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, master_secret)
        .expand_multi_info(&[SEAL_INFO_PREFIX, context.as_bytes()], &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Aes256Gcm::new(&key.into())
}

/// Encrypts `plaintext` (a PKCS#8 private key) for storage: AES-256-GCM under
/// HKDF-SHA256(master_secret, info = "edgeauth signing key v1|" + context), a random 96-bit nonce
/// and `context` as associated data. Returns base64url(nonce || ciphertext || tag).
///
/// `context` names where the value lives (e.g. tenant/workspace/kid). Random 96-bit nonces are safe
/// here: each derived key seals only a handful of values.
pub fn seal(master_secret: &[u8], context: &str, e: &impl Entropy, plaintext: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    e.fill(&mut nonce);
    let ciphertext = seal_cipher(master_secret, context)
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: context.as_bytes() })
        // AES-GCM only refuses plaintexts over 64 GiB.
        .expect("AES-GCM encryption of a small plaintext cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    b64url(out)
}

/// Reverses [`seal`]. Fails for a wrong master secret, a different context, or any tampering.
pub fn open(master_secret: &[u8], context: &str, sealed: &str) -> Result<Vec<u8>, StoreError> {
    let bytes = b64url_decode(sealed).ok_or_else(|| StoreError::new("sealed value is not base64url"))?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(StoreError::new("sealed value is too short"));
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    seal_cipher(master_secret, context)
        .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
        // Deliberately vague: which check failed is of no use to anyone but an attacker.
        .map_err(|_| StoreError::new(format!("cannot open sealed value for {context} (wrong master secret or tampered)")))
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::sha256;
    use crate::runtime::Entropy;

    /// Deterministic, never-repeating test entropy: SHA-256(seed || counter) blocks. Reproducible
    /// runs, but distinct outputs per call as a real RNG would give.
    pub struct TestEntropy {
        seed: u64,
        counter: AtomicU64,
    }

    impl TestEntropy {
        pub fn new(seed: u64) -> Self {
            TestEntropy { seed, counter: AtomicU64::new(0) }
        }
    }

    impl Entropy for TestEntropy {
        fn fill(&self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(32) {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                let mut input = [0u8; 16];
                input[..8].copy_from_slice(&self.seed.to_le_bytes());
                input[8..].copy_from_slice(&n.to_le_bytes());
                let block = sha256(&input);
                chunk.copy_from_slice(&block[..chunk.len()]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::TestEntropy;
    use super::*;

    /// A cheap cost for tests that only check plumbing (argon2's own minimum is m=8*p KiB).
    const FAST: PasswordParams = PasswordParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn random_values_have_expected_sizes_and_differ() {
        let e = TestEntropy::new(1);
        let a = random_token(&e);
        let b = random_token(&e);
        assert_eq!(a.len(), 43); // 32 bytes base64url, no padding
        assert_ne!(a, b);
        assert_eq!(b64url_decode(&a).unwrap().len(), 32);
        assert_eq!(random_id(&e).len(), 22); // 16 bytes
        assert_eq!(random_bytes(&e, 100).len(), 100);
    }

    #[test]
    fn entropy_rng_draws_from_the_trait() {
        let e1 = TestEntropy::new(7);
        let e2 = TestEntropy::new(7);
        let mut rng = EntropyRng::new(&e1);
        let mut direct = [0u8; 8];
        e2.fill(&mut direct);
        assert_eq!(rng.next_u64(), u64::from_le_bytes(direct));
    }

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 "abc" vector.
        assert_eq!(b64url(sha256(b"abc")), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert_eq!(sha256_b64url(b"abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    #[test]
    fn b64url_is_strict() {
        assert_eq!(b64url(b"\xfb\xff"), "-_8");
        assert_eq!(b64url_decode("-_8").unwrap(), b"\xfb\xff");
        assert_eq!(b64url_decode("").unwrap(), b"");
        assert!(b64url_decode("-_8=").is_none(), "padding");
        assert!(b64url_decode("+/8").is_none(), "standard alphabet");
        assert!(b64url_decode("-_9").is_none(), "non-zero trailing bits");
        assert!(b64url_decode("ab c").is_none(), "whitespace");
        assert!(b64url_decode("a").is_none(), "impossible length");
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn password_round_trip() {
        let e = TestEntropy::new(2);
        let phc = hash_password(&e, &FAST, "correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horse ", &phc));
        assert!(!verify_password("", &phc));
        // Fresh salt each time.
        assert_ne!(phc, hash_password(&e, &FAST, "correct horse").unwrap());
    }

    #[test]
    fn password_verification_uses_the_stored_cost() {
        let e = TestEntropy::new(3);
        let old = hash_password(&e, &FAST, "pw").unwrap();
        // The configuration moves on; the old hash still verifies under its own parameters.
        assert!(verify_password("pw", &old));
        assert!(!password_needs_rehash(&old, &FAST));
        assert!(password_needs_rehash(&old, &PasswordParams::default()));
        assert!(password_needs_rehash("not a phc string", &FAST));
    }

    #[test]
    fn default_password_params_are_owasp_minimum_and_work() {
        let p = PasswordParams::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19456, 2, 1));
        let e = TestEntropy::new(4);
        let phc = hash_password(&e, &p, "pw").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("pw", &phc));
        dummy_verify(&p, "pw");
    }

    #[test]
    fn malformed_hashes_and_params_fail_closed() {
        assert!(!verify_password("pw", ""));
        assert!(!verify_password("pw", "$argon2id$v=19$m=64,t=1,p=1$bm90IGEgaGFzaA"));
        assert!(!verify_password("pw", "plaintext-password"));
        let bad = PasswordParams { memory_kib: 1, iterations: 0, parallelism: 0 };
        assert!(hash_password(&TestEntropy::new(5), &bad, "pw").is_err());
        dummy_verify(&bad, "pw"); // must not panic
    }

    #[test]
    fn password_params_serde() {
        let p: PasswordParams = serde_json::from_str(r#"{"memory_kib":65536}"#).unwrap();
        assert_eq!(p, PasswordParams { memory_kib: 65536, ..PasswordParams::default() });
        assert!(serde_json::from_str::<PasswordParams>(r#"{"memory_kb":65536}"#).is_err());
    }

    #[test]
    fn seal_round_trip_hides_plaintext() {
        let e = TestEntropy::new(6);
        let master = [7u8; 32];
        let plaintext = b"-----PRIVATE KEY MATERIAL----- PRIVATE KEY MATERIAL".repeat(4);
        let sealed = seal(&master, "t1/w1/kid1", &e, &plaintext);
        let raw = b64url_decode(&sealed).unwrap();
        assert_eq!(raw.len(), NONCE_LEN + plaintext.len() + TAG_LEN);
        assert!(!raw.windows(8).any(|w| plaintext.windows(8).any(|p| p == w)), "plaintext leaked into ciphertext");
        assert!(!sealed.contains(&b64url(&plaintext[..12])));
        assert_eq!(open(&master, "t1/w1/kid1", &sealed).unwrap(), plaintext);
        // A fresh nonce each time.
        assert_ne!(sealed, seal(&master, "t1/w1/kid1", &e, &plaintext));
    }

    #[test]
    fn open_fails_for_wrong_secret_context_or_tampering() {
        let e = TestEntropy::new(8);
        let master = [1u8; 32];
        let sealed = seal(&master, "t1/w1/a", &e, b"pkcs8 bytes");
        assert!(open(&[2u8; 32], "t1/w1/a", &sealed).is_err(), "wrong master secret");
        assert!(open(&master, "t1/w1/b", &sealed).is_err(), "swapped context");
        assert!(open(&master, "t1/w1/a", "").is_err());
        assert!(open(&master, "t1/w1/a", "not base64!").is_err());
        let mut raw = b64url_decode(&sealed).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            assert!(open(&master, "t1/w1/a", &b64url(&raw)).is_err(), "flipped byte {i}");
            raw[i] ^= 1;
        }
        assert!(open(&master, "t1/w1/a", &b64url(&raw[..raw.len() - 1])).is_err(), "truncated");
        assert_eq!(open(&master, "t1/w1/a", &b64url(&raw)).unwrap(), b"pkcs8 bytes");
    }
}

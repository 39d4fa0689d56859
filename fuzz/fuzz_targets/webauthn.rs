//! Passkey responses (`webauthn`): the CBOR decoder, authenticator data, and a registration's
//! attestation object (with fixed, valid client data, so the fuzzer reaches the CBOR and key paths).
//! Input: the bytes, read as each of the three.
//! Properties: no panic; a whole decode agrees with the prefix decode; an accepted registration's
//! key is a JWK the pure-Rust verifier can use.
#![no_main]

use edgeauth_core::webauthn::{cbor, check_registration, AuthenticatorData, Expected};
use libfuzzer_sys::fuzz_target;

const CLIENT_DATA: &[u8] = br#"{"type":"webauthn.create","challenge":"Y2hhbGxlbmdl","origin":"https://as.example"}"#;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = cbor::decode(data) {
        assert_eq!(cbor::decode_prefix(data).map(|(p, used)| (p == v, used)), Ok((true, data.len())));
    }
    let _ = AuthenticatorData::parse(data);
    let exp = Expected { challenge: b"challenge", origin: "https://as.example", rp_id: "as.example", require_uv: false };
    if let Ok(c) = check_registration(CLIENT_DATA, data, &exp) {
        assert!(c.public_jwk.get("kty").is_some());
        assert!(!c.id.is_empty() && c.id.len() <= 1023);
    }
});

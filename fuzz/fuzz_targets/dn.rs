//! Distinguished-name strings (`crypto::certificate`): `tls_client_auth_subject_dn` in client
//! metadata (`valid_dn`), the DNs a platform reports (`from_platform_metadata`, fingerprints) and
//! their comparison (`dn_equal`). Input: two DNs, separated by the first newline.
//! Properties: no panic; equality is symmetric, and reflexive on valid DNs.
#![no_main]

use edgeauth_core::mtls::{dn_equal, fingerprint_b64url, from_platform_metadata, valid_dn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\n').unwrap_or((text, text));
    let equal = dn_equal(a, b);
    assert_eq!(equal, dn_equal(b, a), "dn_equal is symmetric");
    if valid_dn(a) {
        assert!(dn_equal(a, a), "a valid DN equals itself");
    }
    let _ = valid_dn(b);
    let _ = fingerprint_b64url(a);
    if let Some(c) = from_platform_metadata("1", "SUCCESS", a, b, a) {
        assert!(c.verified && c.subject_dn == b);
    }
});

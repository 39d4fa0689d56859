//! X.509 client certificates (`crypto::certificate`): DER (`parse_certificate`), the same bytes
//! as a PEM document (`parse_pem`, `pem_to_der`) and as the URL-encoded PEM of a trusted front
//! end's header (`from_trusted_header`); the input as PEM text too. The DNs read are then compared
//! and validated as client metadata would be.
//! Properties: no panic; the thumbprint is the SHA-256 of the DER; PEM-wrapping the DER and reading
//! it back, directly or through the header, gives the same certificate.
#![no_main]

use base64::Engine;
use edgeauth_core::crypto::sha256_b64url;
use edgeauth_core::http::percent_encode;
use edgeauth_core::mtls::{dn_equal, from_trusted_header, parse_certificate, parse_pem, pem_to_der, valid_dn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pem_to_der(text);
        let _ = parse_pem(text);
        let _ = from_trusted_header(&[("x-client-cert".into(), text.into())], "x-client-cert");
    }

    let parsed = parse_certificate(data);
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"));
    assert_eq!(pem_to_der(&pem).as_deref(), Some(data), "PEM wrapping round-trips");
    assert_eq!(parse_pem(&pem), parsed, "PEM and DER read alike");

    let Some(c) = parsed else { return };
    assert_eq!(c.x5t_s256, sha256_b64url(data));
    let header = from_trusted_header(&[("x-client-cert".into(), percent_encode(&pem))], "x-client-cert").expect("the header carries the same certificate");
    assert_eq!((header.sha256_fingerprint, header.subject_dn.as_str(), header.issuer_dn.as_str()), (c.x5t_s256.clone(), c.subject_dn.as_str(), c.issuer_dn.as_str()));
    let _ = dn_equal(&c.subject_dn, &c.issuer_dn);
    if valid_dn(&c.subject_dn) {
        assert!(dn_equal(&c.subject_dn, &c.subject_dn), "a valid DN equals itself");
    }
});

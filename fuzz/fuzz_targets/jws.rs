//! Compact JWS parsing (`jose::parse_jws`) and what follows it for a client's token: key selection
//! in a JWK set, thumbprints, and verification with the pure-Rust signer (`verify_jws`). The
//! claims' `keys` member, when there is one, is used as the JWK set, so the fuzzer also shapes
//! untrusted client keys (EC points, RSA moduli and exponents).
//! Properties: no panic; a parsed JWS has a supported `alg`, a non-empty signature, object header
//! and claims, no `crit`, and its signing input is the token's first two parts.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use edgeauth_core::jose::{check_key_fits, jwk_thumbprint, parse_jws, select_key, verify_jws, PureRustSigner, MAX_JWS_LEN};
use edgeauth_core::runtime::Entropy;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Verification needs no randomness.
struct NoEntropy;
impl Entropy for NoEntropy {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

/// The pure-Rust signer's futures never wait.
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the pure-Rust signer never waits"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let Ok(jws) = parse_jws(token) else { return };
    let alg = jws.alg().expect("a parsed JWS has a supported alg");
    assert!(token.len() <= MAX_JWS_LEN);
    assert!(!jws.signature.is_empty());
    assert!(jws.header.is_object() && jws.claims.is_object() && jws.header.get("crit").is_none());
    assert!(token.starts_with(&jws.signing_input) && token[jws.signing_input.len()..].starts_with('.'));
    assert_eq!(jws.signing_input.matches('.').count(), 1);

    let _ = jwk_thumbprint(&jws.header);
    let keys: Vec<Value> = jws.claims.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    for k in &keys {
        let _ = jwk_thumbprint(k);
        let _ = check_key_fits(alg, k);
    }
    let _ = select_key(alg, jws.kid(), &keys);
    let _ = ready(verify_jws(&PureRustSigner::new(NoEntropy), &jws, &keys));
});

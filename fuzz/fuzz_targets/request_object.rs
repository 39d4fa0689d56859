//! Signed request objects (JAR, `oauth/request_object.rs`): the parse (JWE refused, then
//! `parse_jws`), the claim checks that follow verification (`iss`, `aud`, `exp`/`nbf` window), and
//! the merge with the parameters sent beside the object.
//! Input: the parameters beside (a query string) on the first line, the request object after it.
//! When it is not a JWS, it is read as the claims themselves (JSON), so the fuzzer reaches the
//! checks without having to write base64url.
//! Properties: no panic; a merged request has unique names, none of the JWT's own claims, the
//! client's `client_id` (or an empty one), and agrees with every parameter sent beside it.
#![no_main]

use edgeauth_core::fuzz_api::request_object::{check_claims, merge, parse};
use edgeauth_core::http::Params;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const CLIENT: &str = "tpp";
const ISSUER: &str = "https://as.example/t/w";
const NOW: i64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (beside, object) = text.split_once('\n').unwrap_or(("", text));
    let Ok(outside) = Params::parse(beside) else { return };
    let claims: Map<String, Value> = match parse(object) {
        Ok(jws) => match jws.claims {
            Value::Object(c) => c,
            _ => panic!("a parsed JWS has object claims"),
        },
        Err(_) => match serde_json::from_str(object) {
            Ok(c) => c,
            Err(_) => return,
        },
    };
    for nbf_required in [false, true] {
        let _ = check_claims(&claims, CLIENT, ISSUER, NOW, nbf_required);
    }
    let Ok(params) = merge(CLIENT, &claims, &outside) else { return };
    for (i, (k, v)) in params.0.iter().enumerate() {
        assert!(params.0[..i].iter().all(|(n, _)| n != k), "'{k}' is repeated");
        assert!(!["iss", "aud", "exp", "nbf", "iat", "jti"].contains(&k.as_str()), "'{k}' is a JWT claim");
        if k == "client_id" {
            assert!(v == CLIENT || v.is_empty(), "client_id '{v}'");
        }
    }
    for (k, v) in &outside.0 {
        if let Some(inside) = params.get(k) {
            let beside_only = ["request", "client_assertion", "client_assertion_type", "client_secret", "client_id"].contains(&k.as_str());
            assert!(beside_only || v.is_empty() || inside == v, "'{k}' contradicts the object");
        }
    }
});

//! The payments API's signed bodies (`open_finance/payments.rs`): the body as a PS256 JWS
//! (`jws_body`), the claims checked after verification (`check_claims`: `iss`, `aud`, `iat`,
//! `jti`) and the `data` checks of a payment consent (`check_payment`: documents, creditor, PIX,
//! amount, dates, account). When the input is not such a JWS it is read as the claims themselves
//! (JSON), so the fuzzer reaches the checks without writing base64url.
//! Properties: no panic; a parsed body is PS256.
#![no_main]

use edgeauth_core::fuzz_api::{payments, request};
use edgeauth_core::runtime::Alg;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const CLIENT: &str = "tpp";
const ISSUER: &str = "https://as.example/t/w";
const ENDPOINT: &str = "https://as.example/t/w/open-banking/payments/v4/consents";
const NOW: i64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    let claims: Map<String, Value> = match payments::jws_body(&request("application/jwt", data)) {
        Ok(jws) => {
            assert_eq!(jws.alg(), Some(Alg::PS256));
            match jws.claims {
                Value::Object(c) => c,
                _ => panic!("a parsed JWS has object claims"),
            }
        }
        Err(_) => match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(_) => return,
        },
    };
    let _ = payments::check_claims(&claims, CLIENT, ISSUER, ENDPOINT, NOW);
    if let Some(d) = claims.get("data") {
        let _ = payments::check_payment(d, NOW);
    }
});

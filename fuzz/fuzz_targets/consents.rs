//! The JSON bodies of the consent APIs: the data consents API (`POST .../consents`, the create
//! body; `POST .../consents/{id}/extends`, the extension body; `open_finance/consents.rs`) and the
//! bank-side consent management (list filter, revocations with the bank's reason;
//! `management/open_banking.rs`). The dates inside go through `time::parse_rfc3339`, also fuzzed
//! on the bare input.
//! Properties: no panic; an accepted consent has an 11-digit CPF, an end date (if any) within a
//! year of now, written back as a date that reads as the same instant; RFC 3339 round-trips.
#![no_main]

use edgeauth_core::fuzz_api::{bank_consents, consents, request};
use edgeauth_core::open_finance::consents::MAX_EXPIRATION;
use edgeauth_core::time::{format_rfc3339, parse_rfc3339};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NOW: i64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    let req = request("application/json", data);
    if let Ok((doc, end)) = consents::create_body(&req, NOW) {
        let cpf = doc.pointer("/loggedUser/document/identification").and_then(Value::as_str).unwrap_or("");
        assert!(cpf.len() == 11 && cpf.bytes().all(|b| b.is_ascii_digit()), "CPF '{cpf}'");
        assert!(doc["permissions"].as_array().is_some_and(|p| !p.is_empty()));
        if let Some(at) = end {
            assert!(at > NOW && at <= NOW + MAX_EXPIRATION);
            assert_eq!(doc["expirationDateTime"].as_str().and_then(parse_rfc3339), Some(at));
        }
    }
    if let Ok((cpf, cnpj, _)) = consents::extension_body(&req) {
        assert_eq!(cpf.len(), 11);
        assert!(cnpj.is_none_or(|c| c.len() == 14));
    }
    let _ = bank_consents::list_body(&req);
    let _ = bank_consents::revoke_body(&req);
    let _ = bank_consents::revoke_by_filter_body(&req);

    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(t) = parse_rfc3339(text) {
            let again = format_rfc3339(t);
            // Years 0000 to 9999 only: an offset can move an instant outside them.
            if again.len() == 20 {
                assert_eq!(parse_rfc3339(&again), Some(t), "{text} -> {again}");
            }
        }
    }
});

//! `application/x-www-form-urlencoded` bodies and query strings (`http::Params`, `percent_decode`):
//! every form endpoint (token, PAR, login, consent, introspection, revocation) and `/authorize`.
//! Properties: no panic; a body and the same text as a query decode alike; decoded pairs encode
//! (`form_encode`) to a form that decodes to the same pairs; percent-encoding any text decodes back.
#![no_main]

use edgeauth_core::http::{form_encode, percent_decode, percent_encode, Params, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let form = Request::new("POST", "https://as.example/t/w/token", vec![("content-type".into(), "application/x-www-form-urlencoded".into())], data.to_vec()).form_params();
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(form.is_err(), "a body that is not UTF-8 is refused");
        return;
    };
    let parsed = Params::parse(text);
    assert_eq!(form.as_ref().ok(), parsed.as_ref().ok(), "the body decodes as the bare text does");

    if let Ok(p) = &parsed {
        for (i, (k, _)) in p.0.iter().enumerate() {
            assert!(p.0[..i].iter().all(|(n, _)| n != k), "names are unique");
        }
        let encoded = form_encode(p.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(Params::parse(&encoded).as_ref().ok(), Some(p), "encode then decode gives the pairs back: {encoded}");
    }

    // The same text as the query of a URL (up to a fragment), as the adapters build requests.
    let url = Request::new("GET", &format!("https://as.example/t/w/authorize?{text}"), vec![("cookie".into(), text.into())], Vec::new());
    let query = text.split('#').next().unwrap_or("");
    assert_eq!(url.query, query);
    assert_eq!(url.query_params().ok(), Params::parse(query).ok());
    let _ = url.cookie("ea_session");
    let _ = Request::new("GET", text, Vec::new(), Vec::new());

    assert_eq!(percent_decode(&percent_encode(text)).as_deref(), Some(text), "percent-encoding round-trips");
    let _ = percent_decode(text);
});

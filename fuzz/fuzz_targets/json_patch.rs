//! RFC 6902 JSON Patch (`management::json_patch::apply`), the configuration import of the
//! management API. Input: a JSON document; `{"doc": D, "patch": P}` patches D, anything else is the
//! patch of a small workspace configuration.
//! Properties: no panic; the input document is left as it was; a patch never yields a document
//! larger than `MAX_DOCUMENT_BYTES` (serialized) from one within it; the empty patch is the identity.
#![no_main]

use edgeauth_core::management::json_patch::{apply, MAX_DOCUMENT_BYTES};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else { return };
    let (doc, patch) = match input {
        Value::Object(mut o) if o.contains_key("doc") && o.contains_key("patch") => (o.remove("doc").unwrap_or_default(), o.remove("patch").unwrap_or_default()),
        patch => (
            json!({"access_token_ttl": 600, "scopes": ["openid", "profile"], "login": {"password_hashing": {"memory_kib": 19456}}, "clients": [{"client_id": "web", "redirect_uris": ["https://app.example/cb"]}]}),
            patch,
        ),
    };
    let before = doc.clone();
    let result = apply(&doc, &patch);
    assert_eq!(doc, before, "the input is not changed");
    let size = serde_json::to_vec(&doc).map(|v| v.len()).unwrap_or(0);
    if let Ok(out) = result {
        let out_size = serde_json::to_vec(&out).map(|v| v.len()).unwrap_or(0);
        assert!(size > MAX_DOCUMENT_BYTES || out_size <= MAX_DOCUMENT_BYTES, "the patch grew the document from {size} to {out_size} bytes");
    }
    if size <= MAX_DOCUMENT_BYTES {
        assert_eq!(apply(&doc, &json!([])).ok(), Some(doc), "the empty patch changes nothing");
    }
});

//! What the Open Finance Brasil profile (`profile: "fapi_br"`) adds around the endpoints, beyond the
//! checks that live with each rule (authorize.rs, request_object.rs, client_auth.rs, token.rs).

use crate::crypto;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::engine::Ctx;

pub const INTERACTION_ID: &str = "x-fapi-interaction-id";

/// The back-channel, API-style endpoints whose responses carry `x-fapi-interaction-id`.
pub fn is_resource_style(path: &[&str]) -> bool {
    matches!(path, ["token"] | ["userinfo"] | ["introspect"] | ["revoke"] | ["par"])
}

/// The interaction id a client sent (echoed when it is a plausible id: the Open Finance Brasil APIs
/// use `^[a-zA-Z0-9][a-zA-Z0-9-]{0,99}$`, in practice a UUID), or a fresh random UUID.
pub fn interaction_id<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> String {
    match req.header(INTERACTION_ID).map(str::trim) {
        Some(v) if valid_interaction_id(v) => v.to_string(),
        _ => uuid_v4(&crypto::random_bytes(ctx.rt.entropy(), 16)),
    }
}

pub fn valid_interaction_id(v: &str) -> bool {
    (1..=100).contains(&v.len()) && v.as_bytes()[0].is_ascii_alphanumeric() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub fn with_interaction_id<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, resp: Response) -> Response {
    let mut resp = resp.replace_header(INTERACTION_ID, interaction_id(ctx, req));
    // The id is the request's own (or random): this answer is not another request's.
    resp.reusable_until_ms = None;
    resp
}

/// A random (version 4) UUID from 16 random bytes.
pub fn uuid_v4(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_interaction_ids() {
        let u = uuid_v4(&[0xffu8; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(valid_interaction_id(&u));
        assert!(!valid_interaction_id(""));
        assert!(!valid_interaction_id("-abc"));
        assert!(!valid_interaction_id("a b"));
        assert!(!valid_interaction_id(&"a".repeat(101)));
    }
}

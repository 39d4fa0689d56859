//! OAuth 2.0: the authorization endpoint and its pipeline, the token endpoint, and the pieces of
//! the protocol they share (PKCE, PAR, request objects, response modes), plus introspection and
//! revocation.

pub mod authorization_details;
pub mod authorize;
pub mod code;
pub mod introspection;
pub mod par;
pub mod pkce;
pub mod request_object;
pub mod response_mode;
pub mod revocation;
pub mod token;

//! edgeauth-core: a multi-tenant OAuth 2.0 / OpenID Connect authorization server engine that knows
//! no runtime. Adapters (Cloudflare Workers, Spin, the native test kit) implement the traits in
//! [`runtime`] and call [`Server::handle`] with the engine's own [`http::Request`].

pub mod account;
pub mod admin;
pub mod authorize;
pub mod client_auth;
pub mod clients;
pub mod config;
pub mod consent_introspection;
pub mod consents;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod fapi;
pub mod http;
pub mod interaction;
pub mod introspection;
pub mod jose;
pub mod keys;
pub mod logout;
pub mod management;
pub mod mtls;
pub mod pages;
pub mod par;
pub mod payments;
pub mod request_object;
pub mod response_mode;
pub mod revocation;
pub mod runtime;
pub mod server;
pub mod store;
pub mod token;
pub mod tokens;
pub mod userinfo;

pub use error::OAuthError;
pub use http::{Request, Response};
pub use server::Server;

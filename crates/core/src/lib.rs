//! edgeauth-core: a multi-tenant OAuth 2.0 / OpenID Connect authorization server engine that knows
//! no runtime. Adapters (Cloudflare Workers, Spin, the native test kit) implement the traits in
//! [`runtime`] and call [`Server::handle`] with the engine's own [`http::Request`].

pub mod error;
pub mod http;
pub mod runtime;
pub mod server;

pub use error::OAuthError;
pub use http::{Request, Response};
pub use server::Server;

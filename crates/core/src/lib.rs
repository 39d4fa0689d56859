//! edgeauth-core: a multi-tenant OAuth 2.0 / OpenID Connect authorization server engine that knows
//! no runtime. Adapters (Cloudflare Workers, Spin, the native test kit) implement the traits in
//! [`runtime`] and call [`Server::handle`] with the engine's own [`http::Request`].
//!
//! The folders are the architecture, and imports run one way, from the top of this list down
//! (`tests/layout.rs` fails the build when they do not):
//!
//! | module         | what                                                                         |
//! |----------------|------------------------------------------------------------------------------|
//! | `router`       | the one place that knows every endpoint                                      |
//! | `management`   | the management API (`/api`) and the bootstrap admin API (`/admin`)           |
//! | `oidc`         | discovery, userinfo, logout, the account page                                |
//! | `oauth`        | authorize (pipeline, login, consent, issuing), token (one file per grant), PKCE, PAR, request objects, response modes, introspection, revocation |
//! | `open_finance` | Open Finance Brasil: consents, payments, consent introspection, FAPI headers |
//! | `client_auth`  | client authentication at every back-channel endpoint                         |
//! | `federation`   | signing in through identity providers: the provider protocol, mappings, just-in-time provisioning |
//! | `outbound`     | the one guarded, cached path for requests to URLs others chose (client JWK sets, identity providers) |
//! | `tokens`       | the JWTs we sign: access tokens, ID tokens                                   |
//! | `authn`        | who the user is: SSO session, credential checks, limits on guessing them     |
//! | `web`          | HTML pages and the sealed forms they post                                    |
//! | `engine`       | the request context and the per-isolate caches                               |
//! | `jose`         | JWS, JWK, signing keys                                                       |
//! | `store`        | typed queries; `store/sql.rs` holds every SQL statement                      |
//! | `config`       | tenant, workspace and client configuration; the security profile's rules    |
//! | `crypto`       | primitives, password hashing, sealing, X.509 certificates                    |
//! | `urls`         | the rules for every URL stored or followed, on a WHATWG parse                |
//! | `json_schema`  | a small JSON Schema validator (a leaf: imports nothing from the crate)       |
//! | `policy`       | the per-type policies of Rich Authorization Requests (a leaf)                |
//! | `time`, `http`, `error`, `runtime` | RFC 3339, the engine's HTTP types, errors, the runtime seams |

pub mod aal;
pub mod authn;
pub mod client_auth;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod extensions;
pub mod federation;
/// Crate-private parsers for the fuzz targets (`fuzz/`); only under `cargo fuzz` (`--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz_api;
pub mod http;
pub mod json_schema;
pub mod jose;
pub mod management;
pub mod oauth;
pub mod oidc;
pub mod open_finance;
pub mod outbound;
pub mod policy;
pub mod router;
pub mod runtime;
pub mod store;
pub mod time;
pub mod tokens;
pub mod urls;
pub mod web;
pub mod webauthn;

/// The adapters read client certificates through this path.
pub use crypto::certificate as mtls;
pub use engine::Server;
pub use error::OAuthError;
pub use http::{Request, Response};

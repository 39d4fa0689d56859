//! The entry point: routes a request to its endpoint and turns every error into a response.

use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::runtime::Runtime;

/// One per isolate / instance: holds the caches that outlive a request (workspace configuration,
/// parsed keys). Cheap to create; adapters keep one in a static.
#[derive(Default)]
pub struct Server {}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    /// Handles one request. Never panics on bad input; storage failures become 500s without detail.
    pub async fn handle<R: Runtime>(&self, rt: &R, req: Request) -> Response {
        let _ = rt;
        OAuthError::not_found(format!("no route for {}", req.path)).into_response()
    }
}

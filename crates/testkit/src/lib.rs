//! edgeauth-testkit: the core engine on a native runtime, for tests.
//!
//! - [`NativeRuntime`] implements `edgeauth_core::runtime::Runtime` with SQLite (rusqlite), an
//!   in-memory KV, a settable clock, OS entropy and a loopback-only HTTP client.
//! - [`serve`] puts one shared `edgeauth_core::Server` behind a small HTTP/1.1 server (the
//!   `edgeauth-native` binary is a thin wrapper around it).
//! - [`block_on`] runs the engine's async calls without an async runtime crate.

mod fetch;
mod runtime;
mod serve;
mod sqlite;
mod wire;

pub use fetch::LoopbackFetch;
pub use runtime::{MemoryKv, NativeClock, NativeRuntime, NativeSigner, OsEntropy};
pub use serve::{serve, serve_with, ServeOptions};
pub use sqlite::SqliteDb;

use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Drives a future to completion on the current thread.
///
/// Every native store answers synchronously (SQLite, maps, a blocking socket), so the engine's
/// futures are ready on their first poll; a no-op waker is all it takes.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // Not expected natively; yield rather than spin hot if some future ever is pending.
        std::thread::yield_now();
    }
}

//! Links the component with 256 KiB of heap inside its initial linear memory (`--initial-heap`;
//! the linker's default is the static data rounded up to a 64 KiB page, which left 7-29 KB).
//!
//! Spin instantiates the component for every request, in a slot of a pool of memories. A request
//! whose heap outgrows the initial memory grows it, which the pool serves with an `mprotect`, and
//! the next instance in that slot starts by taking those pages back (another `mprotect`, and a TLB
//! shootdown): 10-15 % of a JWKS request's CPU in the test host's profile. Discovery and JWKS use a
//! few tens of KB of heap, a client_credentials token under 200 KB. What the margin costs: the pool
//! resets a slot's accessible memory after every instance (Spin keeps 2 MiB resident and clears it
//! by hand), so each KiB of initial memory is a KiB cleared per request, far cheaper than the
//! two `mprotect`s it saves.
fn main() {
    // Only the wasm link (a native build of this crate, for `cargo check`, links nothing).
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-cdylib-link-arg=--initial-heap=262144");
    }
}

//! `edgeauth-native`: the engine on SQLite behind a loopback HTTP server, for the scenario suite.
//!
//! Prints `listening on http://127.0.0.1:PORT` as its first line once it accepts connections.
//! Options: `--port N` (0 picks a free port), `--root-secret S` (enables the bootstrap API),
//! `--db FILE` (default: in memory), `--test-controls` (enables `POST /__test/clock/advance?secs=N`),
//! `--client-cert-header NAME` (trust a URL-encoded PEM client certificate in that header; off by default),
//! `--public-origin URL` (fix the issuer's origin and refuse requests for other hosts; see the README).

use edgeauth_testkit::{serve_with, NativeRuntime, ServeOptions};
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;

fn main() {
    if let Err(msg) = run() {
        eprintln!("edgeauth-native: {msg}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut port = 0u16;
    let mut root_secret = None;
    let mut db = None;
    let mut public_origin = None;
    let mut extension_hosts = None;
    let mut options = ServeOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value()?.parse().map_err(|_| "--port needs a number".to_string())?,
            "--root-secret" => root_secret = Some(value()?),
            "--db" => db = Some(value()?),
            "--public-origin" => public_origin = Some(edgeauth_core::urls::public_origin(&value()?).map_err(|e| format!("--public-origin {e}"))?),
            "--extension-hosts" => extension_hosts = Some(value()?),
            "--test-controls" => options.test_controls = true,
            "--client-cert-header" => options.client_cert_header = Some(value()?.to_ascii_lowercase()),
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let runtime = match db {
        Some(path) => NativeRuntime::open(path),
        None => NativeRuntime::new(),
    }
    .map_err(|e| e.to_string())?;
    let runtime = match root_secret {
        Some(s) => runtime.with_root_secret(s),
        None => runtime,
    };
    let runtime = match public_origin {
        Some(o) => runtime.with_public_origin(o),
        None => runtime,
    };
    let runtime = match extension_hosts {
        Some(h) => runtime.with_extension_hosts(h),
        None => runtime,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let handle = serve_with(listener, Arc::new(runtime), options);
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    handle.join().map_err(|_| "the server thread panicked".to_string())
}

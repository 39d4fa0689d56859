//! A small HTTP/1.1 server around one shared engine: a thread per connection, keep-alive,
//! Content-Length and chunked request bodies.

use crate::runtime::NativeRuntime;
use crate::wire::{read_body, read_head, WireError};
use crate::block_on;
use edgeauth_core::http::{Params, MAX_BODY_BYTES};
use edgeauth_core::{OAuthError, Request, Response, Server};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Bodies up to this size reach the engine, so it is the engine that refuses anything over its own
/// 64 KB limit (with its own error); beyond this the server answers 413 itself and closes.
const MAX_READ_BODY: usize = 16 * MAX_BODY_BYTES;

/// A keep-alive connection idle this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Enables `POST /__test/clock/advance?secs=N`, answered by the server, not the engine.
    pub test_controls: bool,
    /// The header a trusted TLS front end puts the client certificate in (URL-encoded PEM); unset,
    /// no certificate is ever read from a header (anyone could forge one).
    pub client_cert_header: Option<String>,
}

/// Serves the engine on `listener` until the process ends. The origin the engine sees is
/// `http://` and the request's `Host` (as Workers and Spin take it), or `http://127.0.0.1:PORT`
/// (the listener's port) when the request has no usable one.
pub fn serve(listener: TcpListener, runtime: Arc<NativeRuntime>) -> JoinHandle<()> {
    serve_with(listener, runtime, ServeOptions::default())
}

pub fn serve_with(listener: TcpListener, runtime: Arc<NativeRuntime>, options: ServeOptions) -> JoinHandle<()> {
    let port = listener.local_addr().expect("a bound listener").port();
    let shared = Arc::new(Shared {
        // `Server` keeps per-isolate caches in RefCells: Send, not Sync. One request at a time
        // through the engine is what D1's single writer gives anyway.
        engine: Mutex::new(Server::new()),
        runtime,
        origin: format!("http://127.0.0.1:{port}"),
        options,
        requests: AtomicU64::new(0),
    });
    thread::spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    let shared = shared.clone();
                    thread::spawn(move || shared.connection(stream));
                }
                Err(e) => eprintln!("edgeauth-native: accept failed: {e}"),
            }
        }
    })
}

struct Shared {
    engine: Mutex<Server>,
    runtime: Arc<NativeRuntime>,
    origin: String,
    options: ServeOptions,
    /// Numbers the requests, for the log lines of those that fail.
    requests: AtomicU64,
}

impl Shared {
    fn connection(&self, stream: TcpStream) {
        // The client address the engine counts failed sign-ins by: the socket's peer, as Spin and
        // Cloudflare report theirs (there is no proxy in front of this server to trust a header from).
        let peer = stream.peer_addr().ok().map(|a| a.ip());
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
        let Ok(read_half) = stream.try_clone() else { return };
        let mut reader = BufReader::new(read_half);
        let mut writer = stream;
        loop {
            let head = match read_head(&mut reader) {
                Ok(Some(head)) => head,
                Ok(None) | Err(WireError::Io(_)) => return, // closed, idle, or reset
                Err(e) => return refuse(&mut writer, 400, &e.to_string()),
            };
            let mut parts = head.start_line.split(' ');
            let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
                return refuse(&mut writer, 400, "bad request line");
            };
            if !target.starts_with('/') {
                return refuse(&mut writer, 400, "only origin-form request targets are served");
            }
            let connection = head.header("connection").unwrap_or("").to_ascii_lowercase();
            let keep_alive = match version {
                "HTTP/1.1" => !connection.contains("close"),
                "HTTP/1.0" => connection.contains("keep-alive"),
                _ => return refuse(&mut writer, 505, "only HTTP/1.0 and HTTP/1.1 are served"),
            };
            // curl and others wait for this before sending a large body.
            if head.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
                && writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
            {
                return;
            }
            let body = match read_body(&mut reader, &head.headers, MAX_READ_BODY, false) {
                Ok(body) => body,
                Err(WireError::TooLarge) => return refuse(&mut writer, 413, "the request body is too large"),
                Err(WireError::Io(_)) => return,
                Err(e) => return refuse(&mut writer, 400, &e.to_string()),
            };

            let url = match head.header("host").filter(|h| is_authority(h)) {
                Some(host) => format!("http://{host}{target}"),
                None => format!("{}{}", self.origin, target),
            };
            let mut req = Request::new(method, &url, head.headers, body);
            req.client_address = peer;
            if let Some(h) = &self.options.client_cert_header {
                req.client_certificate = edgeauth_core::http::CertificateSlot::known(edgeauth_core::mtls::from_trusted_header(&req.headers, h));
            }
            let head_only = req.method == "HEAD";
            let resp = self.respond(req);
            if write_response(&mut writer, &resp, keep_alive, head_only).is_err() || !keep_alive {
                return;
            }
        }
    }

    fn respond(&self, req: Request) -> Response {
        if self.options.test_controls && req.path.starts_with("/__test/") {
            return self.test_control(&req);
        }
        let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        // A panic in the engine is a bug to report as a 500, not a silently dropped connection.
        match catch_unwind(AssertUnwindSafe(|| block_on(engine.handle(&*self.runtime, req)))) {
            Ok(resp) => {
                // One JSON line per failed request on stderr, as the Spin component writes them.
                if let Some(f) = &resp.failure {
                    eprintln!("{}", f.log_line(|| format!("native-{}", self.requests.fetch_add(1, Ordering::Relaxed))));
                }
                resp
            }
            Err(_) => {
                eprintln!("edgeauth-native: the engine panicked");
                OAuthError::server_error("panic").into_response()
            }
        }
    }

    fn test_control(&self, req: &Request) -> Response {
        if req.method != "POST" || req.path != "/__test/clock/advance" {
            return OAuthError::not_found("unknown test control").into_response();
        }
        let secs = req.query_params().ok().and_then(|p| p.get("secs").and_then(|s| s.parse::<i64>().ok()));
        let Some(secs) = secs else {
            return OAuthError::invalid_request("secs must be an integer").into_response();
        };
        self.runtime.advance_clock(secs);
        use edgeauth_core::runtime::{Clock, Runtime};
        Response::json(200, &serde_json::json!({ "now": self.runtime.clock().now_secs() }))
    }
}

/// Answers a request the server could not pass to the engine, then closes the connection (its
/// framing can no longer be trusted).
fn refuse(writer: &mut TcpStream, status: u16, description: &str) {
    let resp = OAuthError::invalid_request(description).with_status(status).into_response();
    let _ = write_response(writer, &resp, false, false);
}

fn write_response(w: &mut TcpStream, resp: &Response, keep_alive: bool, head_only: bool) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).into_bytes();
    for (name, value) in &resp.headers {
        // Framing is ours; a header value with CR/LF would split the response, so drop it.
        if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") || value.contains(['\r', '\n']) {
            continue;
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    out.extend_from_slice(format!("content-length: {}\r\nconnection: {connection}\r\n\r\n", resp.body.len()).as_bytes());
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

// `Params` is re-used by the test control above via `Request::query_params`.
#[allow(unused_imports)]
use Params as _;

/// A `Host` value fit for a URL: a name or address and an optional port, nothing else.
fn is_authority(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

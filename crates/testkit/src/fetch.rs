//! `HttpFetch` for tests: plain HTTP (GET and POST) to loopback only (tests serve client JWKS on 127.0.0.1).
//! Anything else is an error, so a test can never reach the network by accident. Keeps the
//! engine's [`FetchLimits`] (one deadline for the whole exchange, a body size limit) and follows
//! no redirect: a 3xx is returned as it is.

use crate::wire::{read_body, read_head};
use edgeauth_core::runtime::{FetchLimits, HttpFetch, OutboundRequest, StoreError};
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct LoopbackFetch;

impl HttpFetch for LoopbackFetch {
    async fn send(&self, req: OutboundRequest<'_>, limits: FetchLimits) -> Result<(u16, Vec<u8>), StoreError> {
        send(req, Duration::from_millis(limits.timeout_ms.into()), limits.max_bytes).map_err(|e| StoreError::new(format!("{} {}: {e}", req.method, req.url)))
    }
}

fn send(req: OutboundRequest<'_>, timeout: Duration, max_bytes: usize) -> Result<(u16, Vec<u8>), String> {
    let deadline = Instant::now() + timeout;
    let url = req.url;
    let rest = url.strip_prefix("http://").ok_or("only http:// loopback URLs are fetched natively")?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| "bad port")?),
        None => (authority, 80),
    };
    if host != "127.0.0.1" && !host.eq_ignore_ascii_case("localhost") {
        return Err(format!("host '{host}' is not loopback"));
    }

    // `localhost` may resolve to ::1 and 127.0.0.1; take the first that answers.
    let addrs = (host, port).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut last_err = String::from("no address");
    let mut stream = None;
    for addr in addrs.filter(|a| a.ip().is_loopback()) {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    let stream = stream.ok_or(last_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let mut request = format!("{} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: edgeauth-testkit\r\nConnection: close\r\n", req.method);
    for (name, value) in req.headers {
        if value.contains(['\r', '\n']) {
            return Err(format!("header {name} has a line break"));
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = req.body.unwrap_or_default();
    if req.body.is_some() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    (&stream).write_all(&bytes).map_err(|e| e.to_string())?;

    let mut reader = BufReader::new(Deadline { stream, deadline });
    let head = read_head(&mut reader).map_err(|e| e.to_string())?.ok_or("connection closed before a response")?;
    let status = head
        .start_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| head.start_line.starts_with("HTTP/1."))
        .ok_or("bad status line")?;
    let body = read_body(&mut reader, &head.headers, max_bytes, true).map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// A stream whose reads fail once the overall deadline passes, so a server that trickles bytes
/// cannot hold the engine past the timeout.
struct Deadline {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

//! The HTTP/1.1 framing both the server and the loopback client need: a message head and a body
//! (Content-Length, chunked, or until EOF), each with a size cap.

use std::io::{self, BufRead, Read};

#[derive(Debug)]
pub(crate) enum WireError {
    /// Over the caller's cap: the server answers 413, the client fails.
    TooLarge,
    Malformed(&'static str),
    Io(io::Error),
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::TooLarge => f.write_str("message too large"),
            WireError::Malformed(why) => write!(f, "malformed HTTP message: {why}"),
            WireError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A start line (request or status line) and its headers, names lower-cased.
pub(crate) struct Head {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Headers bigger than this are refused (browsers' cookies stay far below).
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Reads one line (without CRLF) of at most `max` bytes; `None` at a clean end of stream.
fn read_line(r: &mut impl BufRead, max: usize) -> Result<Option<String>, WireError> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(max as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n > max { WireError::TooLarge } else { WireError::Malformed("truncated line") });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Reads a message head; `None` if the peer closed the connection before sending anything.
pub(crate) fn read_head(r: &mut impl BufRead) -> Result<Option<Head>, WireError> {
    let mut budget = MAX_HEAD_BYTES;
    // RFC 9112 §2.2: ignore at least one empty line before the start line.
    let start_line = loop {
        match read_line(r, budget)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    budget = budget.saturating_sub(start_line.len());
    let mut headers = Vec::new();
    loop {
        let line = read_line(r, budget)?.ok_or(WireError::Malformed("end of stream in the headers"))?;
        if line.is_empty() {
            return Ok(Some(Head { start_line, headers }));
        }
        budget = budget.checked_sub(line.len() + 2).ok_or(WireError::TooLarge)?;
        if line.starts_with([' ', '\t']) {
            return Err(WireError::Malformed("obsolete header folding"));
        }
        let (name, value) = line.split_once(':').ok_or(WireError::Malformed("header without a colon"))?;
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(WireError::Malformed("bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// Reads the body the headers announce, refusing more than `cap` bytes. Without Content-Length
/// or chunking a request has no body, while a response runs to the end of the stream
/// (`until_eof`).
pub(crate) fn read_body(r: &mut impl BufRead, headers: &[(String, String)], cap: usize, until_eof: bool) -> Result<Vec<u8>, WireError> {
    let lengths: Vec<&str> = headers.iter().filter(|(k, _)| k == "content-length").map(|(_, v)| v.as_str()).collect();
    if let Some(te) = header(headers, "transfer-encoding") {
        // Both framings at once is the classic request-smuggling shape: refuse it.
        if !lengths.is_empty() {
            return Err(WireError::Malformed("both Content-Length and Transfer-Encoding"));
        }
        if !te.eq_ignore_ascii_case("chunked") {
            return Err(WireError::Malformed("unsupported Transfer-Encoding"));
        }
        return read_chunked(r, cap);
    }
    match lengths.as_slice() {
        [] if until_eof => {
            let mut body = Vec::new();
            r.take(cap as u64 + 1).read_to_end(&mut body)?;
            if body.len() > cap {
                return Err(WireError::TooLarge);
            }
            Ok(body)
        }
        [] => Ok(Vec::new()),
        [first, rest @ ..] => {
            if rest.iter().any(|v| v != first) {
                return Err(WireError::Malformed("conflicting Content-Length headers"));
            }
            let len: usize = first.parse().map_err(|_| WireError::Malformed("bad Content-Length"))?;
            if len > cap {
                return Err(WireError::TooLarge);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body)?;
            Ok(body)
        }
    }
}

fn read_chunked(r: &mut impl BufRead, cap: usize) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, 1024)?.ok_or(WireError::Malformed("end of stream in a chunked body"))?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| WireError::Malformed("bad chunk size"))?;
        if size == 0 {
            // Trailers are read and dropped.
            while !read_line(r, MAX_HEAD_BYTES)?.ok_or(WireError::Malformed("end of stream in trailers"))?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > cap {
            return Err(WireError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if read_line(r, 2)?.is_none_or(|l| !l.is_empty()) {
            return Err(WireError::Malformed("chunk not followed by CRLF"));
        }
    }
}

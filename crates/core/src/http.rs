//! The engine's own HTTP types: adapters convert to and from these once, at the edge.

use crate::error::{Error, OAuthError};

/// Requests larger than this are refused before parsing (RFC 6749 forms and JSON are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The TLS client certificate the platform saw (Workers: `request.cf.tlsClientAuth`; elsewhere a
/// trusted front end's header, see `mtls::from_trusted_header`). Adapters fill it; the core never
/// reads it from a client-controlled place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientCertificate {
    /// The TLS terminator verified the chain against its trust store (`tls_client_auth` needs it).
    pub verified: bool,
    /// base64url SHA-256 of the DER certificate (RFC 8705 `x5t#S256`; see `mtls::fingerprint_b64url`).
    pub sha256_fingerprint: String,
    pub subject_dn: String,
    pub issuer_dn: String,
}

/// The TLS client certificate of a request, looked for only when something asks: on Workers that
/// means reading `request.cf`, an object workerd builds for each request that touches it, and most
/// requests (a token request with a client secret, discovery, a page) never need a certificate.
/// Cloned, it is the same slot (the context shares the request's).
#[derive(Clone, Default)]
pub struct CertificateSlot(std::rc::Rc<CertificateInner>);

/// What finds a request's certificate (see [`CertificateSlot::lazy`]).
type FindCertificate = Box<dyn FnOnce() -> Option<ClientCertificate>>;

#[derive(Default)]
struct CertificateInner {
    value: std::cell::OnceCell<Option<ClientCertificate>>,
    source: std::cell::Cell<Option<FindCertificate>>,
}

impl CertificateSlot {
    /// A certificate (or none) the adapter already has.
    pub fn known(certificate: Option<ClientCertificate>) -> CertificateSlot {
        let slot = CertificateSlot::default();
        let _ = slot.0.value.set(certificate);
        slot
    }

    /// A certificate `find` finds on first use (and never again).
    pub fn lazy(find: impl FnOnce() -> Option<ClientCertificate> + 'static) -> CertificateSlot {
        let slot = CertificateSlot::default();
        slot.0.source.set(Some(Box::new(find)));
        slot
    }

    pub fn get(&self) -> Option<&ClientCertificate> {
        self.0.value.get_or_init(|| self.0.source.take().and_then(|find| find())).as_ref()
    }
}

impl std::fmt::Debug for CertificateSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.value.get() {
            Some(c) => c.fmt(f),
            None => f.write_str("(not looked for yet)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Scheme, host and port, e.g. `https://auth.example.com` (no trailing slash).
    pub origin: String,
    /// Percent-encoded path, e.g. `/acme/main/authorize`.
    pub path: String,
    /// The raw query string without `?` (may be empty).
    pub query: String,
    /// Header names lower-cased; values as received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub client_certificate: CertificateSlot,
    /// The address the request came from, as the platform reports it (Workers: `CF-Connecting-IP`,
    /// set by Cloudflare's edge; Spin: `spin-client-addr`, set by the host; natively: the socket's
    /// peer). Adapters fill it; the core never reads it from a header a client could set. Failed
    /// sign-ins and client authentications are counted per address (`authn::throttle`).
    pub client_address: Option<std::net::IpAddr>,
}

impl Request {
    /// Builds a request from an absolute URL (`https://host/path?query`).
    pub fn new(method: &str, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Request {
        let (origin, rest) = split_url(url);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p.to_string(), q.split('#').next().unwrap_or("").to_string()),
            None => (rest.split('#').next().unwrap_or("").to_string(), String::new()),
        };
        Request {
            method: method.to_ascii_uppercase(),
            origin,
            path: if path.is_empty() { "/".into() } else { path },
            query,
            headers: headers
                .into_iter()
                .map(|(mut k, v)| {
                    k.make_ascii_lowercase();
                    (k, v)
                })
                .collect(),
            body,
            client_certificate: CertificateSlot::default(),
            client_address: None,
        }
    }

    /// The first value of a header (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of one cookie from the `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        for (k, v) in &self.headers {
            if k != "cookie" {
                continue;
            }
            for part in v.split(';') {
                if let Some((n, val)) = part.trim().split_once('=') {
                    if n == name {
                        return Some(val.to_string());
                    }
                }
            }
        }
        None
    }

    /// The media type of the body, without parameters, lower-cased.
    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
    }

    /// Query parameters, refusing duplicates.
    pub fn query_params(&self) -> Result<Params, OAuthError> {
        Params::parse(&self.query)
    }

    /// Form parameters from an `application/x-www-form-urlencoded` body, refusing duplicates.
    pub fn form_params(&self) -> Result<Params, OAuthError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(OAuthError::payload_too_large());
        }
        if self.content_type() != "application/x-www-form-urlencoded" {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
        let text = std::str::from_utf8(&self.body).map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
        Params::parse(text)
    }
}

fn split_url(url: &str) -> (String, &str) {
    if let Some(scheme_end) = url.find("://") {
        let after = &url[scheme_end + 3..];
        let path_start = after.find(['/', '?']).unwrap_or(after.len());
        (url[..scheme_end + 3 + path_start].to_string(), &after[path_start..])
    } else {
        (String::new(), url)
    }
}

/// Decoded `application/x-www-form-urlencoded` parameters, in order, each name at most once
/// (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(s: &str) -> Result<Params, OAuthError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in s.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(k).ok_or_else(|| OAuthError::invalid_request("malformed percent-encoding"))?;
            let v = percent_decode(v).ok_or_else(|| OAuthError::invalid_request("malformed percent-encoding"))?;
            if out.iter().any(|(n, _)| *n == k) {
                return Err(OAuthError::invalid_request(format!("parameter '{k}' is repeated")));
            }
            out.push((k, v));
        }
        Ok(Params(out))
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter '{name}'")))
    }
}

/// Decodes a percent-encoded form or URL component, `+` as a space (as forms write it), into
/// UTF-8. Malformed escapes are refused (`None`) rather than passed through as the crate's decoder
/// would: every `%` must start two hex digits (`u8::is_ascii_hexdigit`, so no sign as in `%+1`).
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    if !b.iter().enumerate().all(|(i, &c)| c != b'%' || (hex(i + 1) && hex(i + 2))) {
        return None;
    }
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().ok().map(|d| d.into_owned())
}

/// What [`percent_encode`] escapes: every byte but RFC 3986's unreserved characters (§2.3).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes every byte but the unreserved characters, as `%XX` in upper case.
pub fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Encodes pairs as `application/x-www-form-urlencoded`.
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs.into_iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect::<Vec<_>>().join("&")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When this response reports an error: what the adapter logs (never sent).
    pub failure: Option<Box<Failure>>,
    /// Never sent. Set only on a 200 that depends on nothing but the request's method and URL and
    /// on isolate caches, answered from them (discovery, JWKS): until this time (ms, the runtime's
    /// clock) the same request gets the same response (headers included) unless this isolate
    /// handles a write first, so an adapter may keep it and answer the same GET with it. It is
    /// when the cache entry the response was built from expires, so a kept copy is never older than
    /// the caches already allow (`CONFIG_CACHE_TTL_MS`).
    pub reusable_until_ms: Option<u64>,
}

/// A failed request as the log sees it: one JSON line per failed request, written by the adapter.
/// The router fills in where it happened; the error fills in what and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Failure {
    pub tenant: String,
    pub workspace: String,
    /// The endpoint's path below the workspace (`token`, `authorize`, `api/...`).
    pub endpoint: String,
    pub status: u16,
    /// The OAuth error code (`invalid_grant`, `server_error`, ...).
    pub kind: &'static str,
    pub description: String,
    /// Our own failure's cause, with its chain.
    pub cause: Option<String>,
    /// The platform's request id (`cf-ray` on Workers) or a front end's (`x-request-id`) when the
    /// request carried a plain one; empty otherwise.
    pub request_id: String,
}

impl Failure {
    /// The request id a request carries, if any (read by the router, only for failed requests).
    pub(crate) fn request_id_of(headers: &[(String, String)]) -> Option<String> {
        headers
            .iter()
            .find(|(k, v)| (k == "cf-ray" || k == "x-request-id") && !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
            .map(|(_, v)| v.clone())
    }

    fn of(e: &Error) -> Failure {
        Failure { status: e.status, kind: e.code, description: e.description.clone(), cause: e.cause.as_ref().map(|c| c.to_string()), ..Failure::default() }
    }

    /// The log line: one JSON object with `"event": "request_failed"` (members in name order).
    /// `fallback` makes an id (the adapter's random one) when the request carried none: it runs
    /// only here, so a request that succeeds costs no random id.
    pub fn log_line(&self, fallback: impl FnOnce() -> String) -> String {
        let request_id = if self.request_id.is_empty() { fallback() } else { self.request_id.clone() };
        serde_json::json!({
            "event": "request_failed",
            "request_id": request_id,
            "tenant": self.tenant,
            "workspace": self.workspace,
            "endpoint": self.endpoint,
            "status": self.status,
            "kind": self.kind,
            "description": self.description,
            "cause": self.cause,
        })
        .to_string()
    }
}

impl Error {
    /// The RFC 6749 §5.2 / RFC 6750 §3 rendering (JSON, with the Bearer or Basic challenge).
    pub fn into_response(self) -> Response {
        let mut resp = Response::json_no_store(self.status, &self.to_json());
        if self.bearer_challenge && self.status == 401 && self.code == "invalid_request" {
            // No credentials at all: RFC 6750 section 3.1 says the challenge carries no error code.
            resp = resp.with_header("www-authenticate", "Bearer");
        } else if self.bearer_challenge {
            let challenge = format!("Bearer error=\"{}\", error_description=\"{}\"", self.code, self.description.replace('"', "'"));
            resp = resp.with_header("www-authenticate", challenge);
        } else if self.status == 401 && self.code == "invalid_client" {
            resp = resp.with_header("www-authenticate", "Basic realm=\"token\"");
        }
        resp.with_retry_after(&self).with_failure(&self)
    }

    /// The RFC 9457 rendering of the management API (`application/problem+json`).
    pub fn into_problem_response(self) -> Response {
        let mut resp = Response::new(self.status)
            .with_header("content-type", "application/problem+json")
            .with_header("cache-control", "no-store")
            .with_body(self.to_problem_json().to_string().into_bytes());
        if self.status == 401 {
            let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{}\"", self.description.replace(['"', '\\'], "'"));
            resp = resp.with_header("www-authenticate", challenge);
        }
        resp.with_retry_after(&self).with_failure(&self)
    }
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new(), failure: None, reusable_until_ms: None }
    }

    /// Marks the response reusable until `until_ms` (see [`Response::reusable_until_ms`]).
    pub fn reusable_until(mut self, until_ms: u64) -> Response {
        self.reusable_until_ms = Some(until_ms);
        self
    }

    /// `Retry-After` when the error reports a lock (every rendering of an error calls this).
    pub fn with_retry_after(self, e: &Error) -> Response {
        match e.retry_after() {
            Some(secs) => self.with_header("retry-after", secs.to_string()),
            None => self,
        }
    }

    /// Records the error this response reports, for the adapter's log.
    /// Attaches `e` for the failure log line, with the status this response really has (an error
    /// sent to the client in a redirect is logged as the redirect it was).
    pub fn with_failure(mut self, e: &Error) -> Response {
        self.failure = Some(Box::new(Failure { status: self.status, ..Failure::of(e) }));
        self
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status).with_header("content-type", "application/json").with_body(value.to_string().into_bytes())
    }

    /// A JSON response that must not be cached (tokens, userinfo, errors of the token endpoint).
    pub fn json_no_store(status: u16, value: &serde_json::Value) -> Response {
        Response::json(status, value).with_header("cache-control", "no-store").with_header("pragma", "no-cache")
    }

    pub fn html(status: u16, body: String) -> Response {
        Response::new(status)
            .with_header("content-type", "text/html; charset=utf-8")
            .with_header("cache-control", "no-store")
            .with_header("x-frame-options", "DENY")
            .with_header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
            .with_header("referrer-policy", "no-referrer")
            .with_body(body.into_bytes())
    }

    pub fn redirect(location: &str) -> Response {
        Response::new(303).with_header("location", location).with_header("cache-control", "no-store")
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Like [`Response::with_header`] but replaces every earlier value: two CSP headers, say,
    /// would both apply (their intersection), not the later one.
    pub fn replace_header(mut self, name: &str, value: impl Into<String>) -> Response {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(k, _)| *k != name);
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lazy_certificate_is_looked_for_only_when_asked_and_once() {
        let looks = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = looks.clone();
        let cert = ClientCertificate { sha256_fingerprint: "x5t".into(), ..ClientCertificate::default() };
        let slot = CertificateSlot::lazy(move || {
            counted.set(counted.get() + 1);
            Some(cert)
        });
        let shared = slot.clone();
        assert_eq!(looks.get(), 0, "not looked for before something asks");
        assert_eq!(shared.get().map(|c| c.sha256_fingerprint.as_str()), Some("x5t"));
        assert_eq!(slot.get().map(|c| c.sha256_fingerprint.as_str()), Some("x5t"), "a clone shares the slot");
        assert_eq!(looks.get(), 1, "looked for once");
        assert!(CertificateSlot::known(None).get().is_none());
        assert!(CertificateSlot::default().get().is_none());
    }

    #[test]
    fn splits_absolute_urls() {
        let r = Request::new("get", "https://a.example:8443/t/w/authorize?x=1&y=%20#frag", vec![], vec![]);
        assert_eq!(r.origin, "https://a.example:8443");
        assert_eq!(r.path, "/t/w/authorize");
        assert_eq!(r.query, "x=1&y=%20");
        assert_eq!(r.method, "GET");
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let e = Params::parse("a=1&b=2&a=3").unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.description.contains("'a'"));
    }

    #[test]
    fn decodes_plus_and_percent() {
        let p = Params::parse("scope=openid+profile&r=https%3A%2F%2Fx").unwrap();
        assert_eq!(p.get("scope"), Some("openid profile"));
        assert_eq!(p.get("r"), Some("https://x"));
        assert!(Params::parse("a=%zz").is_err());
    }

    #[test]
    fn malformed_percent_escapes_are_refused() {
        // A sign is not a hex digit (`u8::from_str_radix` would read `+1` as 1); short or
        // non-hex escapes are not passed through either.
        for bad in ["%+1", "%-1", "%1", "%", "a%", "%zz", "%1z", "%%41", "%\u{e9}1", "ok%2"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
        let e = Params::parse("a=%+1").unwrap_err();
        assert_eq!((e.code, e.description.as_str()), ("invalid_request", "malformed percent-encoding"));
        assert!(Params::parse("%-1=x").is_err());
    }

    #[test]
    fn percent_decoding_of_valid_input() {
        assert_eq!(percent_decode("").as_deref(), Some(""));
        assert_eq!(percent_decode("a+b%2B%2b%20c").as_deref(), Some("a b++ c"), "+ is a space, %2B a plus");
        assert_eq!(percent_decode("%C3%A9t%c3%a9%20%E2%82%AC%F0%9F%94%91").as_deref(), Some("\u{e9}t\u{e9} \u{20ac}\u{1f511}"));
        assert_eq!(percent_decode("d\u{e9}j\u{e0}").as_deref(), Some("d\u{e9}j\u{e0}"), "raw UTF-8 stays as it is");
        assert_eq!(percent_decode("%00%7F").as_deref(), Some("\u{0}\u{7f}"));
        // Well-formed escapes of bytes that are not UTF-8: refused, since the result is a String.
        for bad in ["%FF", "%C3", "%C3%28", "%E2%82", "%ED%A0%80", "%C0%AF"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters_only() {
        // The hand-written encoder this replaced, kept as the reference for the output.
        let reference = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
        let all: String = (0u8..0x80).map(char::from).chain("\u{e9}\u{20ac}\u{1f511}".chars()).collect();
        assert_eq!(percent_encode(&all), reference(&all));
        assert_eq!(percent_encode("a b+c/\u{e9}~"), "a%20b%2Bc%2F%C3%A9~");
        assert_eq!(percent_decode(&percent_encode(&all)).as_deref(), Some(all.as_str()));
        assert_eq!(form_encode([("state", "a b"), ("x", "&=")]), "state=a%20b&x=%26%3D");
    }
}

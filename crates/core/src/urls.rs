//! The one home of the rules for URLs the server stores or follows (redirect URIs, `jwks_uri`,
//! `mtls_issuer`, and every outbound fetch). Each is parsed with a WHATWG URL parser (the `url`
//! crate, which browsers' parsing matches), so "loopback" is decided on the host a browser or an
//! HTTP client would actually connect to: `http://127.0.0.1:80@evil.example/` is `evil.example`
//! with userinfo, and `http://127.0.0.1.nip.io/` is a domain name, not an address. Nothing here
//! compares URL strings by prefix.

use std::fmt;
use url::{Host, Url};

/// Longest URL we store or follow.
pub const MAX_URL_LEN: usize = 2000;

/// Why a URL was refused; the text goes into the `error_description` of the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    Malformed,
    TooLong,
    /// `user:password@` before the host: never needed, and a way to disguise the host.
    Userinfo,
    Fragment,
    /// Plain http to anything but a loopback host, or another scheme.
    NotHttps,
    /// A custom scheme that is not a reverse domain name (RFC 8252 §7.1), e.g. `javascript:`.
    BadScheme,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Malformed => "is not a valid absolute URL",
            UrlError::TooLong => "is longer than 2000 characters",
            UrlError::Userinfo => "must not contain a user name or password",
            UrlError::Fragment => "must not contain a fragment",
            UrlError::NotHttps => "must be https (plain http only to a loopback host)",
            UrlError::BadScheme => "must be https, loopback http, or a private-use scheme (reverse domain name)",
        })
    }
}

/// Parses a URL and applies what every stored URL shares: bounded length, no whitespace or control
/// characters (the WHATWG parser silently drops tabs and newlines, so they are refused first: what
/// we store must be what we parsed), no userinfo, no fragment.
fn parse(s: &str) -> Result<Url, UrlError> {
    if s.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Malformed);
    }
    let url = Url::parse(s).map_err(|_| UrlError::Malformed)?;
    if !url.username().is_empty() || url.password().is_some() || authority_has_at(s) {
        return Err(UrlError::Userinfo);
    }
    if url.fragment().is_some() {
        return Err(UrlError::Fragment);
    }
    Ok(url)
}

/// `http://@host/` parses with an empty user name; an `@` in the authority is refused all the same.
fn authority_has_at(s: &str) -> bool {
    let Some((_, rest)) = s.split_once("://") else { return false };
    rest.split(['/', '?', '#']).next().unwrap_or("").contains('@')
}

/// The host is this machine: 127.0.0.0/8, ::1, or the name `localhost`, as parsed.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => a.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A URL the server fetches or names as its own: https with a host, or plain http to loopback
/// (development and tests; RFC 8252 §8.3 reasoning).
pub fn web_url(s: &str) -> Result<Url, UrlError> {
    let url = parse(s)?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(UrlError::NotHttps),
    }
}

/// A redirect URI (and a post-logout redirect URI): a web URL as above, or a private-use URI
/// scheme of a native app, which RFC 8252 §7.1 asks to be a reverse domain name (`com.example.app:/cb`).
pub fn redirect_uri(s: &str) -> Result<Url, UrlError> {
    let url = parse(s)?;
    match url.scheme() {
        "https" | "http" => web_url(s),
        scheme if scheme.contains('.') => Ok(url),
        _ => Err(UrlError::BadScheme),
    }
}

/// A deployment's configured public origin (`https://auth.example.com`): a web URL with nothing
/// after the host and port. Returns it as the engine compares it (`Request::origin`'s form).
pub fn public_origin(s: &str) -> Result<String, UrlError> {
    let url = web_url(s.trim_end_matches('/'))?;
    if url.path() != "/" || url.query().is_some() {
        return Err(UrlError::Malformed);
    }
    Ok(origin_of(&url))
}

/// The origin (`scheme://host[:port]`) of a web URL, as the server's requests carry it.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether the deployment's allow-list (`EXTENSION_HOSTS`: comma-separated host names, `*.suffix`
/// for any subdomain of `suffix`) lets the server reach `url`'s host. No list, or an empty one:
/// every host the URL rules accept.
pub fn host_allowed(list: Option<&str>, url: &Url) -> bool {
    let Some(list) = list.map(str::trim).filter(|l| !l.is_empty()) else { return true };
    let Some(host) = url.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()) else { return false };
    list.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()).any(|p| {
        let p = p.to_ascii_lowercase();
        match p.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(suffix) && host[..host.len() - suffix.len()].ends_with('.'),
            None => host == p,
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_extension_host_list_matches_hosts_and_subdomains() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(host_allowed(None, &u("https://any.example/")));
        assert!(host_allowed(Some(" "), &u("https://any.example/")));
        assert!(host_allowed(Some("a.example, B.example"), &u("https://b.example:8443/x")));
        assert!(host_allowed(Some("*.bank.example"), &u("https://risk.bank.example/")));
        assert!(!host_allowed(Some("*.bank.example"), &u("https://bank.example/")));
        assert!(!host_allowed(Some("*.bank.example"), &u("https://evilbank.example/")));
        assert!(!host_allowed(Some("a.example"), &u("https://a.example.evil.example/")));
        assert!(host_allowed(Some("127.0.0.1"), &u("http://127.0.0.1:9999/cb")));
        assert!(host_allowed(Some("::1"), &u("http://[::1]:9999/cb")));
    }

    use super::*;

    #[test]
    fn redirect_uris_are_parsed_not_prefix_matched() {
        for ok in ["https://app.example/cb", "http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:9/cb", "com.example.app:/callback", "https://app.example/cb?x=1"] {
            assert!(redirect_uri(ok).is_ok(), "{ok}");
        }
        let refused = [
            ("http://127.0.0.1:80@evil.example/cb", UrlError::Userinfo),
            ("http://localhost:1@evil.example/cb", UrlError::Userinfo),
            ("https://user@app.example/cb", UrlError::Userinfo),
            ("https://@app.example/cb", UrlError::Userinfo),
            ("http://127.0.0.1.nip.io/cb", UrlError::NotHttps),
            ("http://localhost.evil.example/cb", UrlError::NotHttps),
            ("http://app.example/cb", UrlError::NotHttps),
            ("https://app.example/cb#x", UrlError::Fragment),
            ("https://app.example/cb#", UrlError::Fragment),
            ("javascript:alert(1)", UrlError::BadScheme),
            ("data:text/html,x", UrlError::BadScheme),
            ("https://", UrlError::Malformed),
            ("https://app.example/c\tb", UrlError::Malformed),
            ("/relative/cb", UrlError::Malformed),
        ];
        for (uri, why) in refused {
            assert_eq!(redirect_uri(uri).unwrap_err(), why, "{uri}");
        }
        assert_eq!(redirect_uri(&format!("https://app.example/{}", "a".repeat(2000))).unwrap_err(), UrlError::TooLong);
    }

    #[test]
    fn hosts_are_ascii_idn_hosts_come_in_their_xn_form() {
        // The ASCII-only IDNA back end (see Cargo.toml): no Unicode tables in the bundle.
        assert_eq!(redirect_uri("https://bücher.example/cb").unwrap_err(), UrlError::Malformed);
        assert!(redirect_uri("https://xn--bcher-kva.example/cb").is_ok());
    }

    #[test]
    fn loopback_is_the_parsed_host() {
        let lb = |s: &str| is_loopback(&Url::parse(s).unwrap());
        assert!(lb("http://127.0.0.1/"));
        assert!(lb("http://127.1.2.3:9/"));
        assert!(lb("http://LOCALHOST/"));
        assert!(lb("http://[::1]/"));
        // WHATWG reads a hex or short IPv4 as the address it denotes: still this machine.
        assert!(lb("http://0x7f.1/"));
        assert!(!lb("http://127.0.0.1.nip.io/"));
        assert!(!lb("http://localhost@evil.example/"));
        assert!(!lb("http://10.0.0.1/"));
    }

    #[test]
    fn web_urls_need_https_or_loopback() {
        assert!(web_url("https://rp.example/jwks").is_ok());
        assert!(web_url("http://127.0.0.1:4000/jwks").is_ok());
        assert_eq!(web_url("http://127.0.0.1.nip.io/jwks").unwrap_err(), UrlError::NotHttps);
        assert_eq!(web_url("http://localhost@evil.example/jwks").unwrap_err(), UrlError::Userinfo);
        assert_eq!(web_url("ftp://rp.example/jwks").unwrap_err(), UrlError::NotHttps);
        assert_eq!(web_url("com.example.app:/x").unwrap_err(), UrlError::NotHttps);
        assert_eq!(origin_of(&web_url("https://mtls.bank.example:8443/t/w").unwrap()), "https://mtls.bank.example:8443");
    }

    #[test]
    fn a_public_origin_is_scheme_host_and_port_only() {
        assert_eq!(public_origin("https://Auth.Example.com/").unwrap(), "https://auth.example.com");
        assert_eq!(public_origin("https://auth.example.com:443").unwrap(), "https://auth.example.com");
        assert_eq!(public_origin("http://localhost:8787").unwrap(), "http://localhost:8787");
        assert_eq!(public_origin("https://auth.example.com/t").unwrap_err(), UrlError::Malformed);
        assert_eq!(public_origin("http://auth.example.com").unwrap_err(), UrlError::NotHttps);
        assert_eq!(public_origin("auth.example.com").unwrap_err(), UrlError::Malformed);
    }
}

//! `allowed_outbound_hosts`: Spin refuses an outgoing request whose scheme, host and port no entry
//! of the component's list allows, with `HttpRequestDenied`. The host does the same, so a component
//! that needs a host its manifest does not grant fails here too.

use std::future::Future;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// One `scheme://host:port` entry; `*` is a wildcard in any part, `*.example.com` matches
/// subdomains, and a missing port means the scheme's default port.
#[derive(Debug, Clone)]
pub struct AllowedHost {
    scheme: String,
    host: String,
    port: Option<String>,
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Option<AllowedHost> {
        let (scheme, rest) = entry.split_once("://")?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.to_string())),
            None => (rest, None),
        };
        (!host.is_empty()).then(|| AllowedHost { scheme: scheme.to_ascii_lowercase(), host: host.to_ascii_lowercase(), port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme == "*" || self.scheme == scheme;
        let host_ok = self.host == "*" || self.host == host || self.host.strip_prefix("*.").is_some_and(|suffix| host.ends_with(&format!(".{suffix}")));
        let port_ok = match &self.port {
            Some(p) if p == "*" => true,
            Some(p) => p.parse::<u16>().ok() == Some(port),
            None => default_port(&self.scheme) == Some(port),
        };
        scheme_ok && host_ok && port_ok
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The wasi:http hooks of one request: sends what the list allows, denies the rest.
pub struct OutboundPolicy {
    pub allowed: std::sync::Arc<Vec<AllowedHost>>,
}

impl OutboundPolicy {
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let Some(host) = uri.host().map(str::to_ascii_lowercase) else { return false };
        let Some(port) = uri.port_u16().or_else(|| default_port(&scheme)) else { return false };
        self.allowed.iter().any(|a| a.allows(&scheme, &host, port))
    }
}

type SendResult = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if !self.allows(request.uri()) {
            eprintln!("edgeauth-spin-host: outbound request to {} denied by allowed_outbound_hosts", request.uri());
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> OutboundPolicy {
        OutboundPolicy { allowed: std::sync::Arc::new(entries.iter().map(|e| AllowedHost::parse(e).unwrap()).collect()) }
    }

    #[test]
    fn matches_like_spin() {
        let p = policy(&["https://*:443"]);
        assert!(p.allows(&"https://idp.example/jwks".parse().unwrap()));
        assert!(!p.allows(&"http://idp.example/jwks".parse().unwrap()));
        assert!(!p.allows(&"https://idp.example:8443/jwks".parse().unwrap()));
        let p = policy(&["http://127.0.0.1:*", "https://*.bank.example"]);
        assert!(p.allows(&"http://127.0.0.1:4000/x".parse().unwrap()));
        assert!(p.allows(&"https://a.bank.example/x".parse().unwrap()));
        assert!(!p.allows(&"https://bank.example.evil/x".parse().unwrap()));
        assert!(!p.allows(&"https://evilbank.example/x".parse().unwrap()));
        assert!(!policy(&[]).allows(&"https://a.example/".parse().unwrap()));
    }
}

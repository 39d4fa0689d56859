//! The Fermyon Spin adapter: translation only. Every protocol decision is in `edgeauth-core`.
//!
//! Stores (see `spin.toml`): key-value store `default` (tenant and workspace configuration), SQLite
//! database `default` (everything else, SSO sessions and throttle counters included: Spin has no
//! Durable Objects, and one SQLite database gives the same "a delete is seen everywhere at once"
//! guarantee, and atomic increments across instances). Variables:
//! `master_secret` (base64url, at least 32 bytes: seals signing keys at rest) and `root_secret`
//! (optional: enables the bootstrap management API).

use edgeauth_core::crypto::b64url_decode;
use edgeauth_core::jose::PureRustSigner;
use edgeauth_core::runtime::{self as rt, SqlRow, SqlValue, Statement, StoreError};
use edgeauth_core::store::counters::SqlCounterStore;
use edgeauth_core::store::sessions::SqlSessionStore;
use edgeauth_core::{OAuthError, Server};
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, Request, ResponseOutparam};
use spin_sdk::http_component;
use spin_sdk::{key_value, sqlite, variables};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a statement waits for another instance's write lock before it fails.
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 5000";

thread_local! {
    // Spin may reuse an instance for several requests; the engine's caches live as long as it does.
    static ENGINE: &'static Server = Box::leak(Box::new(Server::new()));
    static SIGNER: &'static PureRustSigner<WasiEntropy> = Box::leak(Box::new(PureRustSigner::new(WasiEntropy)));
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let mut core_req = translate_request(req);
    // Spin sees no TLS: a certificate comes only from a trusted front end's header, when the
    // `client_cert_header` variable names one (empty by default: never read).
    if let Some(h) = variables::get("client_cert_header").ok().filter(|h| !h.is_empty()) {
        core_req.client_certificate = edgeauth_core::http::CertificateSlot::known(edgeauth_core::mtls::from_trusted_header(&core_req.headers, &h));
    }
    let resp = match SpinRuntime::open() {
        Ok(runtime) => {
            let resp = ENGINE.with(|e| *e).handle(&runtime, core_req).await;
            // One JSON line per failed request on stderr (Spin's log); never in the response.
            if let Some(f) = &resp.failure {
                eprintln!("{}", f.log_line(|| edgeauth_core::crypto::random_id(&WasiEntropy)));
            }
            resp
        }
        Err(e) => {
            eprintln!("edgeauth: misconfigured component: {e}");
            OAuthError::server_error(e).into_response()
        }
    };
    send(out, resp);
}

/// Hands the host the whole response at once: the body (with its `content-length`) is written and
/// finished before the response is set, so the host has head and body when it starts writing and
/// sends them in one write. Setting the response first (the SDK's way) lets the host write the head
/// alone, then the body and, without a length, the chunked terminator: small writes after the
/// first wait for its ACK (Nagle), which the client delays by up to 40 ms (delayed ACK).
fn send(out: ResponseOutparam, resp: edgeauth_core::Response) {
    let mut fields: Vec<(String, Vec<u8>)> = resp.headers.into_iter().map(|(n, v)| (n, v.into_bytes())).collect();
    if !matches!(resp.status, 100..=199 | 204 | 304) {
        fields.push(("content-length".to_string(), resp.body.len().to_string().into_bytes()));
    }
    let response = match Fields::from_list(&fields) {
        Ok(headers) => OutgoingResponse::new(headers),
        Err(e) => {
            eprintln!("edgeauth: a response header was refused: {e:?}");
            let response = OutgoingResponse::new(Fields::new());
            let _ = response.set_status_code(500);
            ResponseOutparam::set(out, response);
            return;
        }
    };
    let _ = response.set_status_code(resp.status);
    let Ok(body) = response.body() else { return ResponseOutparam::set(out, response) };
    let Ok(stream) = body.write() else { return ResponseOutparam::set(out, response) };
    // As much as the host takes without waiting for a reader: all of it for any body this server
    // sends (wasmtime's wasi:http takes up to 1 MiB a write).
    let mut rest: &[u8] = &resp.body;
    while let Ok(permit @ 1..) = stream.check_write() {
        let n = rest.len().min(permit as usize);
        if n == 0 || stream.write(&rest[..n]).is_err() {
            break;
        }
        rest = &rest[n..];
    }
    if rest.is_empty() {
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
        ResponseOutparam::set(out, response);
        return;
    }
    // A host with a smaller buffer: the rest once the response is on its way.
    ResponseOutparam::set(out, response);
    for chunk in rest.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

fn translate_request(req: Request) -> edgeauth_core::Request {
    let headers: Vec<(String, String)> = req.headers().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string())).collect();
    let client_address = headers.iter().find(|(k, _)| k == "spin-client-addr").and_then(|(_, v)| client_address(v));
    // Spin hands the full URL in `spin-full-url`; the request URI may be path-only.
    let url = match headers.iter().find(|(k, _)| k == "spin-full-url") {
        Some((_, full)) => full.clone(),
        None if req.uri().starts_with('/') => {
            let host = headers.iter().find(|(k, _)| k == "host").map(|(_, h)| h.as_str()).unwrap_or("localhost");
            format!("http://{host}{}", req.uri())
        }
        None => req.uri().to_string(),
    };
    let method = req.method().to_string();
    let mut core_req = edgeauth_core::Request::new(&method, &url, headers, req.into_body());
    core_req.client_address = client_address;
    core_req
}

/// The client's address from `spin-client-addr`, which Spin sets (replacing any the client sent)
/// from the connection's peer as `IP:port` (`[IPv6]:port`); a bare address is taken too.
fn client_address(value: &str) -> Option<std::net::IpAddr> {
    let value = value.trim();
    value.parse::<std::net::SocketAddr>().map(|a| a.ip()).or_else(|_| value.parse()).ok()
}

fn store_err(e: impl std::fmt::Debug) -> StoreError {
    StoreError::new(format!("{e:?}"))
}

/// Spin reports SQLite's failures as text (`sqlite::Error::Io`): classified once, here.
fn sql_err(e: impl std::fmt::Debug) -> StoreError {
    StoreError::from_sqlite_message(format!("{e:?}"))
}

struct SpinRuntime {
    kv: Kv,
    sql: Sqlite,
    sessions: SqlSessionStore<Sqlite>,
    counters: SqlCounterStore<Sqlite>,
    fetch: SpinFetch,
    clock: WasiClock,
    entropy: WasiEntropy,
    signer: &'static PureRustSigner<WasiEntropy>,
    master_secret: Vec<u8>,
    /// Read on first use: only the bootstrap API asks.
    root_secret: std::cell::OnceCell<Option<String>>,
    public_origin: Option<String>,
    /// Read on first use: only a sign-in with extensions and a configuration write ask.
    extension_hosts: std::cell::OnceCell<Option<String>>,
}

impl SpinRuntime {
    fn open() -> Result<SpinRuntime, StoreError> {
        let master = variables::get("master_secret").map_err(|_| StoreError::new("the master_secret variable is not set"))?;
        let master_secret = b64url_decode(master.trim()).filter(|k| k.len() >= 32).ok_or_else(|| StoreError::new("master_secret must be base64url of at least 32 bytes"))?;
        // Required in production (see the README): without it the issuer follows the Host header.
        let public_origin = match variables::get("public_origin").ok().filter(|s| !s.is_empty()) {
            Some(o) => Some(edgeauth_core::urls::public_origin(&o).map_err(|e| StoreError::new(format!("the public_origin variable {e}")))?),
            None => None,
        };
        // Opened on the first statement: discovery and JWKS run none, and opening costs the host
        // a file open and, on the first statement, a parse of the whole schema.
        let sql = Sqlite(std::rc::Rc::new(std::cell::OnceCell::new()));
        Ok(SpinRuntime {
            kv: Kv(key_value::Store::open_default().map_err(store_err)?),
            sessions: SqlSessionStore { db: sql.clone() },
            counters: SqlCounterStore { db: sql.clone() },
            sql,
            fetch: SpinFetch,
            clock: WasiClock,
            entropy: WasiEntropy,
            signer: SIGNER.with(|s| *s),
            master_secret,
            root_secret: std::cell::OnceCell::new(),
            public_origin,
            extension_hosts: std::cell::OnceCell::new(),
        })
    }
}

impl rt::Runtime for SpinRuntime {
    type Kv = Kv;
    type Sql = Sqlite;
    type Sessions = SqlSessionStore<Sqlite>;
    type Fetch = SpinFetch;
    type Clock = WasiClock;
    type Entropy = WasiEntropy;
    type Signer = PureRustSigner<WasiEntropy>;
    type Counters = SqlCounterStore<Sqlite>;

    fn kv(&self) -> &Kv {
        &self.kv
    }
    fn sql(&self) -> &Sqlite {
        &self.sql
    }
    fn sessions(&self) -> &SqlSessionStore<Sqlite> {
        &self.sessions
    }
    fn fetch(&self) -> &SpinFetch {
        &self.fetch
    }
    fn clock(&self) -> &WasiClock {
        &self.clock
    }
    fn entropy(&self) -> &WasiEntropy {
        &self.entropy
    }
    fn signer(&self) -> &PureRustSigner<WasiEntropy> {
        self.signer
    }
    fn counters(&self) -> &SqlCounterStore<Sqlite> {
        &self.counters
    }
    fn master_secret(&self) -> &[u8] {
        &self.master_secret
    }
    fn root_secret(&self) -> Option<&str> {
        self.root_secret.get_or_init(|| variables::get("root_secret").ok().filter(|s| !s.is_empty())).as_deref()
    }
    fn public_origin(&self) -> Option<&str> {
        self.public_origin.as_deref()
    }
    fn extension_hosts(&self) -> Option<&str> {
        self.extension_hosts.get_or_init(|| variables::get("extension_hosts").ok().filter(|s| !s.trim().is_empty())).as_deref()
    }
    fn instance_per_request(&self) -> bool {
        true
    }
}

/// WASI wall clock (std's `SystemTime` is backed by it on wasip2).
struct WasiClock;

impl rt::Clock for WasiClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}

/// WASI random (getrandom's wasip2 backend).
#[derive(Clone, Copy)]
struct WasiEntropy;

impl rt::Entropy for WasiEntropy {
    fn fill(&self, buf: &mut [u8]) {
        getrandom::getrandom(buf).expect("wasi:random is available");
    }
}

struct Kv(key_value::Store);

impl rt::KvStore for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.0.get(key).map_err(store_err)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(store_err),
        }
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.0.set(key, value.as_bytes()).map_err(store_err)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).map_err(store_err)
    }
}

/// Spin SQLite carries the core's statements unchanged. Cloning shares the connection, so the
/// session store and the runtime use one; it is opened on the first statement.
#[derive(Clone)]
struct Sqlite(std::rc::Rc<std::cell::OnceCell<sqlite::Connection>>);

fn to_spin(v: &SqlValue) -> sqlite::Value {
    match v {
        SqlValue::Null => sqlite::Value::Null,
        SqlValue::Integer(i) => sqlite::Value::Integer(*i),
        SqlValue::Text(s) => sqlite::Value::Text(s.clone()),
    }
}

impl Sqlite {
    fn conn(&self) -> Result<&sqlite::Connection, StoreError> {
        if let Some(c) = self.0.get() {
            return Ok(c);
        }
        let c = sqlite::Connection::open_default().map_err(store_err)?;
        // Spin opens a new connection per instance and sets no busy timeout: without one, a
        // request that meets another instance's write lock would fail at once instead of waiting.
        c.execute(BUSY_TIMEOUT, &[]).map_err(sql_err)?;
        Ok(self.0.get_or_init(|| c))
    }

    fn run(&self, stmt: &Statement) -> Result<Vec<SqlRow>, StoreError> {
        let params: Vec<sqlite::Value> = stmt.params.iter().map(to_spin).collect();
        let result = self.conn()?.execute(stmt.sql, &params).map_err(sql_err)?;
        Ok(result
            .rows
            .iter()
            .map(|row| {
                SqlRow(
                    result
                        .columns
                        .iter()
                        .zip(&row.values)
                        .map(|(column, value)| {
                            let value = match value {
                                sqlite::Value::Null => SqlValue::Null,
                                sqlite::Value::Integer(i) => SqlValue::Integer(*i),
                                sqlite::Value::Real(f) => SqlValue::Integer(*f as i64),
                                sqlite::Value::Text(s) => SqlValue::Text(s.clone()),
                                sqlite::Value::Blob(b) => SqlValue::Text(String::from_utf8_lossy(b).into_owned()),
                            };
                            (column.clone(), value)
                        })
                        .collect(),
                )
            })
            .collect())
    }
}

impl rt::SqlDatabase for Sqlite {
    async fn query(&self, stmt: Statement) -> Result<Vec<SqlRow>, StoreError> {
        self.run(&stmt)
    }
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<SqlRow>>, StoreError> {
        // IMMEDIATE takes the write lock up front, so two instances' batches never interleave.
        let conn = self.conn()?;
        conn.execute("BEGIN IMMEDIATE", &[]).map_err(sql_err)?;
        let mut results = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            match self.run(stmt) {
                Ok(rows) => results.push(rows),
                Err(e) => {
                    let _ = conn.execute("ROLLBACK", &[]);
                    return Err(e);
                }
            }
        }
        conn.execute("COMMIT", &[]).map_err(|e| {
            let _ = conn.execute("ROLLBACK", &[]);
            sql_err(e)
        })?;
        Ok(results)
    }
}

/// Outbound requests through wasi:http's outgoing handler (hosts allowed by `allowed_outbound_hosts`),
/// under the engine's limits. The SDK's `send` sets no timeout, so this speaks wasi:http itself:
/// one monotonic-clock deadline covers connecting, the response head and every body read, the
/// body is read in chunks and abandoned past the size limit, and wasi:http never follows a
/// redirect. It blocks on the pollables: a Spin instance serves one request, so nothing else waits.
struct SpinFetch;

impl rt::HttpFetch for SpinFetch {
    async fn send(&self, req: rt::OutboundRequest<'_>, limits: rt::FetchLimits) -> Result<(u16, Vec<u8>), StoreError> {
        guarded_send(req, limits).map_err(|e| StoreError::new(format!("{} {}: {e}", req.method, req.url)))
    }
}

fn guarded_send(req: rt::OutboundRequest<'_>, limits: rt::FetchLimits) -> Result<(u16, Vec<u8>), String> {
    use wasi::clocks::monotonic_clock;
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
    use wasi::io::poll::poll;
    use wasi::io::streams::StreamError;

    let url = url::Url::parse(req.url).map_err(|e| e.to_string())?;
    let timeout_ns = u64::from(limits.timeout_ms) * 1_000_000;
    let deadline = monotonic_clock::subscribe_duration(timeout_ns);
    let timed_out = || "timed out".to_string();

    let mut list: Vec<(String, Vec<u8>)> = req.headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
    if let Some(b) = req.body {
        // A length rather than chunked framing: some token endpoints refuse a chunked body.
        list.push(("content-length".to_string(), b.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&list).map_err(|e| format!("{e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let scheme = if url.scheme() == "https" { Scheme::Https } else { Scheme::Http };
    let authority = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err("no host".into()),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let method = if req.method == "POST" { Method::Post } else { Method::Get };
    let set = request.set_method(&method).and(request.set_scheme(Some(&scheme))).and(request.set_authority(Some(&authority))).and(request.set_path_with_query(Some(&path)));
    set.map_err(|()| "the URL cannot be sent".to_string())?;
    let options = RequestOptions::new();
    // The host's own timeouts, so the connection is dropped too; the deadline below bounds the sum.
    let _ = options.set_connect_timeout(Some(timeout_ns));
    let _ = options.set_first_byte_timeout(Some(timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(timeout_ns));
    let body = request.body().map_err(|()| "no request body".to_string())?;
    let pending = outgoing_handler::handle(request, Some(options)).map_err(|e| format!("{e:?}"))?;
    if let Some(bytes) = req.body {
        // Small bodies (a token request): written whole, in the chunk sizes the stream allows.
        let stream = body.write().map_err(|()| "no request body stream".to_string())?;
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|e| format!("{e:?}"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;

    let response = loop {
        if let Some(r) = pending.get() {
            break r.map_err(|()| "response already taken".to_string())?.map_err(|e| format!("{e:?}"))?;
        }
        poll(&[&pending.subscribe(), &deadline]);
        if deadline.ready() && pending.get().is_none() {
            return Err(timed_out());
        }
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| "no response body".to_string())?;
    let mut out = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| "no response body stream".to_string())?;
        loop {
            match stream.read(64 * 1024) {
                Ok(chunk) if chunk.is_empty() => {
                    poll(&[&stream.subscribe(), &deadline]);
                    if deadline.ready() {
                        return Err(timed_out());
                    }
                }
                Ok(chunk) => {
                    out.extend_from_slice(&chunk);
                    if out.len() > limits.max_bytes {
                        return Err(format!("the body is larger than {} bytes", limits.max_bytes));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(e) => return Err(format!("{e:?}")),
            }
        }
    }
    Ok((status, out))
}

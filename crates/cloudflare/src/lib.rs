//! The Cloudflare Workers adapter: translation only. Every protocol decision is in `edgeauth-core`.
//!
//! Bindings (see `wrangler.toml`): KV `CONFIG` (tenant and workspace configuration), D1 `DB`
//! (clients, users, keys, grants, codes, refresh tokens, consents), the Durable Object namespace
//! `SESSIONS` (class [`SsoSessionObject`]: one object per SSO session, and one per throttle
//! counter, named apart; see [`DurableCounters`]), and the secrets
//! `MASTER_SECRET` (base64url, at least 32 bytes: seals signing keys at rest) and `ROOT_SECRET`
//! (optional: enables the bootstrap management API).

mod executor;
mod webcrypto;

use edgeauth_core::crypto::b64url_decode;
use edgeauth_core::runtime::{self as rt, Counter, Lifetime, SqlRow, SqlValue, SsoSession, Statement, StoreError};
use edgeauth_core::http::CertificateSlot;
use edgeauth_core::{OAuthError, Server};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use webcrypto::WebCryptoSigner;
use worker::{durable_object, Env, Method, ObjectNamespace, Request, RequestInit, Response, State};

/// Bodies larger than this are refused before they are read (the entry, `js/entry.mjs`, does not
/// read them); the engine refuses anything over its own 64 KB limit with an OAuth error, so this
/// only bounds what is buffered.
const MAX_READ_BODY: usize = 1024 * 1024;

thread_local! {
    // One engine and one signer per isolate: their caches (configuration, decrypted keys, parsed
    // private keys) outlive a request. An isolate runs one thread, so leaking gives a `'static`.
    static ENGINE: &'static Server = Box::leak(Box::new(Server::new()));
    static SIGNER: &'static WebCryptoSigner<JsEntropy> = Box::leak(Box::new(WebCryptoSigner::new(JsEntropy)));
    // The runtime built from `env` (secrets decoded, bindings looked up), kept while requests bring
    // the same `env` object: workerd hands every request of an isolate the same one, and its
    // values do not change while the isolate lives (a new secret or binding is a new deployment).
    static RUNTIME: RefCell<Option<(JsValue, Rc<WorkerRuntime>)>> = const { RefCell::new(None) };
}

/// The runtime of `env`: the isolate's kept one when `env` is the object it was built from (one
/// `===`), else built and kept. A misconfigured `env` is not kept: every request reports it.
fn runtime_of(env: &Env) -> Result<Rc<WorkerRuntime>, StoreError> {
    let env_value: &JsValue = env.as_ref();
    if let Some(rt) = RUNTIME.with(|r| r.borrow().as_ref().filter(|(kept, _)| kept == env_value).map(|(_, rt)| rt.clone())) {
        return Ok(rt);
    }
    let rt = Rc::new(WorkerRuntime::from_env(env)?);
    RUNTIME.with(|r| *r.borrow_mut() = Some((env_value.clone(), rt.clone())));
    Ok(rt)
}

/// The fetch handler, called by the entry (`js/entry.mjs`) with the request, `env` and the body the
/// entry read (an ArrayBuffer, or null when there was none to read or it could not be read).
///
/// Returns the Response itself when the engine finished without waiting on anything (discovery,
/// JWKS and other answers from the isolate's caches), else a Promise of it (see [`executor`]).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, body: JsValue) -> JsValue {
    executor::run(async move { JsValue::from(respond(req, env, body).await) })
}

async fn respond(req: web_sys::Request, env: Env, body: JsValue) -> web_sys::Response {
    let response = match translate_request(&req, &body) {
        Ok(mut core_req) => match runtime_of(&env) {
            Ok(runtime) => {
                core_req.client_certificate = match runtime.client_cert_header.as_deref() {
                    // A trusted front end's header as well (a rare set-up): both looked at now.
                    Some(header) => CertificateSlot::known(tls_client_auth(&req).or_else(|| edgeauth_core::mtls::from_trusted_header(&core_req.headers, header))),
                    // Only when the engine asks (`request.cf` is built for each request that reads it).
                    None => {
                        let req = Clone::clone(&req);
                        CertificateSlot::lazy(move || tls_client_auth(&req))
                    }
                };
                // Cloudflare's edge sets CF-Connecting-IP on every request, replacing any the client
                // sent (miniflare sets it from the socket when the request has none).
                core_req.client_address = core_req.headers.iter().find(|(k, _)| k == "cf-connecting-ip").and_then(|(_, v)| v.trim().parse().ok());
                let response = ENGINE.with(|e| *e).handle(&*runtime, core_req).await;
                // One JSON line per failed request; the cause it may carry is never in the response.
                if let Some(f) = &response.failure {
                    worker::console_log!("{}", f.log_line(|| edgeauth_core::crypto::random_id(&JsEntropy)));
                }
                response
            }
            Err(e) => {
                worker::console_error!("edgeauth: misconfigured worker: {e}");
                OAuthError::server_error(e).into_response()
            }
        },
        Err(resp) => resp,
    };
    translate_response(response)
}

/// The TLS client certificate Cloudflare's edge saw (API Shield mTLS, `cf.tlsClientAuth`).
fn tls_client_auth(req: &web_sys::Request) -> Option<edgeauth_core::http::ClientCertificate> {
    // The properties are read from the JS object, not through `worker::TlsClientAuth`, whose getters
    // panic (and the request hangs) when a field is missing or not a string.
    let get = |obj: &JsValue, key: &str| js_sys::Reflect::get(obj, &JsValue::from_str(key)).ok().filter(|v| v.is_object());
    let t = get(req.as_ref(), "cf").and_then(|cf| get(&cf, "tlsClientAuth"))?;
    let field = |name: &str| js_sys::Reflect::get(&t, &JsValue::from_str(name)).ok().and_then(|v| v.as_string());
    edgeauth_core::mtls::from_cloudflare_tls_client_auth(field)
}

/// A string variable or secret of `env` (both are plain strings on the env object).
fn env_string(env: &Env, name: &str) -> Option<String> {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?.as_string()
}

/// A binding of `env`, unchecked: `wrangler.toml` declares its type, and a missing one is an error.
fn env_binding<T: JsCast>(env: &Env, name: &str) -> Result<T, StoreError> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| v.is_object());
    value.map(JsCast::unchecked_into).ok_or_else(|| StoreError::new(format!("the {name} binding is missing")))
}

fn translate_request(req: &web_sys::Request, body: &JsValue) -> Result<edgeauth_core::Request, edgeauth_core::Response> {
    let head = boundary::request_head(req);
    let mut lines = head.split('\n');
    let (method, url) = (lines.next().unwrap_or_default(), lines.next().unwrap_or_default());
    let mut headers = Vec::new();
    while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
        // workerd gives the names lower-cased; `Request::new` makes sure of it in place.
        headers.push((name.to_string(), value.to_string()));
    }
    let declared = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_READ_BODY) {
        return Err(OAuthError::invalid_request("the request body is too large").with_status(413).into_response());
    }
    let body = match method {
        "GET" | "HEAD" | "OPTIONS" => Vec::new(),
        _ if body.is_object() => js_sys::Uint8Array::new(body).to_vec(),
        _ => return Err(OAuthError::invalid_request("the request body could not be read").into_response()),
    };
    if body.len() > MAX_READ_BODY {
        return Err(OAuthError::invalid_request("the request body is too large").with_status(413).into_response());
    }
    Ok(edgeauth_core::Request::new(method, url, headers, body))
}

fn translate_response(resp: edgeauth_core::Response) -> web_sys::Response {
    // The head, then the body, in one buffer (see `newResponse` in `js/glue.js`).
    let mut bytes = Vec::with_capacity(resp.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>() + resp.body.len());
    for (name, value) in &resp.headers {
        // A newline would split the head; the engine never puts one in a header.
        if name.contains('\n') || value.contains('\n') {
            continue;
        }
        if !bytes.is_empty() {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(value.as_bytes());
    }
    let head_length = bytes.len() as u32;
    bytes.extend_from_slice(&resp.body);
    // The engine's mark that this answer may be reused (discovery, JWKS): the entry keeps it for
    // the same GET until then (see `js/entry.mjs`); 0 when it may not.
    let reusable_until = resp.reusable_until_ms.map_or(0.0, |ms| ms as f64);
    boundary::new_response(resp.status, bytes, head_length, reusable_until)
}

mod boundary {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/glue.js")]
    extern "C" {
        #[wasm_bindgen(js_name = requestHead)]
        pub fn request_head(request: &web_sys::Request) -> String;
        /// `[promise, resolve]`: a Promise and the function that resolves it.
        pub fn deferred() -> js_sys::Array;
        #[wasm_bindgen(js_name = setSettler)]
        pub fn set_settler(settler: &JsValue);
        /// Calls the settler with `id` when `promise` settles (see `executor::settled`).
        pub fn settle(promise: &js_sys::Promise, id: u32);
        #[wasm_bindgen(js_name = newResponse)]
        pub fn new_response(status: u16, head_and_body: Vec<u8>, head_length: u32, reusable_until_ms: f64) -> web_sys::Response;
        #[wasm_bindgen(js_name = d1Query, catch)]
        pub fn d1_query(db: &JsValue, sql: &str, params: &js_sys::Array) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_name = d1Batch, catch)]
        pub fn d1_batch(db: &JsValue, statements: &js_sys::Array) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_name = d1ReadReplica, catch)]
        pub fn d1_read_replica(db: &JsValue, statements: &js_sys::Array) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_name = guardedFetch, catch)]
        pub fn guarded_fetch(method: &str, url: &str, headers_json: &str, body: JsValue, timeout_ms: u32, max_bytes: u32) -> Result<js_sys::Promise, JsValue>;
    }
}

fn store_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The runtime
// ---------------------------------------------------------------------------------------------

struct WorkerRuntime {
    kv: Kv,
    sql: D1,
    sessions: DurableSessions,
    counters: DurableCounters,
    fetch: WorkerFetch,
    clock: JsClock,
    entropy: JsEntropy,
    signer: &'static WebCryptoSigner<JsEntropy>,
    master_secret: Vec<u8>,
    root_secret: Option<String>,
    public_origin: Option<String>,
    extension_hosts: Option<String>,
    /// The `send_email` binding `EMAIL` and the `EMAIL_FROM` address, when both are configured.
    email: Option<(worker::SendEmail, String)>,
    /// `CLIENT_CERT_HEADER`: a trusted front end's header with the client certificate, if set.
    client_cert_header: Option<String>,
}

impl WorkerRuntime {
    fn from_env(env: &Env) -> Result<WorkerRuntime, StoreError> {
        let master = env_string(env, "MASTER_SECRET").ok_or_else(|| StoreError::new("the MASTER_SECRET secret is not set"))?;
        let master_secret = b64url_decode(master.trim()).filter(|k| k.len() >= 32).ok_or_else(|| StoreError::new("MASTER_SECRET must be base64url of at least 32 bytes"))?;
        // An empty ROOT_SECRET switches the bootstrap API off, as an absent one does.
        let root_secret = env_string(env, "ROOT_SECRET").filter(|s| !s.is_empty());
        // Required in production (see the README): without it the issuer follows the Host header.
        let public_origin = match env_string(env, "PUBLIC_ORIGIN").filter(|s| !s.is_empty()) {
            Some(o) => Some(edgeauth_core::urls::public_origin(&o).map_err(|e| StoreError::new(format!("PUBLIC_ORIGIN {e}")))?),
            None => None,
        };
        Ok(WorkerRuntime {
            kv: Kv(worker::KvStore::from_this(env, "CONFIG").map_err(store_err)?),
            sql: D1(env_binding::<JsValue>(env, "DB")?),
            sessions: DurableSessions(env_binding::<ObjectNamespace>(env, "SESSIONS")?),
            counters: DurableCounters(env_binding::<ObjectNamespace>(env, "SESSIONS")?),
            fetch: WorkerFetch,
            clock: JsClock,
            entropy: JsEntropy,
            signer: SIGNER.with(|s| *s),
            master_secret,
            root_secret,
            public_origin,
            extension_hosts: env_string(env, "EXTENSION_HOSTS").filter(|s| !s.trim().is_empty()),
            email: match (env.send_email("EMAIL"), env_string(env, "EMAIL_FROM").filter(|s| !s.trim().is_empty())) {
                (Ok(binding), Some(from)) => Some((binding, from)),
                _ => None,
            },
            client_cert_header: env_string(env, "CLIENT_CERT_HEADER").filter(|h| !h.is_empty()),
        })
    }
}

impl rt::Runtime for WorkerRuntime {
    type Kv = Kv;
    type Sql = D1;
    type Sessions = DurableSessions;
    type Fetch = WorkerFetch;
    type Clock = JsClock;
    type Entropy = JsEntropy;
    type Signer = WebCryptoSigner<JsEntropy>;
    type Counters = DurableCounters;

    fn kv(&self) -> &Kv {
        &self.kv
    }
    fn sql(&self) -> &D1 {
        &self.sql
    }
    fn sessions(&self) -> &DurableSessions {
        &self.sessions
    }
    fn fetch(&self) -> &WorkerFetch {
        &self.fetch
    }
    fn clock(&self) -> &JsClock {
        &self.clock
    }
    fn entropy(&self) -> &JsEntropy {
        &self.entropy
    }
    fn signer(&self) -> &WebCryptoSigner<JsEntropy> {
        self.signer
    }
    fn counters(&self) -> &DurableCounters {
        &self.counters
    }
    fn master_secret(&self) -> &[u8] {
        &self.master_secret
    }
    fn root_secret(&self) -> Option<&str> {
        self.root_secret.as_deref()
    }
    fn public_origin(&self) -> Option<&str> {
        self.public_origin.as_deref()
    }
    fn extension_hosts(&self) -> Option<&str> {
        self.extension_hosts.as_deref()
    }
    async fn send_email(&self, to: &str, subject: &str, text: &str) -> Result<bool, StoreError> {
        let Some((binding, from)) = &self.email else { return Ok(false) };
        let message = worker::SendEmailBuilder::builder(from, to, subject).text(text).build();
        binding.send_with_builder(&message).await.map_err(|e| StoreError::new(format!("send_email: {e:?}")))?;
        Ok(true)
    }
}

/// `SystemTime::now()` panics on wasm32-unknown-unknown; the JS clock is the source.
struct JsClock;

impl rt::Clock for JsClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// `crypto.getRandomValues` through getrandom's `js` backend.
#[derive(Clone, Copy)]
struct JsEntropy;

impl rt::Entropy for JsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        getrandom::getrandom(buf).expect("crypto.getRandomValues is available in workerd");
    }
}

struct Kv(worker::KvStore);

impl rt::KvStore for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get(key).text().await.map_err(store_err)
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.0.put(key, value).map_err(store_err)?.execute().await.map_err(store_err)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await.map_err(store_err)
    }
}

/// D1 carries the core's statements unchanged; values cross as JS numbers, strings and null, rows
/// come back as JSON (see `js/glue.js`).
struct D1(JsValue);

fn params(stmt: &Statement) -> js_sys::Array {
    stmt.params
        .iter()
        .map(|v| match v {
            SqlValue::Null => JsValue::NULL,
            // Every integer the engine binds (timestamps, counters, flags) is below 2^53.
            SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
            SqlValue::Text(s) => JsValue::from_str(s),
        })
        .collect()
}

fn rows(objects: Vec<serde_json::Map<String, Value>>) -> Vec<SqlRow> {
    objects
        .into_iter()
        .map(|row| {
            SqlRow(
                row.into_iter()
                    .map(|(column, value)| {
                        let value = match value {
                            Value::Null => SqlValue::Null,
                            Value::String(s) => SqlValue::Text(s),
                            Value::Number(n) => match n.as_i64() {
                                Some(i) => SqlValue::Integer(i),
                                None => SqlValue::Integer(n.as_f64().unwrap_or(0.0) as i64),
                            },
                            other => SqlValue::Text(other.to_string()),
                        };
                        (column, value)
                    })
                    .collect(),
            )
        })
        .collect()
}

async fn json_of<T: serde::de::DeserializeOwned>(promise: js_sys::Promise) -> Result<T, StoreError> {
    let text = crate::executor::settled(&promise).await.map_err(|e| StoreError::from_sqlite_message(format!("D1: {}", js_error_text(&e))))?;
    serde_json::from_str(&text.as_string().unwrap_or_default()).map_err(store_err)
}

fn js_error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

impl rt::SqlDatabase for D1 {
    async fn query(&self, stmt: Statement) -> Result<Vec<SqlRow>, StoreError> {
        let promise = boundary::d1_query(&self.0, stmt.sql, &params(&stmt)).map_err(|e| StoreError::from_sqlite_message(js_error_text(&e)))?;
        Ok(rows(json_of(promise).await?))
    }
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<SqlRow>>, StoreError> {
        // D1's batch runs as one implicit transaction: a failing statement rolls back all of them.
        let promise = boundary::d1_batch(&self.0, &statement_list(&stmts)).map_err(|e| StoreError::from_sqlite_message(js_error_text(&e)))?;
        let results: Vec<Vec<serde_json::Map<String, Value>>> = json_of(promise).await?;
        Ok(results.into_iter().map(rows).collect())
    }
    async fn read_replica(&self, stmts: &[Statement]) -> Option<Result<Vec<Vec<SqlRow>>, StoreError>> {
        // A D1 session (`withSession`) may be served by a read replica near this isolate; on a
        // database without replication it is served by the primary, and the answer is the same.
        let read = async {
            let promise = boundary::d1_read_replica(&self.0, &statement_list(stmts)).map_err(|e| StoreError::from_sqlite_message(js_error_text(&e)))?;
            let results: Vec<Vec<serde_json::Map<String, Value>>> = json_of(promise).await?;
            Ok(results.into_iter().map(rows).collect())
        };
        Some(read.await)
    }
}

/// `[[sql, params], ...]` for `js/glue.js`.
fn statement_list(stmts: &[Statement]) -> js_sys::Array {
    stmts.iter().map(|s| JsValue::from(js_sys::Array::of2(&JsValue::from_str(s.sql), &params(s)))).collect()
}

/// Outbound requests with `fetch`, under the engine's limits (the JS side, `guardedFetch` in
/// `js/glue.js`, keeps them while it reads).
struct WorkerFetch;

impl rt::HttpFetch for WorkerFetch {
    async fn send(&self, req: rt::OutboundRequest<'_>, limits: rt::FetchLimits) -> Result<(u16, Vec<u8>), StoreError> {
        let max = u32::try_from(limits.max_bytes).unwrap_or(u32::MAX);
        let headers: serde_json::Map<String, serde_json::Value> = req.headers.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        let headers = serde_json::Value::Object(headers).to_string();
        let body = req.body.map_or(JsValue::UNDEFINED, |b| js_sys::Uint8Array::from(b).into());
        let promise = boundary::guarded_fetch(req.method, req.url, &headers, body, limits.timeout_ms, max).map_err(|e| StoreError::new(js_error_text(&e)))?;
        let pair: js_sys::Array = crate::executor::settled(&promise).await.map_err(|e| StoreError::new(js_error_text(&e)))?.unchecked_into();
        let status = pair.get(0).as_f64().unwrap_or(0.0) as u16;
        let body = js_sys::Uint8Array::new(&pair.get(1)).to_vec();
        Ok((status, body))
    }
}

// ---------------------------------------------------------------------------------------------
// SSO sessions: one Durable Object per session
// ---------------------------------------------------------------------------------------------

/// The stub side: each session id names its own object, so a logout (delete) is seen by every
/// edge location at once, which KV could not promise.
struct DurableSessions(ObjectNamespace);

impl DurableSessions {
    async fn call(&self, sid: &str, method: Method, body: Option<String>) -> Result<Response, StoreError> {
        let stub = self.0.id_from_name(sid).and_then(|id| id.get_stub()).map_err(store_err)?;
        let mut init = RequestInit::new();
        init.with_method(method).with_body(body.map(|b| JsValue::from_str(&b)));
        let req = Request::new_with_init("https://session.internal/", &init).map_err(store_err)?;
        let resp = stub.fetch_with_request(req).await.map_err(store_err)?;
        match resp.status_code() {
            200 | 204 | 404 => Ok(resp),
            s => Err(StoreError::new(format!("session object answered {s}"))),
        }
    }
}

impl rt::SessionStore for DurableSessions {
    async fn create(&self, session: &SsoSession) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).map_err(store_err)?;
        self.call(&session.sid, Method::Put, Some(json)).await.map(|_| ())
    }
    async fn get(&self, sid: &str) -> Result<Option<SsoSession>, StoreError> {
        let mut resp = self.call(sid, Method::Get, None).await?;
        if resp.status_code() == 404 {
            return Ok(None);
        }
        let text = resp.text().await.map_err(store_err)?;
        serde_json::from_str(&text).map(Some).map_err(store_err)
    }
    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        self.call(sid, Method::Delete, None).await.map(|_| ())
    }
}

// ---------------------------------------------------------------------------------------------
// Throttle counters: one Durable Object per counter, of the session class
// ---------------------------------------------------------------------------------------------

/// The stub side of the counters. Each counter key names its own object of the session class
/// (already bound and migrated, so no new class or migration): keys start with `throttle:` or
/// `form:`, which no session id (base64url) can, and counter calls go to the path
/// [`COUNTER_PATH`]. An object is single-threaded, so its read-modify-write is atomic.
struct DurableCounters(ObjectNamespace);

const COUNTER_PATH: &str = "/counter";

/// What an increment sends the object: the caller's clock and the lifetime table to apply.
#[derive(serde::Serialize, serde::Deserialize)]
struct Increment {
    now: i64,
    lifetime: Vec<(i64, i64)>,
}

impl DurableCounters {
    async fn call(&self, key: &str, method: Method, query: &str, body: Option<String>) -> Result<Option<Counter>, StoreError> {
        let stub = self.0.id_from_name(key).and_then(|id| id.get_stub()).map_err(store_err)?;
        let mut init = RequestInit::new();
        init.with_method(method).with_body(body.map(|b| JsValue::from_str(&b)));
        let req = Request::new_with_init(&format!("https://counter.internal{COUNTER_PATH}{query}"), &init).map_err(store_err)?;
        let mut resp = stub.fetch_with_request(req).await.map_err(store_err)?;
        match resp.status_code() {
            200 => serde_json::from_str(&resp.text().await.map_err(store_err)?).map(Some).map_err(store_err),
            204 | 404 => Ok(None),
            s => Err(StoreError::new(format!("counter object answered {s}"))),
        }
    }
}

impl rt::CounterStore for DurableCounters {
    async fn get(&self, key: &str, now: i64) -> Result<Option<Counter>, StoreError> {
        self.call(key, Method::Get, &format!("?now={now}"), None).await
    }
    async fn increment(&self, key: &str, now: i64, lifetime: Lifetime<'_>) -> Result<Counter, StoreError> {
        let body = serde_json::to_string(&Increment { now, lifetime: lifetime.0.to_vec() }).map_err(store_err)?;
        self.call(key, Method::Post, "", Some(body)).await?.ok_or_else(|| StoreError::new("the counter object returned no counter"))
    }
    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.call(key, Method::Delete, "", None).await.map(|_| ())
    }
    fn reads_are_local(&self) -> bool {
        false
    }
}

/// The object side: holds one session, or one counter (requests to [`COUNTER_PATH`]), answers
/// PUT / GET / DELETE (counters: POST increments), and deletes itself with an alarm when the
/// session or the counter expires.
#[durable_object]
pub struct SsoSessionObject {
    state: State,
}

const SESSION_KEY: &str = "session";
const COUNTER_KEY: &str = "counter";

impl SsoSessionObject {
    /// One counter. Storage calls close the object's input gate, so no other request runs between
    /// the read and the write of an increment: two increments never lose one.
    async fn counter(&self, mut req: Request) -> worker::Result<Response> {
        let storage = self.state.storage();
        let live = |stored: Option<Counter>, now: i64| stored.filter(|c| c.expires_at > now);
        match req.method() {
            Method::Get => {
                let now = req.url()?.query_pairs().find(|(k, _)| k == "now").and_then(|(_, v)| v.parse::<i64>().ok()).unwrap_or(0);
                match live(storage.get(COUNTER_KEY).await?, now) {
                    Some(c) => Response::from_json(&c),
                    None => Response::error("no counter", 404),
                }
            }
            Method::Post => {
                let Ok(inc) = serde_json::from_str::<Increment>(&req.text().await?) else {
                    return Response::error("not an increment", 400);
                };
                let count = live(storage.get(COUNTER_KEY).await?, inc.now).map_or(0, |c| c.count) + 1;
                let c = Counter { count, last_at: inc.now, expires_at: inc.now + Lifetime(&inc.lifetime).secs(count) };
                storage.put(COUNTER_KEY, c).await?;
                storage.set_alarm(c.expires_at.saturating_mul(1000)).await?;
                Response::from_json(&c)
            }
            Method::Delete => {
                storage.delete_all().await?;
                let _ = storage.delete_alarm().await;
                Response::empty().map(|r| r.with_status(204))
            }
            _ => Response::error("method not allowed", 405),
        }
    }
}

impl worker::DurableObject for SsoSessionObject {
    fn new(state: State, _env: Env) -> Self {
        SsoSessionObject { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if req.path() == COUNTER_PATH {
            return self.counter(req).await;
        }
        let storage = self.state.storage();
        match req.method() {
            Method::Put => {
                let text = req.text().await?;
                let session: SsoSession = match serde_json::from_str(&text) {
                    Ok(s) => s,
                    Err(_) => return Response::error("not a session", 400),
                };
                storage.put(SESSION_KEY, &text).await?;
                storage.set_alarm(session.expires_at.saturating_mul(1000)).await?;
                Response::empty().map(|r| r.with_status(204))
            }
            Method::Get => {
                let stored: Option<String> = storage.get(SESSION_KEY).await?;
                let live = stored.filter(|text| {
                    serde_json::from_str::<SsoSession>(text).is_ok_and(|s| s.expires_at * 1000 > js_sys::Date::now() as i64)
                });
                match live {
                    Some(text) => Response::ok(text),
                    None => Response::error("no session", 404),
                }
            }
            Method::Delete => {
                storage.delete_all().await?;
                let _ = storage.delete_alarm().await;
                Response::empty().map(|r| r.with_status(204))
            }
            _ => Response::error("method not allowed", 405),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

//! The seams between the protocol engine and a runtime.
//!
//! Each runtime (Cloudflare Workers, Spin, the native test kit) implements these small traits and
//! hands a [`Runtime`] to [`crate::Server::handle`]. The engine never names a runtime crate.
//!
//! Futures here are not `Send`: Workers and Spin run one request per isolate/instance thread, and
//! requiring `Send` would force every adapter to wrap JS handles it cannot share anyway.
#![allow(async_fn_in_trait)]


/// A storage or platform failure. It renders as a 500 to the user (never with its detail) and is
/// logged with its message. Adapters classify what their platform reports into these kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A primary or unique key collided: the row already exists (callers that insert-if-absent
    /// treat this as "already there", not as a failure).
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// Anything else the platform reported.
    #[error("storage error: {0}")]
    Failed(String),
}

impl StoreError {
    pub fn new(msg: impl Into<String>) -> Self {
        StoreError::Failed(msg.into())
    }

    /// The platform's own message.
    pub fn message(&self) -> &str {
        match self {
            StoreError::UniqueViolation(m) | StoreError::Failed(m) => m,
        }
    }

    /// For platforms that report SQLite's failures only as text (D1's `Error.message`, Spin's
    /// `sqlite::Error::Io`): the adapter classifies the message here, once, at its boundary.
    /// Natively, rusqlite's extended result codes are used instead.
    pub fn from_sqlite_message(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        if msg.contains("UNIQUE constraint failed") || msg.contains("SQLITE_CONSTRAINT_UNIQUE") || msg.contains("SQLITE_CONSTRAINT_PRIMARYKEY") {
            StoreError::UniqueViolation(msg)
        } else {
            StoreError::Failed(msg)
        }
    }
}

/// Wall-clock time. Workers take it from `Date.now()` (SystemTime panics on wasm32-unknown-unknown).
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    fn now_secs(&self) -> i64 {
        (self.now_ms() / 1000) as i64
    }
}

/// A cryptographically secure random source (getrandom's JS backend on Workers, WASI random on Spin).
pub trait Entropy {
    fn fill(&self, buf: &mut [u8]);
}

/// Tenant and workspace configuration: eventually consistent, read-mostly (Workers KV, Spin key-value).
/// Never used for codes, refresh tokens or replay caches.
pub trait KvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// A value bound to, or read from, a SQLite-family statement. Blobs are stored as base64 text so
/// that D1's JS bridge, Spin SQLite and rusqlite all carry them the same way.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Text(String),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(SqlValue::Null)
    }
}

/// One result row: column names with their values, in the statement's column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlRow(pub Vec<(String, SqlValue)>);

impl SqlRow {
    pub fn get(&self, column: &str) -> Option<&SqlValue> {
        self.0.iter().find(|(c, _)| c == column).map(|(_, v)| v)
    }
    pub fn text(&self, column: &str) -> Option<String> {
        match self.get(column) {
            Some(SqlValue::Text(s)) => Some(s.clone()),
            Some(SqlValue::Integer(i)) => Some(i.to_string()),
            _ => None,
        }
    }
    pub fn int(&self, column: &str) -> Option<i64> {
        match self.get(column) {
            Some(SqlValue::Integer(i)) => Some(*i),
            Some(SqlValue::Text(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

/// A statement with its parameters (positional `?1`, `?2`, ...).
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<SqlValue>,
}

impl Statement {
    pub fn new(sql: &'static str, params: Vec<SqlValue>) -> Self {
        Statement { sql, params }
    }
}

/// A SQLite-family database (D1, Spin SQLite, rusqlite). Every SQL string the engine runs lives in
/// `crate::store::sql`; implementations only carry statements across.
pub trait SqlDatabase {
    /// Runs one statement and returns its rows (`RETURNING` rows for writes).
    async fn query(&self, stmt: Statement) -> Result<Vec<SqlRow>, StoreError>;
    /// Runs statements in one transaction: all apply or none (D1 `batch`, SQLite `BEGIN..COMMIT`).
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<SqlRow>>, StoreError>;
    /// Runs read-only statements in one round trip on a read replica near this instance, if the
    /// database has replicas (D1's Sessions API); `None` where it has none (SQLite, Spin), and the
    /// caller reads the primary. Only `crate::store::replica::read` calls it: it bounds how stale
    /// a replica's answer may be.
    async fn read_replica(&self, stmts: &[Statement]) -> Option<Result<Vec<Vec<SqlRow>>, StoreError>> {
        let _ = stmts;
        None
    }
}

/// A single-sign-on session as the session store keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SsoSession {
    pub sid: String,
    pub tenant: String,
    pub workspace: String,
    pub user_id: String,
    /// Seconds since the epoch when the user last authenticated (OIDC `auth_time`).
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
    /// The NIST assurance level the sign-in reached (1-3; 0: not recorded, see `authn::session::level`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aal: u8,
    pub expires_at: i64,
    /// A sign-in through an identity provider: its authentication context
    /// (`authn::context::AuthnContext`), so the session's next authorization needs no provider call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
    /// Stored nowhere (SSO is off, or the provider allows no session): it lives in this flow only,
    /// carried by the consent form.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
    /// When the session began, in milliseconds (0: a session stored before this was recorded; its
    /// `auth_time` stands in). Compared with the user's "sign out everywhere" cut-off, which needs
    /// a finer clock than seconds: a sign-in in the same second as the cut-off must survive it.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub started_ms: i64,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// SSO sessions: a Durable Object per session on Workers, a SQLite table on Spin and natively.
/// `get` must not return a session after `delete`, from any edge location.
pub trait SessionStore {
    async fn create(&self, session: &SsoSession) -> Result<(), StoreError>;
    async fn get(&self, sid: &str) -> Result<Option<SsoSession>, StoreError>;
    async fn delete(&self, sid: &str) -> Result<(), StoreError>;
}

/// A counter as a [`CounterStore`] keeps it. Times are seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    pub count: i64,
    /// When it was last incremented.
    pub last_at: i64,
    /// When it stops counting: an increment at or after this starts again from one, and the store
    /// may forget it from then on.
    pub expires_at: i64,
}

/// How long a counter lives after an increment, by the count the increment reached: steps of
/// `(from_count, secs)`, ascending by `from_count`, the first from 1. A count uses the last step
/// whose `from_count` it has reached. The caller owns the rule (`authn::throttle` makes a lock
/// outlive itself this way); a store only applies the table, so it never needs to know the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime<'a>(pub &'a [(i64, i64)]);

impl Lifetime<'_> {
    /// Seconds a counter with `count` lives after its last increment (0 for an empty table).
    pub fn secs(&self, count: i64) -> i64 {
        self.0.iter().take_while(|(from, _)| *from <= count).last().map_or(0, |(_, secs)| *secs)
    }

    /// The table as the SQL stores read it: a JSON array of `[from_count, secs]` pairs.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self.0).unwrap_or_else(|_| "[]".into())
    }
}

/// Atomic counters that expire: failed sign-ins and client authentications per account, client
/// and address, and the posts of each login form (see `authn::throttle`). A Durable Object per
/// counter on Workers (single-threaded, so a read-modify-write is atomic); one SQLite table on Spin
/// and natively (one upsert per increment, in a transaction).
pub trait CounterStore {
    /// The live counter under `key`: `None` when there is none, or it expired at or before `now`.
    async fn get(&self, key: &str, now: i64) -> Result<Option<Counter>, StoreError>;
    /// Adds one to the counter under `key`, atomically: a missing or expired one starts at 1. It
    /// then lives for what `lifetime` gives its new count. Returns the counter after the increment.
    async fn increment(&self, key: &str, now: i64, lifetime: Lifetime<'_>) -> Result<Counter, StoreError>;
    /// Forgets the counter under `key`.
    async fn reset(&self, key: &str) -> Result<(), StoreError>;
    /// Whether a read is a local lookup that costs next to nothing (SQLite on Spin and natively).
    /// On Workers each counter is a Durable Object: a read on every token request would add a
    /// network hop and send all of one client's token requests through one single-threaded
    /// object, so there the token endpoint does not read before it checks credentials (see
    /// `client_auth`).
    fn reads_are_local(&self) -> bool;
}


/// Bounds of one outbound request, set by [`crate::outbound`] (the only caller of [`HttpFetch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// For the whole exchange: connecting, sending, and reading the last byte of the body.
    pub timeout_ms: u32,
    /// A longer body is an error, found while reading (a `Content-Length` is not trusted).
    pub max_bytes: usize,
}

/// One outbound request, as [`crate::outbound`] builds it: GET or POST, a few headers it chose
/// (`accept` is always among them), a body for a POST.
#[derive(Debug, Clone, Copy)]
pub struct OutboundRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
}

/// Outbound HTTP. Only [`crate::outbound`] calls it, with a URL it has parsed and vetted.
/// An implementation must keep [`FetchLimits`] and must not follow redirects: a 3xx comes back
/// as the status it is (a redirect would lead past the URL checks).
pub trait HttpFetch {
    /// Returns the status and body, or an error for a timeout, an oversized body, or a network failure.
    async fn send(&self, req: OutboundRequest<'_>, limits: FetchLimits) -> Result<(u16, Vec<u8>), StoreError>;
}

/// Asymmetric signing algorithms the server issues and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    ES256,
    RS256,
    PS256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
        }
    }
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::ES256),
            "RS256" => Some(Alg::RS256),
            "PS256" => Some(Alg::PS256),
            _ => None,
        }
    }
    pub const ALL: [Alg; 3] = [Alg::ES256, Alg::RS256, Alg::PS256];
}

/// Platform signing. The default (`crate::jose::PureRustSigner`) is pure Rust; a runtime with
/// native crypto (WebCrypto in workerd) can implement this to sign and verify faster.
/// Keys cross the seam as PKCS#8 DER (private) and JWK (public), so a platform may import them once
/// and cache its own handle keyed by `kid`.
pub trait Signer {
    async fn sign(&self, alg: Alg, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// `Ok(false)` for a well-formed but wrong signature; `Err` only for an unusable key.
    async fn verify(&self, alg: Alg, public_jwk: &serde_json::Value, message: &[u8], signature: &[u8]) -> Result<bool, StoreError>;
    /// A fresh RSA-2048 private key (e = 65537) for `alg`, RS256 or PS256, made by the platform,
    /// as PKCS#8 DER: for a platform that makes one much faster than the core (pure-Rust RSA
    /// generation takes seconds in wasm; WebCrypto in workerd tens of milliseconds). The default,
    /// `Ok(None)`, leaves it to the core's pure-Rust generation (`crate::jose::generate_key`).
    /// Either way the core builds the stored key (`crate::jose::key_from_pkcs8`: checked,
    /// re-encoded, public JWK and kid), so the record is the same. ES256 keys are always the core's.
    async fn generate_key(&self, alg: Alg) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = alg;
        Ok(None)
    }
}

/// Everything a runtime provides to the engine for one request.
pub trait Runtime {
    type Kv: KvStore;
    type Sql: SqlDatabase;
    type Sessions: SessionStore;
    type Fetch: HttpFetch;
    type Clock: Clock;
    type Entropy: Entropy;
    type Signer: Signer;
    type Counters: CounterStore;

    fn kv(&self) -> &Self::Kv;
    fn sql(&self) -> &Self::Sql;
    fn sessions(&self) -> &Self::Sessions;
    fn fetch(&self) -> &Self::Fetch;
    fn clock(&self) -> &Self::Clock;
    fn entropy(&self) -> &Self::Entropy;
    fn signer(&self) -> &Self::Signer;
    fn counters(&self) -> &Self::Counters;
    /// The master secret (a Worker secret binding / Spin variable) under which signing keys are
    /// encrypted at rest. At least 32 bytes of entropy.
    fn master_secret(&self) -> &[u8];
    /// The root secret for the bootstrap management calls; `None` switches them off.
    fn root_secret(&self) -> Option<&str>;
    /// The deployment's public origin (`https://auth.example.com`), configured per deployment
    /// (a Workers variable, a Spin variable, a flag natively). When set, issuers are built from it
    /// and a request for another host is refused; when not, the request's own origin is used.
    fn public_origin(&self) -> Option<&str> {
        None
    }
    /// The hosts post-authentication extensions may reach (`EXTENSION_HOSTS` on Workers, the
    /// `extension_hosts` Spin variable, `--extension-hosts` natively): comma-separated names,
    /// `*.suffix` for subdomains. `None`: any host the URL rules accept.
    fn extension_hosts(&self) -> Option<&str> {
        None
    }
    /// Whether nothing of the engine's state outlives a request (Spin instantiates the component
    /// for every request, so the per-isolate caches are always cold). Then a workspace's signing
    /// keys are read from a key-value copy of their rows (one key-value read) instead of the SQL
    /// table, whose first statement on a fresh connection also parses the whole schema.
    fn instance_per_request(&self) -> bool {
        false
    }
    /// Sends a plain-text email through the deployment's own email service (the Workers
    /// `send_email` binding `EMAIL`, from `EMAIL_FROM`); `Ok(false)`: the deployment has none.
    async fn send_email(&self, _to: &str, _subject: &str, _text: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
}

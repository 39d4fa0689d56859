//! `NativeRuntime`: the engine's seams implemented with std, SQLite and getrandom.

use crate::fetch::LoopbackFetch;
use crate::sqlite::SqliteDb;
use edgeauth_core::jose::PureRustSigner;
use edgeauth_core::runtime::{Alg, Clock, Entropy, KvStore, Runtime, Signer, StoreError};
use edgeauth_core::store::counters::SqlCounterStore;
use edgeauth_core::store::sessions::SqlSessionStore;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything the engine needs, natively. `Send + Sync`: one runtime may serve many threads.
pub struct NativeRuntime {
    kv: MemoryKv,
    sql: SqliteDb,
    sessions: SqlSessionStore<SqliteDb>,
    counters: SqlCounterStore<SqliteDb>,
    fetch: LoopbackFetch,
    clock: NativeClock,
    entropy: OsEntropy,
    signer: NativeSigner,
    master_secret: Vec<u8>,
    root_secret: Option<String>,
    public_origin: Option<String>,
    extension_hosts: Option<String>,
}

// Fails to compile if a field ever stops being shareable across threads.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<NativeRuntime>();
};

impl NativeRuntime {
    /// An in-memory database, a fresh random master secret, no root secret.
    pub fn new() -> Result<NativeRuntime, StoreError> {
        Ok(NativeRuntime::with_db(SqliteDb::in_memory()?))
    }

    /// Like [`NativeRuntime::new`] but on a SQLite file (give it a fixed master secret too, or the
    /// signing keys stored in it cannot be decrypted after a restart).
    pub fn open(path: impl AsRef<Path>) -> Result<NativeRuntime, StoreError> {
        Ok(NativeRuntime::with_db(SqliteDb::open(path)?))
    }

    fn with_db(sql: SqliteDb) -> NativeRuntime {
        let clock = NativeClock::default();
        let mut master_secret = vec![0u8; 32];
        OsEntropy.fill(&mut master_secret);
        NativeRuntime {
            kv: MemoryKv::default(),
            sessions: SqlSessionStore { db: sql.clone() },
            counters: SqlCounterStore { db: sql.clone() },
            sql,
            fetch: LoopbackFetch,
            clock,
            entropy: OsEntropy,
            signer: NativeSigner::default(),
            master_secret,
            root_secret: None,
            public_origin: None,
            extension_hosts: None,
        }
    }

    /// Enables the bootstrap management calls with this secret.
    pub fn with_root_secret(mut self, root_secret: impl Into<String>) -> NativeRuntime {
        self.root_secret = Some(root_secret.into());
        self
    }

    /// Fixes the issuer's origin and refuses requests for other hosts (see `Runtime::public_origin`).
    pub fn with_public_origin(mut self, origin: impl Into<String>) -> NativeRuntime {
        self.public_origin = Some(origin.into());
        self
    }

    /// Limits the hosts extensions may reach (see `Runtime::extension_hosts`).
    pub fn with_extension_hosts(mut self, hosts: impl Into<String>) -> NativeRuntime {
        self.extension_hosts = Some(hosts.into());
        self
    }

    /// Replaces the random master secret (at least 32 bytes).
    pub fn with_master_secret(mut self, master_secret: impl Into<Vec<u8>>) -> NativeRuntime {
        let master_secret = master_secret.into();
        assert!(master_secret.len() >= 32, "the master secret must be at least 32 bytes");
        self.master_secret = master_secret;
        self
    }

    /// Moves this runtime's clock forward (negative moves it back).
    pub fn advance_clock(&self, secs: i64) {
        self.clock.advance(secs);
    }
}

impl Runtime for NativeRuntime {
    type Kv = MemoryKv;
    type Sql = SqliteDb;
    type Sessions = SqlSessionStore<SqliteDb>;
    type Fetch = LoopbackFetch;
    type Clock = NativeClock;
    type Entropy = OsEntropy;
    type Signer = NativeSigner;
    type Counters = SqlCounterStore<SqliteDb>;

    fn kv(&self) -> &MemoryKv {
        &self.kv
    }
    fn sql(&self) -> &SqliteDb {
        &self.sql
    }
    fn sessions(&self) -> &SqlSessionStore<SqliteDb> {
        &self.sessions
    }
    fn fetch(&self) -> &LoopbackFetch {
        &self.fetch
    }
    fn clock(&self) -> &NativeClock {
        &self.clock
    }
    fn entropy(&self) -> &OsEntropy {
        &self.entropy
    }
    fn signer(&self) -> &NativeSigner {
        &self.signer
    }
    fn counters(&self) -> &SqlCounterStore<SqliteDb> {
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
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// KV in a map. Unlike Workers KV it is immediately consistent, which tests rely on.
#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<String, String>>,
}

impl KvStore for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(lock(&self.map).get(key).cloned())
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        lock(&self.map).insert(key.to_string(), value.to_string());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.map).remove(key);
        Ok(())
    }
}

/// System time plus an offset that tests move forward. Clones share the offset.
#[derive(Clone, Default)]
pub struct NativeClock {
    offset_secs: Arc<AtomicI64>,
}

impl NativeClock {
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for NativeClock {
    fn now_ms(&self) -> u64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_millis() as i64;
        (real + self.offset_secs.load(Ordering::SeqCst) * 1000).max(0) as u64
    }
}

/// The operating system's CSPRNG.
#[derive(Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        getrandom::getrandom(buf).expect("the OS random source is available");
    }
}

/// The core's pure-Rust signer behind a lock, so the runtime can be shared across threads (its
/// parsed-key cache is a `RefCell`). Signing never awaits, so the guard is never held across I/O.
#[derive(Default)]
pub struct NativeSigner(Mutex<PureRustSigner<OsEntropy>>);

// The pure-Rust signer's futures never suspend, so the guard never outlives a poll.
#[allow(clippy::await_holding_lock)]
impl Signer for NativeSigner {
    async fn sign(&self, alg: Alg, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, StoreError> {
        let signer = lock(&self.0);
        signer.sign(alg, kid, pkcs8_der, message).await
    }
    async fn verify(&self, alg: Alg, jwk: &serde_json::Value, message: &[u8], signature: &[u8]) -> Result<bool, StoreError> {
        let signer = lock(&self.0);
        signer.verify(alg, jwk, message, signature).await
    }
}

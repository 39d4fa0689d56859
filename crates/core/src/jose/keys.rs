//! Per-workspace signing keys: generated on workspace creation, sealed at rest under the master
//! secret, rotated on demand. A retired key stops signing at once but stays in the JWKS until every
//! token it signed has expired.

use crate::config::CONFIG_CACHE_TTL_MS;
use crate::crypto;
use crate::jose;
use crate::runtime::{Alg, KvStore, Runtime, Signer, SqlDatabase, StoreError};
use crate::store::{self, KeyRow};
use serde_json::{json, Value};
use std::sync::OnceLock;

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pub public_jwk: Value,
    pub retired: bool,
    /// The private key as stored (sealed), opened on first use: serving the JWKS, or verifying,
    /// opens none (on Spin, where every request has a fresh instance, that is per request).
    sealed: String,
    seal_context: String,
    pkcs8: OnceLock<Vec<u8>>,
}

impl SigningKey {
    /// The private key (PKCS#8 DER), opened once per loaded key set.
    pub fn pkcs8(&self, master_secret: &[u8]) -> Result<&[u8], StoreError> {
        if let Some(der) = self.pkcs8.get() {
            return Ok(der);
        }
        let der = crypto::open(master_secret, &self.seal_context, &self.sealed)?;
        Ok(self.pkcs8.get_or_init(|| der))
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).field("retired", &self.retired).finish_non_exhaustive()
    }
}

/// The keys of one workspace as an isolate caches them (each private key opened on its first use).
#[derive(Debug, Clone)]
pub struct KeySet {
    pub keys: Vec<SigningKey>,
    /// The JWKS document, rendered once per load.
    pub jwks_json: String,
}

impl KeySet {
    /// The newest key that signs with `alg`.
    pub fn active(&self, alg: Alg) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.alg == alg && !k.retired)
    }

    pub fn public_jwks(&self) -> Vec<Value> {
        self.keys.iter().map(|k| k.public_jwk.clone()).collect()
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }
}

fn seal_context(tenant: &str, workspace: &str, kid: &str) -> String {
    format!("{tenant}/{workspace}/{kid}")
}

/// The workspace's keys from the table; a replica may answer unless `freshness` asks for the
/// primary (a token naming a key this isolate does not know may have been signed with a key made
/// a moment ago).
pub async fn load(db: &impl SqlDatabase, tenant: &str, workspace: &str, now_ms: i64, freshness: store::replica::Freshness) -> Result<KeySet, StoreError> {
    Ok(key_set(tenant, workspace, store::list_keys_nearby(db, now_ms, freshness, tenant, workspace).await?))
}

/// Where [`load_through_kv`] keeps a workspace's key rows.
fn snapshot_key(tenant: &str, workspace: &str) -> String {
    format!("keys/{tenant}/{workspace}")
}

/// The key rows as the key-value copy holds them: every row still published when it was built
/// (the private keys sealed, as in the table), filtered again by `remove_at` when read.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    built_at_ms: u64,
    rows: Vec<KeyRow>,
}

/// The keys for a runtime whose instances do not outlive a request ([`Runtime::instance_per_request`]):
/// from the key-value copy when it is younger than `CONFIG_CACHE_TTL_MS`, else (or when `force`)
/// from the table, and the copy rewritten. A key write deletes the copy ([`forget_snapshot`]); the
/// age limit bounds what a copy rebuilt from rows read just before such a write can serve, as the
/// isolate caches are bounded elsewhere.
pub async fn load_through_kv<R: Runtime>(rt: &R, tenant: &str, workspace: &str, now_ms: u64, force: bool) -> Result<KeySet, StoreError> {
    let key = snapshot_key(tenant, workspace);
    let now = (now_ms / 1000) as i64;
    if !force {
        if let Some(s) = rt.kv().get(&key).await?.and_then(|text| serde_json::from_str::<Snapshot>(&text).ok()) {
            if s.built_at_ms <= now_ms && now_ms - s.built_at_ms < CONFIG_CACHE_TTL_MS {
                let rows = s.rows.into_iter().filter(|r| r.remove_at.is_none_or(|at| at > now)).collect();
                return Ok(key_set(tenant, workspace, rows));
            }
        }
    }
    let rows = store::list_keys(rt.sql(), tenant, workspace, now).await?;
    let snapshot = json!({ "built_at_ms": now_ms, "rows": &rows }).to_string();
    // A copy that cannot be written only means the next request reads the table too.
    let _ = rt.kv().put(&key, &snapshot).await;
    Ok(key_set(tenant, workspace, rows))
}

/// Drops the key-value copy of a workspace's keys after their rows changed (created, rotated,
/// deleted); nothing to do where no copy is kept.
pub async fn forget_snapshot<R: Runtime>(rt: &R, tenant: &str, workspace: &str) -> Result<(), StoreError> {
    if rt.instance_per_request() {
        rt.kv().delete(&snapshot_key(tenant, workspace)).await?;
    }
    Ok(())
}

fn key_set(tenant: &str, workspace: &str, rows: Vec<KeyRow>) -> KeySet {
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(alg) = Alg::parse(&r.alg) else { continue };
        let seal_context = seal_context(tenant, workspace, &r.kid);
        keys.push(SigningKey { kid: r.kid, alg, public_jwk: r.public_jwk, retired: r.retired_at.is_some(), sealed: r.private_key, seal_context, pkcs8: OnceLock::new() });
    }
    let jwks_json = serde_json::to_string(&json!({ "keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>() })).expect("a JSON value always serializes");
    KeySet { keys, jwks_json }
}

/// Generates one fresh key per algorithm, sealed for storage: the RSA keys by the platform where it
/// makes them faster ([`Signer::generate_key`], WebCrypto on Workers), else (and ES256) in pure
/// Rust. The record is the same.
pub async fn generate<R: Runtime>(rt: &R, tenant: &str, workspace: &str, now: i64) -> Result<Vec<KeyRow>, StoreError> {
    let mut rows = Vec::with_capacity(Alg::ALL.len());
    for alg in Alg::ALL {
        let platform_key = if alg == Alg::ES256 { None } else { rt.signer().generate_key(alg).await? };
        let k = match platform_key {
            Some(der) => jose::key_from_pkcs8(alg, &der)?,
            None => jose::generate_key(alg, rt.entropy())?,
        };
        let private_key = crypto::seal(rt.master_secret(), &seal_context(tenant, workspace, &k.kid), rt.entropy(), &k.pkcs8_der);
        rows.push(KeyRow { kid: k.kid, alg: alg.as_str().into(), public_jwk: k.public_jwk, private_key, created_at: now, retired_at: None, remove_at: None });
    }
    Ok(rows)
}

/// Replaces the signing keys: the old ones keep verifying until `now + keep_published_for`.
pub async fn rotate<R: Runtime>(rt: &R, tenant: &str, workspace: &str, now: i64, keep_published_for: i64) -> Result<Vec<String>, StoreError> {
    let new_keys = generate(rt, tenant, workspace, now).await?;
    store::rotate_keys(rt.sql(), tenant, workspace, &new_keys, now, now + keep_published_for).await?;
    Ok(new_keys.into_iter().map(|k| k.kid).collect())
}

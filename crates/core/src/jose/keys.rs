//! Per-workspace signing keys: generated on workspace creation, sealed at rest under the master
//! secret, rotated on demand. A retired key stops signing at once but stays in the JWKS until every
//! token it signed has expired.

use crate::crypto;
use crate::jose;
use crate::runtime::{Alg, Entropy, SqlDatabase, StoreError};
use crate::store::{self, KeyRow};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pub pkcs8: Vec<u8>,
    pub public_jwk: Value,
    pub retired: bool,
}

/// The keys of one workspace as an isolate caches them (private keys decrypted once per load).
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

pub async fn load(db: &impl SqlDatabase, master_secret: &[u8], tenant: &str, workspace: &str, now: i64) -> Result<KeySet, StoreError> {
    let rows = store::list_keys(db, tenant, workspace, now).await?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(alg) = Alg::parse(&r.alg) else { continue };
        let pkcs8 = crypto::open(master_secret, &seal_context(tenant, workspace, &r.kid), &r.private_key)?;
        keys.push(SigningKey { kid: r.kid, alg, pkcs8, public_jwk: r.public_jwk, retired: r.retired_at.is_some() });
    }
    let jwks_json = json!({ "keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>() }).to_string();
    Ok(KeySet { keys, jwks_json })
}

/// Generates one fresh key per algorithm, sealed for storage.
pub fn generate(entropy: &impl Entropy, master_secret: &[u8], tenant: &str, workspace: &str, now: i64) -> Result<Vec<KeyRow>, StoreError> {
    Alg::ALL
        .iter()
        .map(|&alg| {
            let k = jose::generate_key(alg, entropy)?;
            let private_key = crypto::seal(master_secret, &seal_context(tenant, workspace, &k.kid), entropy, &k.pkcs8_der);
            Ok(KeyRow { kid: k.kid, alg: alg.as_str().into(), public_jwk: k.public_jwk, private_key, created_at: now, retired_at: None, remove_at: None })
        })
        .collect()
}

/// Replaces the signing keys: the old ones keep verifying until `now + keep_published_for`.
pub async fn rotate(db: &impl SqlDatabase, entropy: &impl Entropy, master_secret: &[u8], tenant: &str, workspace: &str, now: i64, keep_published_for: i64) -> Result<Vec<String>, StoreError> {
    let new_keys = generate(entropy, master_secret, tenant, workspace, now)?;
    store::rotate_keys(db, tenant, workspace, &new_keys, now, now + keep_published_for).await?;
    Ok(new_keys.into_iter().map(|k| k.kid).collect())
}

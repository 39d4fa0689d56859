//! Passkeys (WebAuthn credentials) of the identity pool's users (migrations/0010_passkeys.sql).

use super::{int, json, sql, stmt, text};
use crate::runtime::{SqlDatabase, SqlRow, Statement, StoreError};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passkey {
    /// The credential's raw id, base64url.
    pub credential_id: String,
    pub user_id: String,
    /// ES256 or RS256.
    pub alg: String,
    pub public_key: Value,
    pub sign_count: i64,
    pub aaguid: String,
    pub name: String,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn from_row(r: &SqlRow) -> Result<Passkey, StoreError> {
    Ok(Passkey {
        credential_id: text(r, "credential_id")?,
        user_id: text(r, "user_id")?,
        alg: text(r, "alg")?,
        public_key: json(r, "public_key")?,
        sign_count: int(r, "sign_count")?,
        aaguid: text(r, "aaguid")?,
        name: text(r, "name")?,
        transports: serde_json::from_value(json(r, "transports")?).unwrap_or_default(),
        backup_eligible: r.int("backup_eligible").unwrap_or(0) != 0,
        created_at: int(r, "created_at")?,
        last_used_at: r.int("last_used_at"),
    })
}

/// Stores a new credential; `false` when its id is already registered in the workspace.
pub async fn insert(db: &impl SqlDatabase, tenant: &str, workspace: &str, p: &Passkey) -> Result<bool, StoreError> {
    let rows = db
        .query(stmt(
            sql::PASSKEY_INSERT,
            vec![
                tenant.into(),
                workspace.into(),
                (&p.credential_id).into(),
                (&p.user_id).into(),
                (&p.alg).into(),
                p.public_key.to_string().into(),
                p.sign_count.into(),
                (&p.aaguid).into(),
                (&p.name).into(),
                serde_json::to_string(&p.transports).unwrap_or_else(|_| "[]".into()).into(),
                p.backup_eligible.into(),
                p.created_at.into(),
            ],
        ))
        .await?;
    Ok(!rows.is_empty())
}

pub async fn get(db: &impl SqlDatabase, tenant: &str, workspace: &str, credential_id: &str) -> Result<Option<Passkey>, StoreError> {
    let rows = db.query(stmt(sql::PASSKEY_GET, vec![tenant.into(), workspace.into(), credential_id.into()])).await?;
    rows.first().map(from_row).transpose()
}

pub async fn for_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<Vec<Passkey>, StoreError> {
    let rows = db.query(stmt(sql::PASSKEYS_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    rows.iter().map(from_row).collect()
}

/// Records a sign-in's counter if the stored one is still `seen`; `false` when another sign-in
/// with the same credential got there first.
pub async fn record_use(db: &impl SqlDatabase, tenant: &str, workspace: &str, credential_id: &str, seen: i64, count: i64, now: i64) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::PASSKEY_USE, vec![tenant.into(), workspace.into(), credential_id.into(), seen.into(), count.into(), now.into()])).await?;
    Ok(!rows.is_empty())
}

/// Renames one of the user's passkeys; `false` when the user has no such passkey.
pub async fn rename(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, credential_id: &str, name: &str) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::PASSKEY_RENAME, vec![tenant.into(), workspace.into(), user_id.into(), credential_id.into(), name.into()])).await?;
    Ok(!rows.is_empty())
}

/// Deletes one of the user's passkeys; `false` when the user has no such passkey.
pub async fn delete(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, credential_id: &str) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::PASSKEY_DELETE, vec![tenant.into(), workspace.into(), user_id.into(), credential_id.into()])).await?;
    Ok(!rows.is_empty())
}

/// What deleting a user also removes.
pub fn delete_for_user(tenant: &str, workspace: &str, user_id: &str) -> Statement {
    stmt(sql::PASSKEYS_DELETE_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into()])
}

//! Dynamic client registration's own rows: registration access tokens (RFC 7592) and initial
//! access tokens (RFC 7591 §3), both stored as SHA-256 hashes. The clients are ordinary rows
//! (see [`super::insert_client`]).

use super::{int, stmt, text, sql, StoredClient};
use crate::runtime::{SqlDatabase, StoreError};

/// Who registers a client dynamically: the hash of its registration access token, and the id of
/// the initial access token it came with (none: open registration).
pub struct Registration<'a> {
    pub token_hash: &'a str,
    pub initial_access_token: Option<&'a str>,
}

/// Inserts a registered client and its registration in one transaction; `Ok(false)` when the
/// client_id is taken.
pub async fn insert_registered_client(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: &StoredClient, r: &Registration<'_>, now: i64) -> Result<bool, StoreError> {
    let metadata = serde_json::to_string(&c.client).map_err(|e| StoreError::new(e.to_string()))?;
    let id = &c.client.client_id;
    let out = db
        .batch(vec![
            stmt(sql::CLIENT_INSERT, vec![tenant.into(), workspace.into(), id.into(), c.secret_hash.clone().into(), metadata.into(), now.into()]),
            stmt(sql::DCR_REGISTRATION_INSERT, vec![tenant.into(), workspace.into(), id.into(), r.token_hash.into(), r.initial_access_token.into(), now.into()]),
        ])
        .await;
    match out {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `Some(created_at)` when `token_hash` is the registration access token of this very client.
pub async fn registered_at(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, token_hash: &str) -> Result<Option<i64>, StoreError> {
    let rows = db.query(stmt(sql::DCR_REGISTRATION_CHECK, vec![tenant.into(), workspace.into(), client_id.into(), token_hash.into()])).await?;
    rows.first().map(|r| int(r, "created_at")).transpose()
}

pub struct InitialAccessToken {
    pub id: String,
    pub description: String,
    pub max_uses: i64,
    pub uses: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_initial_access_token(db: &impl SqlDatabase, tenant: &str, workspace: &str, t: &InitialAccessToken, token_hash: &str) -> Result<(), StoreError> {
    db.query(stmt(
        sql::DCR_IAT_INSERT,
        vec![tenant.into(), workspace.into(), (&t.id).into(), token_hash.into(), (&t.description).into(), t.max_uses.into(), t.created_at.into(), t.expires_at.into()],
    ))
    .await
    .map(|_| ())
}

/// The id of a live initial access token with a use left; `consume` counts the use (atomically:
/// only a request that finds one left gets the id).
pub async fn initial_access_token(db: &impl SqlDatabase, tenant: &str, workspace: &str, token_hash: &str, now: i64, consume: bool) -> Result<Option<String>, StoreError> {
    let sql = if consume { sql::DCR_IAT_USE } else { sql::DCR_IAT_PEEK };
    let rows = db.query(stmt(sql, vec![tenant.into(), workspace.into(), token_hash.into(), now.into()])).await?;
    rows.first().map(|r| text(r, "id")).transpose()
}

pub async fn list_initial_access_tokens(db: &impl SqlDatabase, tenant: &str, workspace: &str, after: &str, limit: i64) -> Result<Vec<InitialAccessToken>, StoreError> {
    let rows = db.query(stmt(sql::DCR_IAT_LIST, vec![tenant.into(), workspace.into(), after.into(), limit.into()])).await?;
    rows.iter()
        .map(|r| {
            Ok(InitialAccessToken {
                id: text(r, "id")?,
                description: text(r, "description")?,
                max_uses: int(r, "max_uses")?,
                uses: int(r, "uses")?,
                created_at: int(r, "created_at")?,
                expires_at: int(r, "expires_at")?,
            })
        })
        .collect()
}

/// `Ok(false)` when there is no such token.
pub async fn delete_initial_access_token(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str) -> Result<bool, StoreError> {
    Ok(!db.query(stmt(sql::DCR_IAT_DELETE, vec![tenant.into(), workspace.into(), id.into()])).await?.is_empty())
}

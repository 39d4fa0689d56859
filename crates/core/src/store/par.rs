//! Pushed authorization requests (RFC 9126): what the PAR endpoint stores and the authorization
//! endpoint consumes, once.

use super::{sql, stmt, text};
use crate::runtime::{SqlDatabase, StoreError};

pub struct NewPushedRequest<'a> {
    pub uri_hash: &'a str,
    pub client_id: &'a str,
    /// The validated request, JSON.
    pub request: String,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert(db: &impl SqlDatabase, tenant: &str, workspace: &str, r: NewPushedRequest<'_>) -> Result<(), StoreError> {
    db.query(stmt(sql::PAR_INSERT, vec![r.uri_hash.into(), tenant.into(), workspace.into(), r.client_id.into(), r.request.into(), r.now.into(), r.expires_at.into()]))
        .await
        .map(|_| ())
}

/// The stored request for the one caller that consumes it; `None` when it is unknown, expired,
/// already used, or pushed by another client.
pub async fn consume(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, uri_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
    let rows = db.query(stmt(sql::PAR_CONSUME, vec![uri_hash.into(), tenant.into(), workspace.into(), client_id.into(), now.into()])).await?;
    rows.first().map(|r| text(r, "request")).transpose()
}

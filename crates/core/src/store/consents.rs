//! Open Finance Brasil consents: what the consents API, the authorization endpoint and the token
//! endpoint read and change.

use super::{int, json, sql, stmt, text};
use crate::runtime::{SqlDatabase, SqlRow, Statement, StoreError};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct ObConsent {
    pub id: String,
    pub client_id: String,
    pub kind: String,
    pub status: String,
    pub document: Value,
    pub user_id: Option<String>,
    pub rejection: Option<Value>,
    pub created_at: i64,
    pub status_updated_at: i64,
    pub expires_at: Option<i64>,
}

pub async fn insert(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: &ObConsent) -> Result<(), StoreError> {
    db.query(stmt(
        sql::OB_CONSENT_INSERT,
        vec![(&c.id).into(), tenant.into(), workspace.into(), (&c.client_id).into(), (&c.kind).into(), (&c.status).into(), c.document.to_string().into(), c.created_at.into(), c.expires_at.into()],
    ))
    .await
    .map(|_| ())
}

pub async fn get(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str) -> Result<Option<ObConsent>, StoreError> {
    let rows = db.query(stmt(sql::OB_CONSENT_GET, vec![id.into(), tenant.into(), workspace.into()])).await?;
    rows.first().map(row).transpose()
}

fn row(r: &SqlRow) -> Result<ObConsent, StoreError> {
    Ok(ObConsent {
        id: text(r, "id")?,
        client_id: text(r, "client_id")?,
        kind: text(r, "kind")?,
        status: text(r, "status")?,
        document: json(r, "document")?,
        user_id: r.text("user_id"),
        rejection: r.text("rejection").and_then(|s| serde_json::from_str(&s).ok()),
        created_at: int(r, "created_at")?,
        status_updated_at: int(r, "status_updated_at")?,
        expires_at: r.int("expires_at"),
    })
}

pub struct Transition<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub rejection: Option<Value>,
    pub user_id: Option<&'a str>,
    pub at: i64,
}

/// Moves a consent from `from` to `to`; `Ok(false)` when it was no longer in `from` (someone else won).
pub async fn transition(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, t: Transition<'_>) -> Result<bool, StoreError> {
    let rows = db
        .query(stmt(
            sql::OB_CONSENT_SET_STATUS,
            vec![id.into(), tenant.into(), workspace.into(), t.from.into(), t.to.into(), t.rejection.map(|r| r.to_string()).into(), t.user_id.map(str::to_string).into(), t.at.into()],
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// The statement that binds a grant to its consent (run with the grant's insert).
pub fn link_grant(consent_id: &str, grant_id: &str) -> Statement {
    stmt(sql::OB_CONSENT_GRANT_LINK, vec![consent_id.into(), grant_id.into()])
}

/// Revokes every grant bound to a consent (their refresh and access tokens stop at once).
pub async fn revoke_grants(db: &impl SqlDatabase, consent_id: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::OB_CONSENT_REVOKE_GRANTS, vec![consent_id.into(), now.into()])).await.map(|_| ())
}

/// What the bank-side consent management lists or revokes. `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kinds: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
}

fn csv(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref().map(|l| format!(",{},", l.join(",")))
}

/// One page of a workspace's consents, by id after `after`.
pub async fn list(db: &impl SqlDatabase, tenant: &str, workspace: &str, f: &Filter, after: &str, limit: i64) -> Result<Vec<ObConsent>, StoreError> {
    let rows = db
        .query(stmt(
            sql::OB_CONSENT_LIST,
            vec![tenant.into(), workspace.into(), csv(&f.kinds).into(), f.client_id.clone().into(), f.user_id.clone().into(), csv(&f.statuses).into(), after.into(), limit.into()],
        ))
        .await?;
    rows.iter().map(row).collect()
}

/// The consent an idempotency key already stands for: `(request_hash, consent_id)`.
pub async fn idempotent(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, key: &str, now: i64) -> Result<Option<(String, String)>, StoreError> {
    let rows = db.query(stmt(sql::OB_IDEMPOTENCY_GET, vec![tenant.into(), workspace.into(), client_id.into(), key.into(), now.into()])).await?;
    Ok(rows.first().and_then(|r| Some((r.text("request_hash")?, r.text("consent_id")?))))
}

/// An `x-idempotency-key` claimed for one request (by its hash) until `expires_at`.
pub struct IdempotencyClaim<'a> {
    pub key: &'a str,
    pub request_hash: &'a str,
    pub expires_at: i64,
}

/// Claims the key and inserts the consent in one batch; `Ok(false)` when another request holds the
/// key (nothing is inserted then).
pub async fn insert_idempotent(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: &ObConsent, claim: IdempotencyClaim<'_>, now: i64) -> Result<bool, StoreError> {
    let key = claim.key;
    let claim = stmt(
        sql::OB_IDEMPOTENCY_CLAIM,
        vec![tenant.into(), workspace.into(), (&c.client_id).into(), key.into(), claim.request_hash.into(), (&c.id).into(), claim.expires_at.into(), now.into()],
    );
    let insert = stmt(
        sql::OB_CONSENT_INSERT_IF_CLAIMED,
        vec![(&c.id).into(), tenant.into(), workspace.into(), (&c.client_id).into(), (&c.kind).into(), (&c.status).into(), c.document.to_string().into(), c.created_at.into(), c.expires_at.into(), key.into()],
    );
    let out = db.batch(vec![claim, insert]).await?;
    Ok(out.first().is_some_and(|rows| !rows.is_empty()))
}

/// Moves an AUTHORISED consent's end from `previous` to `expires_at` and records the extension;
/// `Ok(false)` when it was no longer AUTHORISED with that end (someone else changed it).
pub async fn extend(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: &ObConsent, expires_at: Option<i64>, now: i64, record: &Value) -> Result<bool, StoreError> {
    let rows = db
        .query(stmt(sql::OB_CONSENT_EXTEND, vec![(&c.id).into(), tenant.into(), workspace.into(), c.expires_at.into(), expires_at.into(), c.document.to_string().into()]))
        .await?;
    if rows.is_empty() {
        return Ok(false);
    }
    db.query(stmt(sql::OB_EXTENSION_INSERT, vec![(&c.id).into(), now.into(), expires_at.into(), c.expires_at.into(), record.to_string().into()])).await?;
    Ok(true)
}

pub struct Extension {
    pub requested_at: i64,
    pub expires_at: Option<i64>,
    pub previous_expires_at: Option<i64>,
    pub document: Value,
}

pub async fn extensions(db: &impl SqlDatabase, consent_id: &str) -> Result<Vec<Extension>, StoreError> {
    let rows = db.query(stmt(sql::OB_EXTENSION_LIST, vec![consent_id.into()])).await?;
    rows.iter()
        .map(|r| Ok(Extension { requested_at: int(r, "requested_at")?, expires_at: r.int("expires_at"), previous_expires_at: r.int("previous_expires_at"), document: json(r, "document")? }))
        .collect()
}

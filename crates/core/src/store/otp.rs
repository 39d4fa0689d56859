//! One-time codes: users' authenticator apps and the codes sent by email
//! (migrations/0011_one_time_codes.sql).

use super::{int, sql, stmt, text};
use crate::runtime::{SqlDatabase, Statement, StoreError};

/// A user's authenticator app: its sealed secret and the last step accepted.
pub struct Totp {
    pub sealed_secret: String,
    pub last_step: i64,
    pub created_at: i64,
}

/// Stores (or replaces) the user's authenticator, with the step its confirmation used.
pub async fn put_totp(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, sealed_secret: &str, last_step: i64, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::TOTP_PUT, vec![tenant.into(), workspace.into(), user_id.into(), sealed_secret.into(), last_step.into(), now.into()])).await.map(|_| ())
}

pub async fn get_totp(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<Option<Totp>, StoreError> {
    let rows = db.query(stmt(sql::TOTP_GET, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    rows.first().map(|r| Ok(Totp { sealed_secret: text(r, "secret")?, last_step: int(r, "last_step")?, created_at: int(r, "created_at")? })).transpose()
}

/// Records `step` as used if no later or equal step was; `false` when one was (a replay, or a
/// concurrent sign-in with the same code that got there first).
pub async fn use_totp_step(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, step: i64) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::TOTP_USE, vec![tenant.into(), workspace.into(), user_id.into(), step.into()])).await?;
    Ok(!rows.is_empty())
}

/// `false` when the user had no authenticator.
pub async fn delete_totp(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::TOTP_DELETE, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    Ok(!rows.is_empty())
}

/// When the last code for `subject` and `purpose` was sent, if one still exists.
pub async fn last_code_sent(db: &impl SqlDatabase, tenant: &str, workspace: &str, subject: &str, purpose: &str) -> Result<Option<i64>, StoreError> {
    let rows = db.query(stmt(sql::OTP_CODE_LAST_SENT, vec![tenant.into(), workspace.into(), subject.into(), purpose.into()])).await?;
    Ok(rows.first().and_then(|r| r.int("last")))
}

/// Stores a sent code's hash (and drops the workspace's expired ones).
#[allow(clippy::too_many_arguments)]
pub async fn insert_code(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, subject: &str, purpose: &str, code_hash: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
    db.batch(vec![
        stmt(sql::OTP_CODE_PURGE, vec![tenant.into(), workspace.into(), now.into()]),
        stmt(sql::OTP_CODE_INSERT, vec![tenant.into(), workspace.into(), id.into(), subject.into(), purpose.into(), code_hash.into(), expires_at.into(), now.into()]),
    ])
    .await
    .map(|_| ())
}

/// Counts a guess at code `id`: `Some((subject, purpose))` while the code lives and has guesses
/// left (this one included), `None` once it is expired, used up, consumed or unknown.
pub async fn attempt_code(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, max_attempts: u32, now: i64) -> Result<Option<(String, String)>, StoreError> {
    let rows = db.query(stmt(sql::OTP_CODE_ATTEMPT, vec![tenant.into(), workspace.into(), id.into(), i64::from(max_attempts).into(), now.into()])).await?;
    rows.first().map(|r| Ok((text(r, "subject")?, text(r, "purpose")?))).transpose()
}

/// Deletes code `id` if `code_hash` is its hash: `true` for the one caller whose code was right.
pub async fn consume_code(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, code_hash: &str) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::OTP_CODE_CONSUME, vec![tenant.into(), workspace.into(), id.into(), code_hash.into()])).await?;
    Ok(!rows.is_empty())
}

/// What deleting a user also removes.
pub fn delete_for_user(tenant: &str, workspace: &str, user_id: &str) -> Vec<Statement> {
    vec![
        stmt(sql::TOTP_DELETE, vec![tenant.into(), workspace.into(), user_id.into()]),
        stmt(sql::OTP_CODES_DELETE_FOR_SUBJECT, vec![tenant.into(), workspace.into(), user_id.into()]),
    ]
}

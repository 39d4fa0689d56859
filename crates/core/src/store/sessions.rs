//! SSO sessions in a SQLite-family table, for runtimes without Durable Objects (Spin, native).
//! A delete is immediately visible to every reader: the table lives in one database.

use super::replica::{self, Freshness};
use super::sql;
use crate::runtime::{SessionStore, SqlDatabase, SsoSession, Statement, StoreError};

/// The user's session cut-off ("sign out everywhere"): sessions that began before it (ms since
/// the epoch) are ended. `None`: the user never signed out everywhere. With
/// [`Freshness::Bounded`], a replica may answer: a new cut-off ends the user's sessions for
/// authorizations at most [`replica::STALENESS_BOUND_MS`] after it was set.
pub async fn not_before(db: &impl SqlDatabase, now_ms: i64, freshness: Freshness, tenant: &str, workspace: &str, user_id: &str) -> Result<Option<i64>, StoreError> {
    let get = Statement::new(sql::SESSION_CUTOFF_GET, vec![tenant.into(), workspace.into(), user_id.into()]);
    let rows = replica::read_one(db, now_ms, freshness, get, replica::always).await?;
    Ok(rows.first().and_then(|r| r.int("not_before_ms")))
}

/// Signs the user out everywhere, in one transaction: every session that began before `now_ms`
/// is ended (the cut-off), and every grant is revoked, so refresh tokens fail with `invalid_grant`
/// and access tokens stop introspecting as active. Consents stay (signing out is not withdrawing).
pub async fn end_all(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, now_ms: i64, now: i64) -> Result<(), StoreError> {
    db.batch(vec![
        Statement::new(sql::SESSION_CUTOFF_SET, vec![tenant.into(), workspace.into(), user_id.into(), now_ms.into()]),
        Statement::new(sql::GRANTS_REVOKE_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into(), now.into()]),
    ])
    .await
    .map(|_| ())
}

/// A password change by its user: the new hash, and every session that began before now ended
/// (the cut-off; the caller then gives its own browser a new one), in one transaction. Grants
/// stay. `false` when the user is gone.
pub async fn change_password(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, hash: &str, now: i64, now_ms: i64) -> Result<bool, StoreError> {
    let out = db
        .batch(vec![
            Statement::new(sql::USER_SET_PASSWORD, vec![tenant.into(), workspace.into(), user_id.into(), hash.into(), now.into()]),
            Statement::new(sql::SESSION_CUTOFF_SET, vec![tenant.into(), workspace.into(), user_id.into(), now_ms.into()]),
        ])
        .await?;
    Ok(out.first().is_some_and(|rows| !rows.is_empty()))
}

pub struct SqlSessionStore<S: SqlDatabase> {
    pub db: S,
}

impl<S: SqlDatabase> SessionStore for SqlSessionStore<S> {
    async fn create(&self, session: &SsoSession) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).map_err(|e| StoreError::new(e.to_string()))?;
        // Rows that expired before this login are swept on the way in; readers check `expires_at`.
        self.db
            .batch(vec![
                Statement::new(sql::SESSIONS_PURGE_EXPIRED, vec![session.auth_time.into()]),
                Statement::new(sql::SESSION_INSERT, vec![(&session.sid).into(), json.into(), session.expires_at.into()]),
            ])
            .await
            .map(|_| ())
    }

    async fn get(&self, sid: &str) -> Result<Option<SsoSession>, StoreError> {
        let rows = self.db.query(Statement::new(sql::SESSION_GET, vec![sid.into()])).await?;
        match rows.first().and_then(|r| r.text("session")) {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| StoreError::new(format!("stored session is invalid: {e}"))),
        }
    }

    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        self.db.query(Statement::new(sql::SESSION_DELETE, vec![sid.into()])).await.map(|_| ())
    }
}

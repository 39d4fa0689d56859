//! SSO sessions in a SQLite-family table, for runtimes without Durable Objects (Spin, native).
//! A delete is immediately visible to every reader: the table lives in one database.

use super::sql;
use crate::runtime::{SessionStore, SqlDatabase, SsoSession, Statement, StoreError};

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

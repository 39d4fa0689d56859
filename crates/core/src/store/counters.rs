//! Counters in a SQLite-family table, for runtimes without Durable Objects (Spin, native). An
//! increment is one transaction (sweep, upsert, lifetime), so concurrent increments never lose a
//! count; on Spin every instance opens the same database, so this holds across instances too.

use super::sql;
use crate::runtime::{Counter, CounterStore, Lifetime, SqlDatabase, SqlRow, Statement, StoreError};

pub struct SqlCounterStore<S: SqlDatabase> {
    pub db: S,
}

fn counter(row: &SqlRow) -> Result<Counter, StoreError> {
    let int = |c: &str| row.int(c).ok_or_else(|| StoreError::new(format!("counter column {c} is missing")));
    Ok(Counter { count: int("hits")?, last_at: int("last_at")?, expires_at: int("expires_at")? })
}

impl<S: SqlDatabase> CounterStore for SqlCounterStore<S> {
    async fn get(&self, key: &str, now: i64) -> Result<Option<Counter>, StoreError> {
        let rows = self.db.query(Statement::new(sql::COUNTER_GET, vec![key.into(), now.into()])).await?;
        rows.first().map(counter).transpose()
    }

    async fn increment(&self, key: &str, now: i64, lifetime: Lifetime<'_>) -> Result<Counter, StoreError> {
        let results = self
            .db
            .batch(vec![
                Statement::new(sql::COUNTERS_PURGE_EXPIRED, vec![now.into()]),
                Statement::new(sql::COUNTER_UPSERT, vec![key.into(), now.into()]),
                Statement::new(sql::COUNTER_SET_LIFETIME, vec![key.into(), now.into(), lifetime.to_json().into()]),
            ])
            .await?;
        let row = results.last().and_then(|rows| rows.first()).ok_or_else(|| StoreError::new("the counter increment returned no row"))?;
        counter(row)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.db.query(Statement::new(sql::COUNTER_DELETE, vec![key.into()])).await.map(|_| ())
    }

    fn reads_are_local(&self) -> bool {
        true
    }
}

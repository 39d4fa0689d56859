//! `SqlDatabase` on rusqlite: one connection behind a mutex, the schema from `migrations/`.

use edgeauth_core::runtime::{SqlDatabase, SqlRow, SqlValue, Statement, StoreError};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// A SQLite database. Cloning shares the connection (so a store built on top of it, such as a
/// SQL session store, can own a handle while the runtime keeps its own).
///
/// One connection serialises every statement, which is also what D1 does (a single writer).
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteDb {
    /// A private in-memory database with every migration applied.
    pub fn in_memory() -> Result<SqliteDb, StoreError> {
        SqliteDb::init(Connection::open_in_memory().map_err(err)?)
    }

    /// A database file (created if missing); migrations not yet applied to it are applied.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteDb, StoreError> {
        SqliteDb::init(Connection::open(path).map_err(err)?)
    }

    fn init(mut conn: Connection) -> Result<SqliteDb, StoreError> {
        // D1 enforces foreign keys; match it. The busy timeout only matters for shared files.
        conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        // `user_version` counts the migrations applied, so reopening a file applies only new ones.
        let applied: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(err)? as usize;
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(|e| StoreError::new(format!("migration {name}: {e}")))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(SqliteDb { conn: Arc::new(Mutex::new(conn)) })
    }

    /// A private in-memory copy of this database as it is now: a read replica that has caught up
    /// to this moment and then stops (the tests of replica reads, `crates/core/tests/hot_paths.rs`).
    pub fn snapshot(&self) -> Result<SqliteDb, StoreError> {
        let mut copy = Connection::open_in_memory().map_err(err)?;
        {
            let source = self.lock();
            rusqlite::backup::Backup::new(&source, &mut copy).map_err(err)?.run_to_completion(i32::MAX, std::time::Duration::ZERO, None).map_err(err)?;
        }
        Ok(SqliteDb { conn: Arc::new(Mutex::new(copy)) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock leaves SQLite itself consistent: carry on.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SqlDatabase for SqliteDb {
    async fn query(&self, stmt: Statement) -> Result<Vec<SqlRow>, StoreError> {
        run(&self.lock(), &stmt)
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<SqlRow>>, StoreError> {
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock up front, as D1's batch does; dropping `tx` without
        // commit (the `?` below) rolls everything back.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut results = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            results.push(run(&tx, stmt)?);
        }
        tx.commit().map_err(err)?;
        Ok(results)
    }
}

/// Runs one statement, returning its rows (none for a write without `RETURNING`).
fn run(conn: &Connection, stmt: &Statement) -> Result<Vec<SqlRow>, StoreError> {
    let mut prepared = conn.prepare_cached(stmt.sql).map_err(err)?;
    let names: Vec<String> = prepared.column_names().into_iter().map(String::from).collect();
    let params = stmt.params.iter().map(|v| match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Text(s) => Value::Text(s.clone()),
    });
    let mut rows = prepared.query(rusqlite::params_from_iter(params)).map_err(err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut cols = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i).map_err(err)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(n) => SqlValue::Integer(n),
                // SqlValue has no REAL: D1 hands numbers to JS anyway; text keeps the value exact.
                ValueRef::Real(f) => SqlValue::Text(f.to_string()),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                // The schema stores binary data as base64 text; a BLOB means a statement is wrong
                // and would behave differently on D1, so refuse it here rather than paper over it.
                ValueRef::Blob(_) => return Err(StoreError::new(format!("column '{name}' is a BLOB; store base64 text instead"))),
            };
            cols.push((name.clone(), value));
        }
        out.push(SqlRow(cols));
    }
    Ok(out)
}

/// SQLite's own message, classified by its extended result code (a collision of a primary or
/// unique key is its own kind of error).
fn err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.extended_code, ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => StoreError::UniqueViolation(e.to_string()),
        _ => StoreError::new(e.to_string()),
    }
}

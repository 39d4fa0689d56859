//! Spin's own interfaces at the version spin-sdk 5 imports (`fermyon:spin/*@2.0.0`), backed by
//! real SQLite the way `spin up` backs them by default:
//!
//! - key-value: one SQLite file holding every store's pairs (Spin's `sqlite_key_value.db`);
//! - sqlite: one database file per label, and a new connection for every `open`, with no pragmas
//!   set by the host (no busy timeout, default journal mode), as Spin's in-process SQLite does;
//! - variables: the component's variables as the manifest resolved them.
//!
//! Labels the manifest does not grant answer `access-denied`; granted labels this host cannot
//! provide were refused at start (as Spin refuses them without a runtime configuration).

use crate::State;
use rusqlite::types::{Value as SqlValue, ValueRef};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use wasmtime::component::Resource;

wasmtime::component::bindgen!({
    path: "wit",
    world: "edgeauth:spin-host/host",
    with: {
        "fermyon:spin/key-value.store": KvHandle,
        "fermyon:spin/sqlite.connection": SqlHandle,
    },
});

use fermyon::spin::{key_value, sqlite, variables};

/// What every instance of the component shares.
pub struct SpinStores {
    pub kv: Mutex<rusqlite::Connection>,
    pub kv_labels: HashSet<String>,
    /// Database label -> file.
    pub databases: HashMap<String, PathBuf>,
    pub variables: HashMap<String, String>,
}

impl SpinStores {
    pub fn open_kv(path: &PathBuf) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))")?;
        Ok(conn)
    }

    pub fn kv_set(&self, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
        let conn = self.kv.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            rusqlite::params![store, key, value],
        )?;
        Ok(())
    }
}

pub struct KvHandle(String);
pub struct SqlHandle(rusqlite::Connection);

fn kv_err(e: impl std::fmt::Display) -> key_value::Error {
    key_value::Error::Other(e.to_string())
}

impl key_value::Host for State {}

impl key_value::HostStore for State {
    fn open(&mut self, label: String) -> Result<Resource<KvHandle>, key_value::Error> {
        if !self.stores.kv_labels.contains(&label) {
            return Err(key_value::Error::AccessDenied);
        }
        self.table.push(KvHandle(label)).map_err(kv_err)
    }
    fn get(&mut self, h: Resource<KvHandle>, key: String) -> Result<Option<Vec<u8>>, key_value::Error> {
        let store = &self.table.get(&h).map_err(kv_err)?.0;
        let conn = self.stores.kv.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2").map_err(kv_err)?;
        let mut rows = stmt.query(rusqlite::params![store, key]).map_err(kv_err)?;
        match rows.next().map_err(kv_err)? {
            Some(row) => Ok(Some(row.get(0).map_err(kv_err)?)),
            None => Ok(None),
        }
    }
    fn set(&mut self, h: Resource<KvHandle>, key: String, value: Vec<u8>) -> Result<(), key_value::Error> {
        let store = self.table.get(&h).map_err(kv_err)?.0.clone();
        self.stores.kv_set(&store, &key, &value).map_err(kv_err)
    }
    fn delete(&mut self, h: Resource<KvHandle>, key: String) -> Result<(), key_value::Error> {
        let store = &self.table.get(&h).map_err(kv_err)?.0;
        let conn = self.stores.kv.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2", rusqlite::params![store, key]).map_err(kv_err)?;
        Ok(())
    }
    fn exists(&mut self, h: Resource<KvHandle>, key: String) -> Result<bool, key_value::Error> {
        Ok(self.get(h, key)?.is_some())
    }
    fn get_keys(&mut self, h: Resource<KvHandle>) -> Result<Vec<String>, key_value::Error> {
        let store = &self.table.get(&h).map_err(kv_err)?.0;
        let conn = self.stores.kv.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1").map_err(kv_err)?;
        let keys = stmt.query_map([store], |r| r.get(0)).map_err(kv_err)?.collect::<Result<Vec<String>, _>>().map_err(kv_err)?;
        Ok(keys)
    }
    fn drop(&mut self, rep: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// Spin reports every SQLite failure as `io(message)`.
fn io_err(e: impl std::fmt::Display) -> sqlite::Error {
    sqlite::Error::Io(e.to_string())
}

/// Runs one statement (only the first, if the text holds several: Spin prepares, it does not batch).
fn execute(conn: &rusqlite::Connection, statement: &str, parameters: Vec<sqlite::Value>) -> Result<sqlite::QueryResult, sqlite::Error> {
    let mut stmt = conn.prepare_cached(statement).map_err(io_err)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_string).collect();
    let params = parameters.into_iter().map(|v| match v {
        sqlite::Value::Integer(i) => SqlValue::Integer(i),
        sqlite::Value::Real(f) => SqlValue::Real(f),
        sqlite::Value::Text(s) => SqlValue::Text(s),
        sqlite::Value::Blob(b) => SqlValue::Blob(b),
        sqlite::Value::Null => SqlValue::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io_err)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match row.get_ref(i).map_err(io_err)? {
                ValueRef::Null => sqlite::Value::Null,
                ValueRef::Integer(i) => sqlite::Value::Integer(i),
                ValueRef::Real(f) => sqlite::Value::Real(f),
                ValueRef::Text(t) => sqlite::Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => sqlite::Value::Blob(b.to_vec()),
            });
        }
        out.push(sqlite::RowResult { values });
    }
    Ok(sqlite::QueryResult { columns, rows: out })
}

impl sqlite::Host for State {}

impl sqlite::HostConnection for State {
    fn open(&mut self, database: String) -> Result<Resource<SqlHandle>, sqlite::Error> {
        let Some(path) = self.stores.databases.get(&database) else {
            return Err(sqlite::Error::AccessDenied);
        };
        let conn = rusqlite::Connection::open(path).map_err(|_| sqlite::Error::InvalidConnection)?;
        self.table.push(SqlHandle(conn)).map_err(io_err)
    }
    fn execute(&mut self, handle: Resource<SqlHandle>, statement: String, parameters: Vec<sqlite::Value>) -> Result<sqlite::QueryResult, sqlite::Error> {
        let conn = &self.table.get(&handle).map_err(|_| sqlite::Error::InvalidConnection)?.0;
        // A statement may wait on another instance's write lock (a busy timeout the component
        // set): let tokio move other requests off this worker meanwhile, as Spin's spawn_blocking does.
        tokio::task::block_in_place(|| execute(conn, &statement, parameters))
    }
    fn drop(&mut self, rep: Resource<SqlHandle>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl variables::Host for State {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.stores.variables.get(&name).cloned().ok_or_else(|| variables::Error::Undefined(format!("no variable for {name:?}")))
    }
}

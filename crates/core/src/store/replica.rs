//! Reads that a database read replica may answer (D1's read replication), and the bound on how
//! stale such an answer may be.
//!
//! D1 replicates asynchronously and states no bound on a replica's lag, so the engine keeps its
//! own: a one-row clock (`replica_clock`) that the primary holds. A replica read asks the replica
//! for its copy of the clock in the same round trip. Commits reach a replica in order, so a replica
//! whose clock says `t` holds every commit made before `t`; an answer is used only when that `t`
//! is within [`STALENESS_BOUND_MS`] of now, so no write (a revocation above all) older than the
//! bound can be missing from it. Otherwise the statements go to the primary, in one batch that
//! also moves the clock to now: once the replicas catch up with that write, their answers are
//! fresh again. Under steady traffic that is one primary round trip per bound per database, and
//! none while the clock is fresh.
//!
//! An answer that may only be missing because a row is new (a client registered a moment ago, a
//! grant issued by the previous request) is not trusted from a replica: the caller says which
//! answers are settled, and an unsettled one is asked of the primary.

use super::sql;
use crate::runtime::{SqlDatabase, SqlRow, Statement, StoreError};

/// How old a replica's view of the database may be when its answer is used: a revocation (of a
/// grant, an access token, a client, a user's sessions) is seen by every replica read at most this
/// long after it was committed.
pub const STALENESS_BOUND_MS: i64 = 30_000;

/// Where a read that may be served by a replica is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A replica within [`STALENESS_BOUND_MS`] may answer (the protocol endpoints).
    Bounded,
    /// The primary answers (pages that change an account, which must not act on a stale view).
    Latest,
}

/// Runs read-only `stmts` in one round trip on a read replica when the database has one near and
/// its view is within [`STALENESS_BOUND_MS`]; else on the primary. `settled` says whether a
/// replica's rows can be used as they are; rows it refuses are read again from the primary.
pub async fn read(db: &impl SqlDatabase, now_ms: i64, mut stmts: Vec<Statement>, settled: impl Fn(&[Vec<SqlRow>]) -> bool) -> Result<Vec<Vec<SqlRow>>, StoreError> {
    stmts.push(Statement::new(sql::REPLICA_CLOCK_GET, vec![]));
    let replica = db.read_replica(&stmts).await;
    stmts.pop();
    // No replicas: the primary, without the clock.
    let Some(rows) = replica else { return db.batch(stmts).await };
    let mut rows = rows?;
    let clock = rows.pop().and_then(|r| r.first().and_then(|r| r.int("at_ms")));
    if !fresh(clock, now_ms) {
        // Too stale: the primary answers, and moves the clock so caught-up replicas answer again.
        stmts.push(Statement::new(sql::REPLICA_CLOCK_SET, vec![now_ms.into()]));
        let mut rows = db.batch(stmts).await?;
        rows.pop();
        return Ok(rows);
    }
    if settled(&rows) {
        Ok(rows)
    } else {
        db.batch(stmts).await
    }
}

/// [`read`] of one statement, returning its rows; with [`Freshness::Latest`] the primary answers.
pub async fn read_one(db: &impl SqlDatabase, now_ms: i64, freshness: Freshness, stmt: Statement, settled: impl Fn(&[SqlRow]) -> bool) -> Result<Vec<SqlRow>, StoreError> {
    match freshness {
        Freshness::Latest => db.query(stmt).await,
        Freshness::Bounded => {
            let rows = read(db, now_ms, vec![stmt], |rows| settled(rows.first().map(Vec::as_slice).unwrap_or_default())).await?;
            Ok(rows.into_iter().next().unwrap_or_default())
        }
    }
}

/// A replica whose clock reads `clock` holds every commit made before it: fresh enough when that
/// is at most [`STALENESS_BOUND_MS`] ago. A replica without the clock row has never seen it written.
fn fresh(clock: Option<i64>, now_ms: i64) -> bool {
    clock.is_some_and(|at| now_ms - at <= STALENESS_BOUND_MS)
}

/// `settled` for a statement whose answer is final whether or not it found a row (an absence the
/// bound covers, like "no sign-out cut-off").
pub fn always(_: &[SqlRow]) -> bool {
    true
}

/// `settled` for a statement that finds a row that may be new: its absence is asked of the primary.
pub fn found(rows: &[SqlRow]) -> bool {
    !rows.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_fresh_within_the_bound_only() {
        let now = 1_000_000_000;
        assert!(fresh(Some(now), now));
        assert!(fresh(Some(now - STALENESS_BOUND_MS), now));
        assert!(!fresh(Some(now - STALENESS_BOUND_MS - 1), now));
        assert!(!fresh(None, now), "a replica that never saw the clock written");
        // A writer whose clock ran ahead of ours still counts as fresh.
        assert!(fresh(Some(now + 5_000), now));
    }

    #[test]
    fn found_needs_a_row() {
        assert!(!found(&[]));
        assert!(found(&[SqlRow(vec![])]));
        assert!(always(&[]));
    }
}

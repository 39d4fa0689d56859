-- How stale a D1 read replica may be (crates/core/src/store/replica.rs). One row, written on the
-- primary with the writer's clock whenever a replica was found too stale; a replica's copy of it
-- says up to when that replica holds every commit. Idempotent, as every migration here.
CREATE TABLE IF NOT EXISTS replica_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at_ms INTEGER NOT NULL
);

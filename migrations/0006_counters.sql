-- Atomic counters that expire (crates/core/src/store/counters.rs): failed sign-ins and client
-- authentications per account, client and address, and the posts of each login form
-- (crates/core/src/authn/throttle.rs). Spin and the native runtime keep them here; Workers keep
-- each in a Durable Object, so D1 gets this table with the one schema and leaves it empty.
-- `id` is the counter's key as the engine builds it (hashes and addresses, never a raw username).
CREATE TABLE IF NOT EXISTS counters (
  id TEXT PRIMARY KEY,
  hits INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at);

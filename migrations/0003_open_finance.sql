-- Pushed authorization requests (RFC 9126) and Open Finance Brasil consents.
-- Like codes, a request_uri is single use: it is consumed with one UPDATE ... RETURNING, so
-- exactly one concurrent authorization request wins it. Never in KV (no compare-and-swap there).

CREATE TABLE IF NOT EXISTS pushed_requests (
  -- SHA-256 (base64url) of the random part of `urn:ietf:params:oauth:request_uri:...`.
  uri_hash TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  -- The validated authorization request (JSON), as the authorization endpoint continues it.
  request TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);

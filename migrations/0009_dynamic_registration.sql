-- Dynamic client registration (RFC 7591 / RFC 7592, crates/core/src/management/registration.rs).
-- Idempotent, as every migration here: Spin applies them all at each start. The registered
-- clients themselves are ordinary rows of `clients`.

-- Initial access tokens an administrator minted for a workspace (the management API): stored as
-- SHA-256 hashes, shown once. Each allows `max_uses` registrations before `expires_at`; a use is
-- counted with one UPDATE ... RETURNING, so concurrent registrations cannot exceed it.
CREATE TABLE IF NOT EXISTS dcr_initial_access_tokens (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, id)
);

-- One row per dynamically registered client: the SHA-256 hash of its registration access token
-- (RFC 7592), and the initial access token it was registered with (NULL: open registration).
-- Deleting the client (either API) deletes the row.
CREATE TABLE IF NOT EXISTS dcr_registrations (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  initial_access_token TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, client_id)
);
